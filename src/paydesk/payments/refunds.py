"""Refunds: full, partial and repeated, up to what was paid, within the merchant's refund
window, back through the instrument that paid.

- A platform instrument (balance, points, prepaid card) refunds at once, in one journal, in
  the request's transaction.
- A channel refund is accepted in the request's transaction (the money is set aside from the
  merchant's receivable, see :mod:`paydesk.payments.postings`) and sent to the channel by a
  job; the channel's answer, its notification or the order centre's queries confirm it. A
  refund the channel refuses releases the money set aside.

The order's refunded amount and status move when a refund succeeds; refunds still pending
count against what can be refunded, so two concurrent requests can never exceed the payment.
A refund request with the same Idempotency-Key is one refund (the API's idempotency).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.channels.base import (
    ChannelError,
    ChannelRefund,
    Connector,
    RefundRequest,
    RefundStatus,
)
from paydesk.core import clock
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.ids import new_id
from paydesk.core.money import check_amount
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.core.settings import Settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.registry import JobContext, PermanentJobError, job_handler
from paydesk.payments import (
    events,
    fee_flow,
    instruments,
    payment_settings,
    postings,
    schedule,
    settlement,
)
from paydesk.payments.connectors import connector_of, notify_url
from paydesk.payments.methods import WALLET_CHANNEL
from paydesk.payments.models import Order, PaymentAttempt, Refund
from paydesk.payments.orders import get_order, lock_order
from paydesk.payments.states import (
    PAID_ORDER_STATUSES,
    AmountMismatch,
    IllegalTransition,
    OrderStatus,
    RefundState,
    RefundTooLarge,
    order_after_refund,
    refundable_minor,
)
from paydesk.webhooks.events import EventType

log = structlog.get_logger("paydesk.refunds")

REASON_LENGTH_MAX = 200


class RefundNotFound(NotFound):
    code = "refund_not_found"


class RefundWindowClosed(InvalidRequest):
    code = "refund_window_closed"


# --- settings ------------------------------------------------------------------------------
def refund_window_days(session: Session, merchant_id: str) -> int:
    return payment_settings.current(session, merchant_id).refund_window_days


# --- creating ------------------------------------------------------------------------------
def _pending_minor(session: Session, attempt_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_minor), 0)).where(
                Refund.attempt_id == attempt_id, Refund.status == RefundState.PENDING
            )
        )
        or 0
    )


def _new_refund(
    order: Order, attempt: PaymentAttempt, amount: int, reason: str, automatic: bool
) -> Refund:
    now = clock.now()
    return Refund(
        id=new_id("rfd"),
        merchant_id=order.merchant_id,
        livemode=order.livemode,
        order_id=order.id,
        attempt_id=attempt.id,
        channel=attempt.channel,
        channel_account_id=attempt.channel_account_id,
        amount_minor=amount,
        currency=attempt.currency,
        status=RefundState.PENDING,
        reason=reason,
        automatic=automatic,
        created_at=now,
        updated_at=now,
    )


def create_refund(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    order_id: str,
    amount_minor: int | None,
    reason: str = "",
) -> Refund:
    """Refund ``amount_minor`` (default: all that is left) of a paid order."""
    reason = reason.strip()
    if len(reason) > REASON_LENGTH_MAX:
        raise InvalidRequest(f"reason is at most {REASON_LENGTH_MAX} characters", param="reason")
    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    if order.status not in PAID_ORDER_STATUSES or order.paid_attempt_id is None:
        raise IllegalTransition(f"order: cannot refund an order that is {order.status}")
    window = refund_window_days(session, merchant_id)
    assert order.paid_at is not None
    if clock.now() > order.paid_at + timedelta(days=window):
        raise RefundWindowClosed(
            f"the refund window of {window} days after payment has closed", param="order_id"
        )
    attempt = session.get(PaymentAttempt, order.paid_attempt_id)
    assert attempt is not None
    committed = order.amount_refunded_minor + _pending_minor(session, attempt.id)
    left = refundable_minor(order.amount_paid_minor, committed)
    amount = left if amount_minor is None else amount_minor
    if amount_minor is not None:
        check_amount(amount_minor)
    if amount <= 0 or amount > left:
        raise RefundTooLarge(f"at most {left} can still be refunded", param="amount")
    # Validates the order's move now; applied when the refund succeeds.
    order_after_refund(OrderStatus(order.status), order.amount_paid_minor, committed, amount)
    refund = _new_refund(order, attempt, amount, reason, automatic=False)
    session.add(refund)
    session.flush()
    if attempt.channel == WALLET_CHANNEL:
        fee_flow.give_back(session, order, refund, committed)
        refund.journal_id = instruments.refund(
            session,
            order,
            attempt,
            refund.id,
            amount,
            refunded_before_minor=order.amount_refunded_minor,
        )
        refund.settle_journal_id = refund.journal_id
        _succeeded(session, refund, None)
    else:
        fee_flow.give_back(session, order, refund, committed)
        settlement.give_back(session, order, refund)
        refund.journal_id = postings.reserve_refund(session, refund, order)
        schedule.schedule_refund_submit(session, refund)
    session.flush()
    return refund


def start_automatic_refund(
    session: Session, order: Order, attempt: PaymentAttempt, reason: str
) -> Refund:
    """Give back the whole of a second payment (``attempt`` succeeded on an order that was
    already paid or closed). The order itself is not touched."""
    existing = session.scalars(
        sa.select(Refund).where(Refund.attempt_id == attempt.id, Refund.automatic.is_(True))
    ).first()
    if existing is not None:
        return existing
    refund = _new_refund(order, attempt, attempt.amount_minor, reason, automatic=True)
    session.add(refund)
    session.flush()
    refund.journal_id = postings.reserve_refund(session, refund, order)
    schedule.schedule_refund_submit(session, refund)
    return refund


# --- outcomes ------------------------------------------------------------------------------
def _lock_refund(session: Session, refund_id: str) -> Refund:
    refund = session.scalars(
        sa.select(Refund).where(Refund.id == refund_id).with_for_update()
    ).first()
    if refund is None:
        raise RefundNotFound(f"no refund {refund_id}")
    return refund


def _succeeded(session: Session, refund: Refund, reported: ChannelRefund | None) -> None:
    now = clock.now()
    if refund.channel != WALLET_CHANNEL:
        refund.settle_journal_id = postings.complete_refund(session, refund)
    refund.status = RefundState.SUCCEEDED
    refund.succeeded_at = (reported.succeeded_at if reported else None) or now
    refund.channel_refund_no = reported.channel_refund_no if reported else None
    refund.updated_at = now
    order = lock_order(session, refund.order_id)
    if not refund.automatic:
        order.status = order_after_refund(
            OrderStatus(order.status),
            order.amount_paid_minor,
            order.amount_refunded_minor,
            refund.amount_minor,
        ).value
        order.amount_refunded_minor += refund.amount_minor
        order.updated_at = now
    session.flush()
    events.refund_event(session, order, refund, EventType.REFUND_SUCCEEDED)


def _failed(session: Session, refund: Refund, code: str, message: str) -> None:
    now = clock.now()
    order = session.get(Order, refund.order_id)
    assert order is not None
    refund.settle_journal_id = postings.release_refund(session, refund, order)
    settlement.restore(session, order, refund)
    fee_flow.take_back(session, order, refund)
    refund.status = RefundState.FAILED
    refund.failure_code = code[:60]
    refund.failure_message = message[:300]
    refund.updated_at = now
    session.flush()
    log.warning("refund_failed", refund_id=refund.id, code=code, automatic=refund.automatic)
    events.refund_event(session, order, refund, EventType.REFUND_FAILED)


def apply_refund(session: Session, refund: Refund, reported: ChannelRefund) -> None:
    """Apply the channel's view of ``refund`` (locked); idempotent. A pending answer keeps the
    channel's refund number, which some channels need to query the refund (UnionPay)."""
    if refund.status != RefundState.PENDING:
        return
    if reported.status is RefundStatus.PENDING:
        if reported.channel_refund_no and not refund.channel_refund_no:
            refund.channel_refund_no = reported.channel_refund_no
            refund.updated_at = clock.now()
        return
    if (reported.refund_minor, reported.currency) != (refund.amount_minor, refund.currency):
        raise AmountMismatch(
            f"the channel reports {reported.refund_minor} {reported.currency} for refund "
            f"{refund.id} of {refund.amount_minor} {refund.currency}"
        )
    if reported.status is RefundStatus.SUCCEEDED:
        _succeeded(session, refund, reported)
    else:
        _failed(session, refund, "channel_failed", reported.raw_status or "failed")


def refund_by_number(session: Session, out_refund_no: str) -> Refund:
    return _lock_refund(session, out_refund_no)


# --- jobs ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Call:
    """What a channel call about a refund needs, read before the call."""

    connector: Connector
    request: RefundRequest
    channel_refund_no: str | None


def _prepare(db: Database, settings: Settings | None, refund_id: str) -> _Call | None:
    with unit_of_work(db, read_only=True) as session:
        refund = session.get(Refund, refund_id)
        if refund is None:
            raise RefundNotFound(f"no refund {refund_id}")
        if refund.status != RefundState.PENDING:
            return None
        attempt = session.get(PaymentAttempt, refund.attempt_id)
        assert attempt is not None and settings is not None
        assert refund.channel_account_id is not None
        return _Call(
            connector_of(session, settings, attempt),
            RefundRequest(
                out_trade_no=attempt.out_trade_no,
                out_refund_no=refund.id,
                refund_minor=refund.amount_minor,
                total_minor=attempt.amount_minor,
                currency=refund.currency,
                reason=refund.reason,
                notify_url=notify_url(settings, refund.channel, refund.channel_account_id),
                channel_trade_no=attempt.channel_trade_no,
            ),
            refund.channel_refund_no,
        )


def _apply(
    db: Database, refund_id: str, answer: ChannelRefund | ChannelError, next_step: int
) -> None:
    with unit_of_work(db) as session:
        refund = _lock_refund(session, refund_id)
        if refund.status != RefundState.PENDING:
            return  # a notification got there first
        if isinstance(answer, ChannelError):
            _failed(session, refund, answer.code, answer.message)
            return
        apply_refund(session, refund, answer)
        if refund.status != RefundState.PENDING:
            return
        if next_step >= schedule.REFUND_QUERIES_MAX:
            log.error("refund_still_pending", refund_id=refund.id)
            return
        schedule.schedule_refund_query(session, refund, next_step)


def submit(db: Database, settings: Settings | None, refund_id: str) -> None:
    """Send a pending refund to its channel and apply the answer. The channel deduplicates by
    our refund number, so sending it again after a crash is harmless."""
    call = _prepare(db, settings, refund_id)
    if call is None:
        return
    try:
        answer: ChannelRefund | ChannelError = call.connector.refund(call.request)
    except ChannelError as exc:
        if exc.transient:
            raise  # the job retries
        answer = exc
    _apply(db, refund_id, answer, 0)


def follow(db: Database, settings: Settings | None, refund_id: str, step: int) -> None:
    """Query a refund the channel is still processing."""
    call = _prepare(db, settings, refund_id)
    if call is None:
        return
    answer = call.connector.query_refund(
        call.request.out_refund_no, call.request.out_trade_no, call.channel_refund_no
    )
    _apply(db, refund_id, answer, step + 1)


def _run_refund_job(ctx: JobContext, action: str) -> None:
    assert ctx.db is not None, "the worker sets db"
    refund_id = str(ctx.payload["refund_id"])
    try:
        if action == "submit":
            submit(ctx.db, ctx.settings, refund_id)
        else:
            follow(ctx.db, ctx.settings, refund_id, int(ctx.payload.get("step", 0)))
    except (RefundNotFound, AmountMismatch) as exc:
        raise PermanentJobError(exc.message) from None
    except ChannelError as exc:
        if not exc.transient:
            raise PermanentJobError(exc.message) from None
        raise


@job_handler(schedule.SUBMIT_REFUND, transaction=False)
def submit_refund_job(ctx: JobContext) -> None:
    _run_refund_job(ctx, "submit")


@job_handler(schedule.QUERY_REFUND, transaction=False)
def query_refund_job(ctx: JobContext) -> None:
    _run_refund_job(ctx, "query")


# --- reading -------------------------------------------------------------------------------
def get_refund(session: Session, merchant_id: str, livemode: bool, refund_id: str) -> Refund:
    refund = session.scalars(
        sa.select(Refund).where(
            Refund.id == refund_id, Refund.merchant_id == merchant_id, Refund.livemode == livemode
        )
    ).first()
    if refund is None:
        raise RefundNotFound(f"no refund {refund_id}")
    return refund


def list_refunds(
    session: Session,
    merchant_id: str,
    livemode: bool,
    *,
    order_id: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> PageResult[Refund]:
    query = (
        sa.select(Refund)
        .where(Refund.merchant_id == merchant_id, Refund.livemode == livemode)
        .order_by(Refund.id)
        .limit(page_size(limit) + 1)
    )
    if order_id is not None:
        query = query.where(Refund.order_id == order_id)
    if after_id is not None:
        query = query.where(Refund.id > after_id)
    return trim(session.scalars(query).all(), limit)
