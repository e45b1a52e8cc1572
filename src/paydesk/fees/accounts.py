"""The ledger accounts fees and costs move between (per merchant and currency), and the one
way they post (docs/fees.md):

    merchant fee    merchant/receivable  -> platform/fees/fee_income
    channel cost    <payer>              -> <payee's payable>
                    payer:  platform/fees/channel_costs (the platform bears it), or the
                            merchant's receivable (``payer: merchant``: passed through)
                    payable: channel_account/<id>/cost_payable (payee ``channel``), or
                            fee_payee/<payee>:<channel account>/cost_payable
    remittance      <payable>            -> channel_account/<id>/clearing (``by: netting``:
                                            the channel deducts it from its settlement)
                                         or platform/fees/remitted (``by: transfer``)

The payments module owns the receivable and clearing accounts; it hands them in as
:class:`Books`. A return, a lowering adjustment or a negative remittance moves the other way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from paydesk.fees.remittance_rules import PAYEE_CHANNEL, RemittanceRule
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule, LedgerAccount
from paydesk.ledger.posting import post_journal

MERCHANT_FEE = "merchant_fee"
CHANNEL_COST = "channel_cost"
FEE_INCOME = ("platform", "fees", "fee_income")
CHANNEL_COSTS = ("platform", "fees", "channel_costs")
REMITTED = ("platform", "fees", "remitted")


@dataclass(frozen=True, slots=True)
class Books:
    """The payments module's accounts, handed in: the merchant's receivable by currency, and
    a channel account's clearing by (channel account, currency): None where no channel
    account can be involved (a wallet payout)."""

    receivable: Callable[[str], LedgerAccount]
    clearing: Callable[[str, str], LedgerAccount] | None


def fee_account(
    session: Session, merchant_id: str, spec: tuple[str, str, str], ccy: str
) -> LedgerAccount:
    owner_type, owner_id, kind = spec
    return ensure_account(
        session,
        AccountSpec(merchant_id, owner_type, owner_id, kind, ccy),
        floor_rule=FloorRule.UNBOUNDED,
    )


def payable_spec(channel_account_id: str, rule: RemittanceRule | None) -> tuple[str, str, str]:
    """Where a cost is owed: the channel account's payable, or the named payee's for it."""
    if rule is None or rule.payee == PAYEE_CHANNEL:
        return ("channel_account", channel_account_id, "cost_payable")
    return ("fee_payee", f"{rule.payee}:{channel_account_id}", "cost_payable")


def legs(
    session: Session,
    kind: str,
    merchant_id: str,
    channel_account_id: str | None,
    ccy: str,
    books: Books,
    rule: RemittanceRule | None = None,
) -> tuple[LedgerAccount, LedgerAccount]:
    """(source, target) of a charge of ``kind``; a return swaps them."""
    if kind == MERCHANT_FEE:
        return books.receivable(ccy), fee_account(session, merchant_id, FEE_INCOME, ccy)
    assert channel_account_id is not None
    if rule is not None and rule.payer == "merchant":
        source = books.receivable(ccy)
    else:
        source = fee_account(session, merchant_id, CHANNEL_COSTS, ccy)
    payable = fee_account(session, merchant_id, payable_spec(channel_account_id, rule), ccy)
    return source, payable


def funding(
    session: Session,
    merchant_id: str,
    channel_account_id: str,
    ccy: str,
    books: Books,
    rule: RemittanceRule,
) -> LedgerAccount:
    """What a remittance is paid from: netted from the channel's clearing, or transferred."""
    if rule.by == "netting":
        assert books.clearing is not None, "a channel cost needs the channel's clearing"
        return books.clearing(channel_account_id, ccy)
    return fee_account(session, merchant_id, REMITTED, ccy)


def post_move(
    session: Session,
    merchant_id: str,
    key: str,
    kind: str,
    source: LedgerAccount,
    target: LedgerAccount,
    amount: int,
    ccy: str,
    meta: dict[str, str],
) -> str | None:
    """One balanced journal moving ``amount`` from source to target; None for 0 or less."""
    if amount <= 0:
        return None
    posted = post_journal(
        session,
        merchant_id=merchant_id,
        idempotency_key=key,
        legs=[Leg(source.id, -amount, ccy), Leg(target.id, amount, ccy)],
        kind=kind,
        meta=meta,
    )
    return posted.journal.id
