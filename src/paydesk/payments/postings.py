"""The journals of channel payments and refunds. Every movement is one balanced journal whose
idempotency key is derived from the attempt or refund, so running it twice posts once.

Accounts (per merchant and currency; ``channel_account`` accounts per channel account):

    channel_account/clearing   what the channel owes us for payments it collected (unbounded:
                               it goes negative as payers pay, positive as refunds go back)
    merchant/receivable        what the platform owes the merchant for channel payments
    merchant/refunds_pending   refunds accepted and sent to the channel, not confirmed yet

    payment succeeded   clearing -> receivable
    refund accepted     receivable -> refunds_pending      (money set aside: cannot be spent)
    refund succeeded    refunds_pending -> clearing
    refund failed       refunds_pending -> receivable      (set-aside money returns)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule, LedgerAccount
from paydesk.ledger.posting import post_journal
from paydesk.payments.models import PaymentAttempt, Refund

MERCHANT_SLOTS = 8
"""Slots of the merchant's receivable: payments of one merchant rarely meet on a row."""


def clearing_account(
    session: Session, merchant_id: str, channel_account_id: str, currency: str
) -> LedgerAccount:
    spec = AccountSpec(merchant_id, "channel_account", channel_account_id, "clearing", currency)
    return ensure_account(session, spec, floor_rule=FloorRule.UNBOUNDED, slots=MERCHANT_SLOTS)


def receivable_account(session: Session, merchant_id: str, currency: str) -> LedgerAccount:
    spec = AccountSpec(merchant_id, "merchant", merchant_id, "receivable", currency)
    return ensure_account(session, spec, slots=MERCHANT_SLOTS)


def refunds_pending_account(session: Session, merchant_id: str, currency: str) -> LedgerAccount:
    spec = AccountSpec(merchant_id, "merchant", merchant_id, "refunds_pending", currency)
    return ensure_account(session, spec)


def _move(
    session: Session,
    merchant_id: str,
    key: str,
    kind: str,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: int,
    currency: str,
    meta: dict[str, str],
) -> str:
    posted = post_journal(
        session,
        merchant_id=merchant_id,
        idempotency_key=key,
        legs=[Leg(source.id, -amount, currency), Leg(target.id, amount, currency)],
        kind=kind,
        meta=meta,
    )
    return posted.journal.id


def post_payment(session: Session, attempt: PaymentAttempt) -> str:
    """A channel payment succeeded: clearing -> receivable. Returns the journal id."""
    assert attempt.channel_account_id is not None, "a channel attempt has an account"
    return _move(
        session,
        attempt.merchant_id,
        f"payment:{attempt.id}",
        "payment.channel",
        clearing_account(
            session, attempt.merchant_id, attempt.channel_account_id, attempt.currency
        ),
        receivable_account(session, attempt.merchant_id, attempt.currency),
        attempt.amount_minor,
        attempt.currency,
        {"order_id": attempt.order_id, "attempt_id": attempt.id, "channel": attempt.channel},
    )


def _refund_meta(refund: Refund) -> dict[str, str]:
    return {"order_id": refund.order_id, "attempt_id": refund.attempt_id, "refund_id": refund.id}


def reserve_refund(session: Session, refund: Refund) -> str:
    """A channel refund was accepted: receivable -> refunds pending (``exceeds_floor`` when
    the merchant's receivable cannot cover it)."""
    return _move(
        session,
        refund.merchant_id,
        f"refund:{refund.id}:reserve",
        "refund.reserve",
        receivable_account(session, refund.merchant_id, refund.currency),
        refunds_pending_account(session, refund.merchant_id, refund.currency),
        refund.amount_minor,
        refund.currency,
        _refund_meta(refund),
    )


def complete_refund(session: Session, refund: Refund) -> str:
    """The channel paid the refund back: refunds pending -> clearing."""
    assert refund.channel_account_id is not None, "a channel refund has an account"
    return _move(
        session,
        refund.merchant_id,
        f"refund:{refund.id}:paid",
        "refund.channel",
        refunds_pending_account(session, refund.merchant_id, refund.currency),
        clearing_account(session, refund.merchant_id, refund.channel_account_id, refund.currency),
        refund.amount_minor,
        refund.currency,
        _refund_meta(refund),
    )


def release_refund(session: Session, refund: Refund) -> str:
    """The channel refused the refund: the set-aside money returns to the receivable."""
    return _move(
        session,
        refund.merchant_id,
        f"refund:{refund.id}:release",
        "refund.release",
        refunds_pending_account(session, refund.merchant_id, refund.currency),
        receivable_account(session, refund.merchant_id, refund.currency),
        refund.amount_minor,
        refund.currency,
        _refund_meta(refund),
    )
