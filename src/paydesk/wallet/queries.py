"""Reading wallets: balances by part, statements, and lifetime totals per user."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from paydesk.ledger import accounts as ledger_accounts
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.accounts import Statement
from paydesk.ledger.models import Entry, Journal, LedgerAccount
from paydesk.merchants.service import get_app
from paydesk.wallet.accounts import Part, WalletRef, check_ref
from paydesk.wallet.errors import WalletNotFound


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    currency: str
    balance: int
    """Posted balance of all parts, minor units."""
    available: int
    """Balance minus pending withdrawals."""
    pending: int
    paid: int
    """Coins: the bought part."""
    gifted: int
    """Coins: the gifted part."""
    frozen: bool


@dataclass(frozen=True, slots=True)
class Totals:
    currency: str
    saved: int
    """Recharged over the wallet's life, prepaid cards redeemed into it included."""
    spent: int
    """Consumed, net of cancelled consumption."""
    presented: int
    """Received as gifts."""
    expired: int
    withdrawn: int


_KIND_TO_TOTAL = {
    "wallet.recharge": "saved",
    "prepaid.redeem": "saved",  # a redeemed card recharges the wallet
    "wallet.consume": "spent",
    # A wallet_recharge order paid through a channel, and its refunds (set aside, released).
    "payment.wallet_recharge": "saved",
    "refund.reserve.wallet_recharge": "saved",
    "refund.release.wallet_recharge": "saved",
    # An order refunded to the wallet gives back what it spent (a positive leg lowers "spent").
    "refund.balance": "spent",
    "refund.points": "spent",
    "refund.points_cash": "spent",
    "wallet.present": "presented",
    "wallet.expire": "expired",
    "hold_post": "withdrawn",
}


def user_accounts(session: Session, ref: WalletRef) -> list[LedgerAccount]:
    check_ref(session, ref)
    found = ledger_repo.accounts_of_owner(
        session, ref.merchant_id, app_id=ref.app_id, owner_type="user", owner_id=ref.user_id
    )
    return [account for account in found if account.zone == ref.zone]


def balances(session: Session, ref: WalletRef) -> list[CurrencyBalance]:
    """One line per currency the user holds; empty for a user never seen."""
    accounts = user_accounts(session, ref)
    found = ledger_accounts.balances(session, accounts)
    by_currency: dict[str, list[LedgerAccount]] = defaultdict(list)
    for account in accounts:
        by_currency[account.currency].append(account)
    lines = []
    for currency, group in sorted(by_currency.items()):
        parts = {account.kind: found[account.id] for account in group}
        paid = parts.get(Part.PAID.value)
        gifted = parts.get(Part.GIFTED.value)
        lines.append(
            CurrencyBalance(
                currency=currency,
                balance=sum(b.balance for b in parts.values()),
                available=sum(b.available for b in parts.values()),
                pending=sum(b.pending_debit for b in parts.values()),
                paid=paid.balance if paid else 0,
                gifted=gifted.balance if gifted else 0,
                frozen=any(account.status == "frozen" for account in group),
            )
        )
    return lines


def balance_of(session: Session, ref: WalletRef, currency: str) -> CurrencyBalance:
    for line in balances(session, ref):
        if line.currency == currency:
            return line
    return CurrencyBalance(currency, 0, 0, 0, 0, 0, False)


def statement(
    session: Session,
    ref: WalletRef,
    currency: str,
    part: Part,
    *,
    posted_from: datetime | None = None,
    posted_before: datetime | None = None,
    after_entry_id: int | None = None,
    limit: int = 50,
) -> Statement:
    for account in user_accounts(session, ref):
        if account.currency == currency and account.kind == part.value:
            return ledger_accounts.statement(
                session,
                ref.merchant_id,
                account.id,
                posted_from=posted_from,
                posted_before=posted_before,
                after_entry_id=after_entry_id,
                limit=limit,
            )
    raise WalletNotFound(f"the user has no {part.value} account in {currency}")


def totals(session: Session, ref: WalletRef) -> list[Totals]:
    """Saved, spent, presented, expired and withdrawn per currency, from the journals; a
    reversal (a cancelled consumption, say) counts against the total of what it reverses."""
    accounts = user_accounts(session, ref)
    if not accounts:
        return []
    original = aliased(Journal)
    kind = sa.func.coalesce(original.kind, Journal.kind)
    rows = session.execute(
        sa.select(Entry.currency, kind, sa.func.sum(Entry.amount))
        .join(Journal, Journal.id == Entry.journal_id)
        .outerjoin(original, original.id == Journal.reverses_id)
        .where(Entry.account_id.in_([account.id for account in accounts]))
        .group_by(Entry.currency, kind)
    ).all()
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for currency, journal_kind, amount in rows:
        name = _KIND_TO_TOTAL.get(journal_kind)
        if name is not None:
            # Money leaving the wallet (spent, expired, withdrawn) is negative on its accounts.
            sign = 1 if name in {"saved", "presented"} else -1
            sums[currency][name] += sign * int(amount)
    return [
        Totals(currency, s["saved"], s["spent"], s["presented"], s["expired"], s["withdrawn"])
        for currency, s in sorted(sums.items())
    ]


@dataclass(frozen=True, slots=True)
class MerchantBalance:
    account_id: str
    app_id: str
    kind: str
    """The counterpart: funding, promotion, revenue, revenue_gifted, payouts, expired, ..."""
    currency: str
    balance: int
    available: int


def merchant_balances(
    session: Session, merchant_id: str, app_id: str | None = None
) -> list[MerchantBalance]:
    """The merchant's own wallet: its side of every user operation, per app, kind, currency."""
    if app_id is not None:
        get_app(session, merchant_id, app_id)
    accounts = ledger_repo.accounts_of_owner(
        session, merchant_id, app_id=app_id, owner_type="merchant", owner_id=merchant_id
    )
    found = ledger_accounts.balances(session, list(accounts))
    return [
        MerchantBalance(
            account.id,
            account.app_id,
            account.kind,
            account.currency,
            found[account.id].balance,
            found[account.id].available,
        )
        for account in accounts
    ]
