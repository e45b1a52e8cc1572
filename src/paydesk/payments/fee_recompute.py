"""Recomputing one party's fees or costs over a period, after its agreement changed
(docs/fees.md): every channel payment of the period that paid its order is priced again
under the party's agreements now, and the difference to what it stands charged is posted as
an adjustment (a balanced journal and an ``*_adjustment`` charge).

A run goes through the payments in id order, a batch per transaction, and remembers the last
payment done: stopped or crashed, it resumes where it was (``resume``); run again from the
start, it posts nothing twice (each adjustment's journal key names the run and the payment),
and a new run only posts what still differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.ids import new_id
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.fees import service as fees
from paydesk.fees.batch import BatchPricer
from paydesk.fees.matching import close_periods
from paydesk.fees.records import FeePeriodClose, FeeRun
from paydesk.payments.fee_flow import books, fee_transaction
from paydesk.payments.methods import WALLET_CHANNEL
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import AttemptStatus

BATCH = 200
KIND_OF_PARTY = {"merchant": fees.MERCHANT_FEE, "channel": fees.CHANNEL_COST}


class FeeRunNotFound(NotFound):
    code = "fee_run_not_found"


def start(
    session: Session,
    *,
    party_type: str,
    party_id: str,
    period_start: datetime,
    period_end: datetime,
) -> FeeRun:
    if party_type not in KIND_OF_PARTY:
        raise InvalidRequest("party_type is channel or merchant", param="party_type")
    if period_end <= period_start:
        raise InvalidRequest("the period ends after it starts", param="to")
    now = clock.now()
    run = FeeRun(
        id=new_id("frn"),
        party_type=party_type,
        party_id=party_id,
        kind=KIND_OF_PARTY[party_type],
        period_start=period_start,
        period_end=period_end,
        status="running",
        cursor="",
        processed=0,
        adjusted=0,
        unmatched=0,
        adjustment_minor=0,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    return run


def _payments(run: FeeRun) -> sa.Select[PaymentAttempt, Order]:
    """The run's payments: channel attempts that paid their order within the period."""
    party = (
        PaymentAttempt.merchant_id == run.party_id
        if run.party_type == "merchant"
        else PaymentAttempt.channel_account_id == run.party_id
    )
    return (
        sa.select(PaymentAttempt, Order)
        .join(Order, Order.paid_attempt_id == PaymentAttempt.id)
        .where(
            party,
            PaymentAttempt.status == AttemptStatus.SUCCEEDED.value,
            PaymentAttempt.channel != WALLET_CHANNEL,
            PaymentAttempt.succeeded_at >= run.period_start,
            PaymentAttempt.succeeded_at < run.period_end,
        )
    )


def remaining(session: Session, run: FeeRun) -> int:
    query = _payments(run).where(PaymentAttempt.id > run.cursor).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(query)) or 0)


def step(db: Database, run_id: str, batch: int = BATCH) -> FeeRun:
    """One batch, in one transaction; the run is ``done`` when nothing is left."""
    with unit_of_work(db) as session:
        run = session.get(FeeRun, run_id, with_for_update=True)
        if run is None:
            raise FeeRunNotFound(f"no fee run {run_id}")
        if run.status == "done":
            return run
        rows = fees._rows(session, run.party_type, run.party_id)
        agreements = [fees.parsed(row) for row in rows]
        pricer = BatchPricer(agreements)
        found = session.execute(
            _payments(run)
            .where(PaymentAttempt.id > run.cursor)
            .order_by(PaymentAttempt.id)
            .limit(batch)
        ).all()
        for attempt, order in found:
            if run.kind == fees.MERCHANT_FEE and order.purpose != "purchase":
                run.cursor = attempt.id
                continue
            interface = attempt.channel_account_id if run.kind == fees.CHANNEL_COST else None
            difference = fees.adjust(
                session,
                run_id=run.id,
                kind=run.kind,
                txn=fee_transaction(order, attempt, interface_id=interface),
                merchant_id=order.merchant_id,
                order_id=order.id,
                channel_account_id=attempt.channel_account_id,
                agreements=agreements,
                rows=rows,
                books=books(session, order.merchant_id),
                pricer=pricer,
            )
            run.processed += 1
            if difference is None:
                run.unmatched += 1
            elif difference:
                run.adjusted += 1
                run.adjustment_minor += difference
            run.cursor = attempt.id
        if len(found) < batch:
            run.status = "done"
        run.updated_at = clock.now()
        session.flush()
        session.expunge(run)
        return run


def run_to_end(
    db: Database, run_id: str, *, on_batch: Callable[[FeeRun], None] | None = None
) -> FeeRun:
    while True:
        run = step(db, run_id)
        if on_batch is not None:
            on_batch(run)
        if run.status == "done":
            return run


# --- period closes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Closed:
    agreement: str
    entry: str
    adjustment_minor: int
    currency: str
    text: str


def close_period(
    db: Database, *, party_type: str, party_id: str, period_start: datetime, period_end: datetime
) -> list[Closed]:
    """Close the period of the party's graduated and volume entries: the final fee from the
    period's totals, less the provisional fees charged per payment, posted once as a
    ``*_period_close`` adjustment (closing the same period again posts nothing more)."""
    with unit_of_work(db) as session:
        return close_party_period(
            session,
            party_type=party_type,
            party_id=party_id,
            period_start=period_start,
            period_end=period_end,
        )


def close_party_period(
    session: Session,
    *,
    party_type: str,
    party_id: str,
    period_start: datetime,
    period_end: datetime,
) -> list[Closed]:
    """:func:`close_period` in the caller's transaction; the period is recorded as closed
    (``fee_period_closes``) so the monthly schedule does not close it again."""
    if party_type not in KIND_OF_PARTY:
        raise InvalidRequest("party_type is channel or merchant", param="party_type")
    if period_end <= period_start:
        raise InvalidRequest("the period ends after it starts", param="to")
    kind = KIND_OF_PARTY[party_type]
    closed = _close(session, kind, party_type, party_id, period_start, period_end)
    recorded = session.scalar(
        sa.select(FeePeriodClose.id).where(
            FeePeriodClose.party_type == party_type,
            FeePeriodClose.party_id == party_id,
            FeePeriodClose.period_start == period_start,
            FeePeriodClose.period_end == period_end,
        )
    )
    if recorded is None:
        session.add(
            FeePeriodClose(
                id=new_id("fpc"),
                party_type=party_type,
                party_id=party_id,
                period_start=period_start,
                period_end=period_end,
                entries_closed=len(closed),
                adjustment_minor=sum(c.adjustment_minor for c in closed),
                created_at=clock.now(),
            )
        )
        session.flush()
    return closed


def _close(
    session: Session,
    kind: str,
    party_type: str,
    party_id: str,
    period_start: datetime,
    period_end: datetime,
) -> list[Closed]:
    rows = fees._rows(session, party_type, party_id)
    agreements = [fees.parsed(row) for row in rows]
    probe = FeeRun(
        party_type=party_type,
        party_id=party_id,
        period_start=period_start,
        period_end=period_end,
        cursor="",
    )
    txns, orders = [], {}
    for attempt, order in session.execute(_payments(probe).order_by(PaymentAttempt.id)):
        if kind == fees.MERCHANT_FEE and order.purpose != "purchase":
            continue
        interface = attempt.channel_account_id if kind == fees.CHANNEL_COST else None
        txns.append(fee_transaction(order, attempt, interface_id=interface))
        orders[attempt.id] = (order, attempt)
    if not txns:
        return []
    merchant_id, channel_account_id = next(
        (order.merchant_id, attempt.channel_account_id) for order, attempt in orders.values()
    )
    closed = []
    for (agreement_name, entry_id), result in close_periods(agreements, txns).items():
        row = next(r for r in rows if r.name == agreement_name)
        period = f"{period_start.isoformat()}/{period_end.isoformat()}"
        key = hashlib.sha256(f"{row.id}|{entry_id}|{period}".encode()).hexdigest()[:32]
        fees.post_period_close(
            session,
            kind=kind,
            source_id=f"fpc_{key}",
            merchant_id=merchant_id if party_type == "channel" else party_id,
            channel_account_id=channel_account_id if party_type == "channel" else None,
            agreement_row=row,
            entry_id=entry_id,
            result=result,
            books=books(session, merchant_id),
            period=period,
        )
        closed.append(
            Closed(
                agreement_name,
                entry_id,
                result.adjustment_minor,
                result.final.currency,
                result.final.explanation.text,
            )
        )
    return closed
