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

A ``wallet_recharge`` order's money is the user's, not the merchant's: its payment goes from
clearing to the user's cash in the wallet of the order's app (the wallet's ``saved`` total
counts it), and its refunds come out of that cash (``exceeds_floor`` once spent).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule, LedgerAccount
from paydesk.ledger.posting import post_journal
from paydesk.payments.models import Order, PaymentAttempt, Refund
from paydesk.payments.orders import OrderPurpose
from paydesk.wallet.accounts import Part, WalletRef, resolve_currency, user_account

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


def _owner_account(session: Session, order: Order) -> tuple[LedgerAccount, str]:
    """Whose money a payment of ``order`` is, and the journal kind's suffix: the merchant's
    receivable, or the user's wallet cash for a wallet recharge."""
    if order.purpose == OrderPurpose.WALLET_RECHARGE:
        assert order.app_id is not None and order.user_id is not None
        ref = WalletRef(order.merchant_id, order.app_id, order.user_id)
        currency = resolve_currency(session, order.app_id, order.currency)
        return user_account(session, ref, Part.CASH, currency), "wallet_recharge"
    return receivable_account(session, order.merchant_id, order.currency), "channel"


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


def post_payment(session: Session, attempt: PaymentAttempt, order: Order) -> str:
    """A channel payment succeeded: clearing -> receivable (or the user's wallet). Returns
    the journal id."""
    assert attempt.channel_account_id is not None, "a channel attempt has an account"
    owner, kind = _owner_account(session, order)
    return _move(
        session,
        attempt.merchant_id,
        f"payment:{attempt.id}",
        f"payment.{kind}",
        clearing_account(
            session, attempt.merchant_id, attempt.channel_account_id, attempt.currency
        ),
        owner,
        attempt.amount_minor,
        attempt.currency,
        {"order_id": attempt.order_id, "attempt_id": attempt.id, "channel": attempt.channel},
    )


def _refund_meta(refund: Refund) -> dict[str, str]:
    return {"order_id": refund.order_id, "attempt_id": refund.attempt_id, "refund_id": refund.id}


def reserve_refund(session: Session, refund: Refund, order: Order) -> str:
    """A channel refund was accepted: receivable (or the user's wallet) -> refunds pending
    (``exceeds_floor`` when it cannot cover it)."""
    owner, kind = _owner_account(session, order)
    return _move(
        session,
        refund.merchant_id,
        f"refund:{refund.id}:reserve",
        f"refund.reserve.{kind}",
        owner,
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


def release_refund(session: Session, refund: Refund, order: Order) -> str:
    """The channel refused the refund: the set-aside money returns where it came from."""
    owner, kind = _owner_account(session, order)
    return _move(
        session,
        refund.merchant_id,
        f"refund:{refund.id}:release",
        f"refund.release.{kind}",
        refunds_pending_account(session, refund.merchant_id, refund.currency),
        owner,
        refund.amount_minor,
        refund.currency,
        _refund_meta(refund),
    )
