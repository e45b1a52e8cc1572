"""What a channel reports about a payment, applied to the attempt and its order.

One function per fact, called by the notification endpoint, the order centre's queries and the
synchronous answer alike, so the three agree whatever order they arrive in. Each locks the
attempt, then its order, and is idempotent: a fact applied twice changes nothing the second
time. The amount and currency the channel echoes must be the attempt's, or nothing changes.

A success is recorded whatever we thought of the attempt (money is real): the attempt
succeeds and posts its journal. If the order was already paid by another attempt, or closed,
that second payment is refunded automatically.
"""

from __future__ import annotations

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.channels.base import ChannelPayment, PaymentStatus
from paydesk.core import clock
from paydesk.core.errors import NotFound
from paydesk.payments import events, fee_flow, postings, refunds, schedule, settlement
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.orders import lock_order, mark_paid
from paydesk.payments.states import (
    AmountMismatch,
    AttemptStatus,
    OrderStatus,
    attempt_to,
    order_after_attempt_ends,
    order_to,
)
from paydesk.webhooks.events import EventType

log = structlog.get_logger("paydesk.payments")

OPEN_ATTEMPT_STATUSES = frozenset(
    {AttemptStatus.CREATED, AttemptStatus.PENDING, AttemptStatus.UNKNOWN}
)


class AttemptNotFound(NotFound):
    code = "payment_attempt_not_found"


def lock_attempt(session: Session, attempt_id: str) -> PaymentAttempt:
    attempt = session.scalars(
        sa.select(PaymentAttempt).where(PaymentAttempt.id == attempt_id).with_for_update()
    ).first()
    if attempt is None:
        raise AttemptNotFound(f"no payment attempt {attempt_id}")
    return attempt


def attempt_by_trade_no(session: Session, channel: str, out_trade_no: str) -> PaymentAttempt:
    attempt = session.scalars(
        sa.select(PaymentAttempt)
        .where(PaymentAttempt.channel == channel, PaymentAttempt.out_trade_no == out_trade_no)
        .with_for_update()
    ).first()
    if attempt is None:
        raise AttemptNotFound(f"no {channel} payment {out_trade_no}")
    return attempt


def open_attempts(session: Session, order_id: str, *, besides: str | None = None) -> int:
    query = sa.select(sa.func.count()).where(
        PaymentAttempt.order_id == order_id,
        PaymentAttempt.status.in_([s.value for s in OPEN_ATTEMPT_STATUSES]),
    )
    if besides is not None:
        query = query.where(PaymentAttempt.id != besides)
    return int(session.scalar(query) or 0)


def check_echo(attempt: PaymentAttempt, reported: ChannelPayment) -> None:
    if (reported.amount_minor, reported.currency) != (attempt.amount_minor, attempt.currency):
        log.error(
            "channel_amount_mismatch",
            attempt_id=attempt.id,
            expected=f"{attempt.amount_minor} {attempt.currency}",
            reported=f"{reported.amount_minor} {reported.currency}",
        )
        raise AmountMismatch(
            f"the channel reports {reported.amount_minor} {reported.currency} for attempt "
            f"{attempt.id} of {attempt.amount_minor} {attempt.currency}"
        )


def apply_payment(session: Session, attempt: PaymentAttempt, reported: ChannelPayment) -> None:
    """Apply the channel's view of ``attempt`` (locked by the caller)."""
    status = AttemptStatus(attempt.status)
    if reported.status in {PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED}:
        check_echo(attempt, reported)
        succeed(session, attempt, reported)
    elif reported.status is PaymentStatus.PENDING:
        if status in {AttemptStatus.CREATED, AttemptStatus.UNKNOWN}:
            _set_status(attempt, AttemptStatus.PENDING)
    elif status in OPEN_ATTEMPT_STATUSES:
        ended = (
            AttemptStatus.CLOSED
            if reported.status is PaymentStatus.CLOSED
            else AttemptStatus.FAILED
        )
        end_attempt(session, attempt, ended, reported.raw_status or reported.status.value)
    elif status is AttemptStatus.SUCCEEDED:
        log.warning("channel_disagrees", attempt_id=attempt.id, reported=reported.status.value)


def _set_status(attempt: PaymentAttempt, target: AttemptStatus) -> None:
    attempt.status = attempt_to(AttemptStatus(attempt.status), target).value
    attempt.updated_at = clock.now()


def succeed(session: Session, attempt: PaymentAttempt, reported: ChannelPayment) -> None:
    if attempt.status == AttemptStatus.SUCCEEDED:
        return
    order = lock_order(session, attempt.order_id)
    _set_status(attempt, AttemptStatus.SUCCEEDED)
    attempt.channel_trade_no = reported.channel_trade_no or attempt.channel_trade_no
    attempt.succeeded_at = reported.paid_at or clock.now()
    attempt.journal_id = postings.post_payment(session, attempt, order)
    if order.status in {OrderStatus.CREATED, OrderStatus.PAYING}:
        mark_paid(order, attempt)
        session.flush()
        fee_flow.charge_payment(session, order, attempt)
        settlement.after_payment(session, order, attempt)
        events.order_event(session, order, EventType.ORDER_SUCCEEDED)
        _close_others(session, order, attempt)
        return
    # Paid twice (two channels), or paid after the order closed: give this payment back.
    reason = "duplicate payment" if order.paid_attempt_id else "paid after the order closed"
    log.warning("automatic_refund", attempt_id=attempt.id, order_id=order.id, reason=reason)
    refunds.start_automatic_refund(session, order, attempt, reason)


def _close_others(session: Session, order: Order, paid: PaymentAttempt) -> None:
    """The order is paid: every other open attempt is closed at its channel."""
    others = session.scalars(
        sa.select(PaymentAttempt).where(
            PaymentAttempt.order_id == order.id,
            PaymentAttempt.id != paid.id,
            PaymentAttempt.status.in_([s.value for s in OPEN_ATTEMPT_STATUSES]),
        )
    )
    for other in others:
        schedule.schedule_query(session, other, close=True)


def end_attempt(
    session: Session, attempt: PaymentAttempt, ended: AttemptStatus, reason: str
) -> None:
    """The attempt failed or closed: the order waits for the payer again, or closes if it
    has expired meanwhile."""
    _set_status(attempt, ended)
    if attempt.failure_code is None:
        attempt.failure_code = reason[:60]
    order = lock_order(session, attempt.order_id)
    if order.status != OrderStatus.PAYING:
        return
    now = clock.now()
    target = order_after_attempt_ends(
        OrderStatus.PAYING, open_attempts(session, order.id, besides=attempt.id)
    )
    if target is OrderStatus.CREATED and now >= order.expires_at:
        target = OrderStatus.CLOSED
    order.status = order_to(OrderStatus.PAYING, target).value
    order.updated_at = now
    if target is OrderStatus.CLOSED:
        order.closed_at = now
        session.flush()
        events.order_event(session, order, EventType.ORDER_CLOSED)
