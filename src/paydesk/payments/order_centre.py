"""The order centre: it asks the channels about attempts nobody has told us about, and closes
what has expired. Everything it must do is a job in the database (written in the transaction
that made it necessary), so a crashed process loses nothing: after a restart the schedule
resumes where it stopped.

- ``payments.query_attempt`` follows every channel attempt from the moment it is written: it
  queries the channel on a back-off schedule (:data:`schedule.QUERY_DELAYS_S`) until the
  attempt succeeds, fails or closes; once the order has expired (or is paid by another attempt,
  or closed by the merchant) it closes the attempt at the channel and queries once more, since
  the payer may have paid just before.
- ``payments.expire_orders`` (every minute) closes unpaid orders past their expiry and starts
  closing the open attempts of expired paying orders.

Channel calls run with no transaction open (the jobs are registered ``transaction=False``):
they read in one short unit of work and apply the answer in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.channels.base import (
    ChannelError,
    ChannelPayment,
    ChannelRejected,
    Connector,
    PaymentNotFound,
)
from paydesk.core import clock
from paydesk.core.settings import Settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.registry import JobContext, PermanentJobError, job_handler, register_schedule
from paydesk.payments import events, schedule, settle
from paydesk.payments.connectors import connector_of
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import AmountMismatch, AttemptStatus, OrderStatus, order_to
from paydesk.webhooks.events import EventType

log = structlog.get_logger("paydesk.order_centre")

EXPIRE_BATCH_MAX = 500


@dataclass(frozen=True, slots=True)
class _Look:
    """What one look at an attempt needs from the database, read before the channel call."""

    out_trade_no: str
    channel_trade_no: str | None
    closing: bool
    connector: Connector


@dataclass(frozen=True, slots=True)
class _Answer:
    reported: ChannelPayment | None
    """None: the channel has no such payment."""


def _prepare(db: Database, settings: Settings | None, attempt_id: str, close: bool) -> _Look | None:
    with unit_of_work(db, read_only=True) as session:
        attempt = session.get(PaymentAttempt, attempt_id)
        if attempt is None:
            raise settle.AttemptNotFound(f"no payment attempt {attempt_id}")
        if attempt.status not in settle.OPEN_ATTEMPT_STATUSES:
            return None
        order = session.get(Order, attempt.order_id)
        assert order is not None
        closing = close or clock.now() >= order.expires_at or order.status != OrderStatus.PAYING
        return _Look(
            attempt.out_trade_no,
            attempt.channel_trade_no,
            closing,
            connector_of(session, settings, attempt),
        )


def _ask(look: _Look) -> _Answer:
    """The network part: close at the channel when it is time, then query."""
    if look.closing:
        try:
            look.connector.close_payment(look.out_trade_no, look.channel_trade_no)
        except PaymentNotFound:
            pass  # it never reached the channel: nothing to close there
        except ChannelRejected as exc:  # e.g. already paid: the query tells
            log.info("close_refused", out_trade_no=look.out_trade_no, error=exc.message)
    try:
        return _Answer(look.connector.query_payment(look.out_trade_no, look.channel_trade_no))
    except PaymentNotFound:
        return _Answer(None)


def follow_attempt(
    db: Database, settings: Settings | None, attempt_id: str, step: int, close: bool
) -> None:
    """One look at an open attempt: query the channel (closing it there first when it is
    time), apply what it says, and schedule the next look while it stays open.

    Reads in one short transaction, calls the channel with none open, applies in another:
    no lock is held across the network. Running it twice is harmless (a second query)."""
    look = _prepare(db, settings, attempt_id, close)
    if look is None:
        return
    answer = _ask(look)
    with unit_of_work(db) as session:
        attempt = settle.lock_attempt(session, attempt_id)
        if attempt.status not in settle.OPEN_ATTEMPT_STATUSES:
            return  # a notification got there first
        if answer.reported is None:
            settle.end_attempt(session, attempt, AttemptStatus.CLOSED, "not_at_channel")
            return
        settle.apply_payment(session, attempt, answer.reported)
        if attempt.status not in settle.OPEN_ATTEMPT_STATUSES:
            return
        if look.closing:
            # Closed at the channel and still not paid there: it never will be.
            settle.end_attempt(session, attempt, AttemptStatus.CLOSED, "closed")
            return
        order = session.get(Order, attempt.order_id)
        assert order is not None
        next_step = step + 1
        due = clock.now() + timedelta(seconds=schedule.delay_s(schedule.QUERY_DELAYS_S, next_step))
        if due >= order.expires_at:
            schedule.schedule_query(session, attempt, close=True, run_at=order.expires_at)
        else:
            schedule.schedule_query(session, attempt, step=next_step, run_at=due)


@job_handler(schedule.QUERY_ATTEMPT, transaction=False)
def query_attempt_job(ctx: JobContext) -> None:
    assert ctx.db is not None, "the worker sets db"
    try:
        follow_attempt(
            ctx.db,
            ctx.settings,
            str(ctx.payload["attempt_id"]),
            int(ctx.payload.get("step", 0)),
            bool(ctx.payload.get("close", False)),
        )
    except (settle.AttemptNotFound, AmountMismatch) as exc:
        raise PermanentJobError(exc.message) from None
    except ChannelError as exc:
        if not exc.transient:
            raise PermanentJobError(exc.message) from None
        raise


def expire_due_orders(session: Session, now: datetime, limit: int = EXPIRE_BATCH_MAX) -> int:
    """Close unpaid orders past their expiry; start closing the attempts of paying ones.
    Returns how many orders it looked at."""
    due = session.scalars(
        sa.select(Order)
        .where(
            Order.status.in_([OrderStatus.CREATED.value, OrderStatus.PAYING.value]),
            Order.expires_at <= now,
        )
        .order_by(Order.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for order in due:
        if order.status == OrderStatus.CREATED:
            order.status = order_to(OrderStatus.CREATED, OrderStatus.CLOSED).value
            order.closed_at = now
            order.updated_at = now
            session.flush()
            events.order_event(session, order, EventType.ORDER_CLOSED)
            continue
        open_attempts = session.scalars(
            sa.select(PaymentAttempt).where(
                PaymentAttempt.order_id == order.id,
                PaymentAttempt.status.in_([s.value for s in settle.OPEN_ATTEMPT_STATUSES]),
            )
        ).all()
        for attempt in open_attempts:
            schedule.schedule_query(session, attempt, close=True)
    return len(due)


@job_handler("payments.expire_due_orders")
def expire_due_orders_job(ctx: JobContext) -> None:
    expire_due_orders(ctx.session, clock.now())


register_schedule("payments.expire_orders", "payments.expire_due_orders", interval_s=60)
