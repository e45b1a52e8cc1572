"""Paying an order: the methods, and the attempt each try writes.

Platform instruments (``balance``, ``points``, ``points_cash``, ``prepaid_card``) complete at
once in the request's transaction (:mod:`paydesk.payments.instruments`). Channel methods
(``wechat_native``, ``alipay_qr``, ...) open an attempt at a channel in three steps
(:mod:`paydesk.payments.channel_pay`): the attempt is written and committed with its order-centre
query job *before* the channel is called, so a crash or a time-out never loses a payment.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import Conflict
from paydesk.core.ids import new_id
from paydesk.payments import events, fee_flow, instruments
from paydesk.payments.methods import (
    WALLET_CHANNEL,
    MethodNotAvailable,
    PayInput,
    PlatformMethod,
)
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.orders import OrderPurpose, get_order, mark_paid
from paydesk.payments.states import AttemptStatus, OrderStatus, attempt_to
from paydesk.webhooks.events import EventType


class OrderNotPayable(Conflict):
    code = "order_not_payable"


def check_payable(order: Order) -> None:
    if order.status not in {OrderStatus.CREATED, OrderStatus.PAYING}:
        raise OrderNotPayable(f"the order is {order.status}")
    if clock.now() >= order.expires_at:
        raise OrderNotPayable("the order has expired")


def new_attempt(
    order: Order, method: str, channel: str, channel_account_id: str | None
) -> PaymentAttempt:
    now = clock.now()
    attempt_id = new_id("pat")
    return PaymentAttempt(
        id=attempt_id,
        merchant_id=order.merchant_id,
        order_id=order.id,
        method=method,
        channel=channel,
        channel_account_id=channel_account_id,
        out_trade_no=attempt_id,
        status=AttemptStatus.CREATED.value,
        amount_minor=order.amount_minor,
        currency=order.currency,
        meta={},
        created_at=now,
        updated_at=now,
    )


def pay_with_platform(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    order_id: str,
    method: PlatformMethod,
    pay: PayInput,
) -> tuple[Order, PaymentAttempt]:
    """Pay ``order_id`` with a platform instrument, at once: the attempt succeeds and the
    order is paid, or (low balance, bad card) nothing is written."""
    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    check_payable(order)
    if order.purpose == OrderPurpose.WALLET_RECHARGE:
        raise MethodNotAvailable(
            "a wallet recharge is paid through a channel, not from the platform's own money",
            param="method",
        )
    attempt = new_attempt(order, method.value, WALLET_CHANNEL, None)
    paid = instruments.pay(session, order, attempt, method, pay)
    now = clock.now()
    attempt.status = attempt_to(AttemptStatus.CREATED, AttemptStatus.SUCCEEDED).value
    attempt.journal_id = paid.journal_id
    attempt.succeeded_at = now
    attempt.updated_at = now
    session.add(attempt)  # written once, succeeded: the money has moved
    mark_paid(order, attempt, paid.payer)
    session.flush()
    fee_flow.charge_payment(session, order, attempt)
    events.order_event(session, order, EventType.ORDER_SUCCEEDED)
    return order, attempt


def attempts_of(session: Session, order: Order) -> list[PaymentAttempt]:
    return list(
        session.scalars(
            sa.select(PaymentAttempt)
            .where(PaymentAttempt.order_id == order.id)
            .order_by(PaymentAttempt.id)
        )
    )
