"""Remitting channel costs to their payee under the agreement's remittance rule
(``fees/remittance_rules.py``, docs/fees.md "Remittance").

* ``per_transaction``: each cost journal is followed, in the same transaction, by a
  remittance of the same amount (a return by a negative one), keyed by the cost's journal.
* ``daily`` and ``monthly``: after a period ends, :func:`remit_period` pays, for each payable
  account of the agreement's channel account (one per merchant and currency), what accrued
  on it before the end less everything remitted from it so far. It records the period even
  when nothing is due, so it is remitted once; an accrual posted after the end falls in the
  next period, and a period remitted late still pays exactly what is owed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.fees.accounts import Books, funding, payable_spec, post_move
from paydesk.fees.matching import Agreement
from paydesk.fees.records import FeeAgreement, FeeRemittance
from paydesk.fees.remittance_rules import PER_TRANSACTION, RemittanceRule, ended_periods
from paydesk.ledger.models import Entry, Journal, LedgerAccount

REMITTANCE_KIND = "fee.remittance"
PERIODS_PER_RUN_MAX = {"daily": 400, "monthly": 36}
"""How far back a run looks for periods not remitted yet (from the agreement's start)."""


def _remit(
    session: Session,
    *,
    rule: RemittanceRule,
    agreement_id: str,
    merchant_id: str,
    channel_account_id: str,
    payable: LedgerAccount,
    amount_minor: int,
    period_key: str,
    period: tuple[datetime, datetime] | None,
    books: Books,
) -> FeeRemittance:
    ccy = payable.currency
    source = funding(session, merchant_id, channel_account_id, ccy, books, rule)
    target = payable
    if amount_minor > 0:
        source, target = target, source
    journal_id = post_move(
        session,
        merchant_id,
        f"fee:remit:{payable.id}:{period_key}",
        REMITTANCE_KIND,
        source,
        target,
        abs(amount_minor),
        ccy,
        {"agreement_id": agreement_id, "payee": rule.payee, "period": period_key},
    )
    row = FeeRemittance(
        id=new_id("frm"),
        merchant_id=merchant_id,
        agreement_id=agreement_id,
        channel_account_id=channel_account_id,
        payee=rule.payee,
        schedule=rule.when,
        method=rule.by,
        period_key=period_key,
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        payable_account_id=payable.id,
        amount_minor=amount_minor,
        currency=ccy,
        journal_id=journal_id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def remit_with_cost(
    session: Session,
    *,
    rule: RemittanceRule | None,
    agreement_id: str,
    merchant_id: str,
    channel_account_id: str,
    payable: LedgerAccount,
    amount_minor: int,
    cost_journal_id: str | None,
    books: Books,
) -> FeeRemittance | None:
    """Under a ``per_transaction`` rule, remit a cost journal just posted (``amount_minor``
    signed: positive when it accrued to the payable)."""
    if rule is None or rule.when != PER_TRANSACTION or cost_journal_id is None:
        return None
    return _remit(
        session,
        rule=rule,
        agreement_id=agreement_id,
        merchant_id=merchant_id,
        channel_account_id=channel_account_id,
        payable=payable,
        amount_minor=amount_minor,
        period_key=f"cost:{cost_journal_id}",
        period=None,
        books=books,
    )


def _accrued_before(session: Session, account_id: str, end: datetime) -> int:
    """What the payable's journals other than remittances brought it before ``end``."""
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Entry.amount), 0))
        .join(Journal, Journal.id == Entry.journal_id)
        .where(
            Entry.account_id == account_id,
            Entry.posted_at < end,
            Journal.kind != REMITTANCE_KIND,
        )
    )
    return int(total or 0)


def _remitted(session: Session, account_id: str) -> int:
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(FeeRemittance.amount_minor), 0)).where(
            FeeRemittance.payable_account_id == account_id
        )
    )
    return int(total or 0)


def period_key(rule: RemittanceRule, start: datetime) -> str:
    return f"{start.isoformat()}/{'P1D' if rule.when == 'daily' else 'P1M'}"


def _payables(session: Session, row: FeeAgreement, rule: RemittanceRule) -> list[LedgerAccount]:
    """The payable accounts of the agreement's channel account (per merchant, currency)."""
    owner_type, owner_id, kind = payable_spec(row.party_id, rule)
    return list(
        session.scalars(
            sa.select(LedgerAccount)
            .where(
                LedgerAccount.owner_type == owner_type,
                LedgerAccount.owner_id == owner_id,
                LedgerAccount.kind == kind,
            )
            .order_by(LedgerAccount.id)
        )
    )


def remit_period(
    session: Session,
    *,
    row: FeeAgreement,
    agreement: Agreement,
    start: datetime,
    end: datetime,
    books_for: Callable[[str], Books],
) -> list[FeeRemittance]:
    """Remit one ended period of a ``daily`` or ``monthly`` agreement, for every payable
    account of its channel account that existed then (``books_for``: a merchant's books)."""
    rule = agreement.remittance
    assert rule is not None and rule.when != PER_TRANSACTION
    key = period_key(rule, start)
    done = []
    for payable in _payables(session, row, rule):
        exists = session.scalar(
            sa.select(FeeRemittance.id).where(
                FeeRemittance.payable_account_id == payable.id, FeeRemittance.period_key == key
            )
        )
        if exists is not None or payable.created_at >= end:
            continue
        due = _accrued_before(session, payable.id, end) - _remitted(session, payable.id)
        done.append(
            _remit(
                session,
                rule=rule,
                agreement_id=row.id,
                merchant_id=payable.merchant_id,
                channel_account_id=row.party_id,
                payable=payable,
                amount_minor=due,
                period_key=key,
                period=(start, end),
                books=books_for(payable.merchant_id),
            )
        )
    return done


def periods_due(
    session: Session, row: FeeAgreement, agreement: Agreement, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The agreement's ended periods after the last one it remitted, from the first in which
    a cost accrued, up to its ``valid_to`` (none for per transaction or no rule)."""
    rule = agreement.remittance
    if rule is None or rule.when == PER_TRANSACTION:
        return []
    payables = _payables(session, row, rule)
    if not payables:
        return []
    last = session.scalar(
        sa.select(sa.func.max(FeeRemittance.period_end)).where(
            FeeRemittance.agreement_id == row.id, FeeRemittance.period_end.is_not(None)
        )
    )
    since = max(agreement.valid_from, min(p.created_at for p in payables))
    if last is not None:
        since = max(since, last)
    zone = rule.zone(agreement.valid_from)
    periods = ended_periods(rule.when, zone, since, now, PERIODS_PER_RUN_MAX[rule.when])
    ends = agreement.valid_to
    return [
        (start, end)
        for start, end in periods
        if (last is None or start >= last) and (ends is None or start < ends)
    ]


def list_remittances(
    session: Session, *, merchant_id: str | None, start: datetime, end: datetime
) -> list[FeeRemittance]:
    query = (
        sa.select(FeeRemittance)
        .where(FeeRemittance.created_at >= start, FeeRemittance.created_at < end)
        .order_by(FeeRemittance.created_at, FeeRemittance.id)
    )
    if merchant_id is not None:
        query = query.where(FeeRemittance.merchant_id == merchant_id)
    return list(session.scalars(query))
