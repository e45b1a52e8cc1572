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

A job's channel call runs inside the job's transaction, holding the attempt's row lock: on
SQLite, other writers wait for the channel's answer (bounded by the connector's time-out).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.channels.base import ChannelError, ChannelRejected, PaymentNotFound
from paydesk.core import clock
from paydesk.core.settings import Settings
from paydesk.jobs.registry import JobContext, PermanentJobError, job_handler, register_schedule
from paydesk.payments import events, schedule, settle
from paydesk.payments.connectors import connector_of
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import AttemptStatus, OrderStatus, order_to
from paydesk.webhooks.events import EventType

log = structlog.get_logger("paydesk.order_centre")

EXPIRE_BATCH_MAX = 500


def _must_close(session: Session, attempt: PaymentAttempt, now: datetime) -> bool:
    order = session.get(Order, attempt.order_id)
    assert order is not None
    return now >= order.expires_at or order.status != OrderStatus.PAYING


def follow_attempt(
    session: Session, settings: Settings | None, attempt_id: str, step: int, close: bool
) -> None:
    """One look at an open attempt: query (closing first when it is time), apply, and
    schedule the next look while it stays open."""
    attempt = settle.lock_attempt(session, attempt_id)
    if attempt.status not in settle.OPEN_ATTEMPT_STATUSES:
        return
    now = clock.now()
    closing = close or _must_close(session, attempt, now)
    connector = connector_of(session, settings, attempt)
    if closing:
        try:
            connector.close_payment(attempt.out_trade_no)
        except PaymentNotFound:
            pass  # it never reached the channel: nothing to close there
        except ChannelRejected as exc:  # e.g. already paid: the query below tells
            log.info("close_refused", attempt_id=attempt.id, error=exc.message)
    try:
        reported = connector.query_payment(attempt.out_trade_no)
    except PaymentNotFound:
        settle.end_attempt(session, attempt, AttemptStatus.CLOSED, "not_at_channel")
        return
    settle.apply_payment(session, attempt, reported)
    if attempt.status not in settle.OPEN_ATTEMPT_STATUSES:
        return
    if closing:
        # Closed at the channel and still not paid there: it never will be.
        settle.end_attempt(session, attempt, AttemptStatus.CLOSED, "closed")
        return
    order = session.get(Order, attempt.order_id)
    assert order is not None
    next_step = step + 1
    due = now + _delay(next_step)
    if due >= order.expires_at:
        schedule.schedule_query(session, attempt, close=True, run_at=order.expires_at)
    else:
        schedule.schedule_query(session, attempt, step=next_step, run_at=due)


def _delay(step: int) -> timedelta:
    return timedelta(seconds=schedule.delay_s(schedule.QUERY_DELAYS_S, step))


@job_handler(schedule.QUERY_ATTEMPT)
def query_attempt_job(ctx: JobContext) -> None:
    try:
        follow_attempt(
            ctx.session,
            ctx.settings,
            str(ctx.payload["attempt_id"]),
            int(ctx.payload.get("step", 0)),
            bool(ctx.payload.get("close", False)),
        )
    except settle.AttemptNotFound as exc:
        raise PermanentJobError(exc.message) from None
    except settle.AmountMismatch as exc:
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
