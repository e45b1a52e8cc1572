"""What the cashier shows and does, on the payment flows' own functions.

The cashier offers the channel methods a payer can use from a browser (scan a QR code, or go
to the channel's page), and only those the router could send somewhere now: the merchant has
an active account for it in the order's mode, not all of them skipped (circuit open, gray
release for other users). Platform instruments (balance, points, cards of the platform) need
the payer signed in to the merchant's app, so they are paid through the API, not here.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from sqlalchemy.orm import Session

from paydesk.channels.base import ChannelError, Method
from paydesk.channels.router.service import NoChannelAccount, NoChannelAvailable
from paydesk.core import clock
from paydesk.core.currencies import iso_currency
from paydesk.core.settings import Settings
from paydesk.db.engine import Database
from paydesk.features import service as features
from paydesk.merchants.models import Merchant
from paydesk.payments import channel_pay
from paydesk.payments.methods import PayInput
from paydesk.payments.models import Order
from paydesk.payments.orders import OrderNotFound
from paydesk.payments.routing import route_payment
from paydesk.payments.states import AttemptStatus, OrderStatus

METHODS: dict[Method, str] = {
    Method.WECHAT_NATIVE: "WeChat Pay",
    Method.ALIPAY_QR: "Alipay (scan)",
    Method.ALIPAY_PAGE: "Alipay",
    Method.UNIONPAY_PAGE: "UnionPay card",
    Method.QQ_NATIVE: "QQ Wallet",
}
"""What the cashier can offer, in the order shown."""


@dataclass(frozen=True, slots=True)
class View:
    order_id: str
    merchant_name: str
    subject: str
    amount: str
    """Formatted for people: ``12.34 CNY``."""
    status: str
    """``created``/``paying`` (payable), ``succeeded``, ``refunded``..., or ``expired``."""
    expires_at: datetime
    methods: list[tuple[str, str]]
    """``(method, label)`` pairs."""


def order_of(session: Session, order_id: str) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


def shown_status(order: Order) -> str:
    payable = order.status in {OrderStatus.CREATED, OrderStatus.PAYING}
    if payable and clock.now() >= order.expires_at:
        return "expired"
    return "expired" if order.status == OrderStatus.CLOSED else order.status


def available_methods(session: Session, order: Order) -> list[tuple[str, str]]:
    found = []
    for method, label in METHODS.items():
        try:
            route_payment(session, order, method, user_id=None, exclude=frozenset())
        except (NoChannelAccount, NoChannelAvailable):
            continue
        found.append((method.value, label))
    return found


def view(session: Session, order_id: str) -> View:
    order = order_of(session, order_id)
    if not features.enabled_for(session, "hosted_cashier", order.merchant_id):
        raise OrderNotFound(f"no cashier for order {order_id}")
    merchant = session.get(Merchant, order.merchant_id)
    assert merchant is not None
    status = shown_status(order)
    payable = status in {OrderStatus.CREATED.value, OrderStatus.PAYING.value}
    return View(
        order_id=order.id,
        merchant_name=merchant.name,
        subject=order.subject,
        amount=iso_currency(order.currency).format(order.amount_minor),
        status=status,
        expires_at=order.expires_at,
        methods=available_methods(session, order) if payable else [],
    )


def qr_svg(content: str) -> str:
    """The QR code of ``content`` as inline SVG (no image request, no external script)."""
    return str(segno.make(content, error="m").svg_inline(scale=5, border=2, title="QR code"))


def pay(
    db: Database, settings: Settings, secret: str, order_id: str, method: str, return_url: str
) -> dict[str, Any]:
    """Open an attempt for the chosen method, as ``POST /v1/orders/{id}/pay`` does (same
    routing, failover and records), and say what the payer's page must do next."""
    if method not in {m.value for m in METHODS}:
        return {"error": f"{method} is not offered here"}
    session = Session(bind=db.engine, expire_on_commit=False)
    try:
        session.begin()
        order = order_of(session, order_id)
        if not features.enabled_for(session, "hosted_cashier", order.merchant_id):
            return {"error": "the hosted cashier is not enabled for this merchant"}
        order, attempt, result = channel_pay.pay_through_channel(
            session,
            commit=session.commit,
            outside=nullcontext,
            merchant_id=order.merchant_id,
            livemode=order.livemode,
            order_id=order.id,
            method=Method(method),
            pay=PayInput(method=method, return_url=return_url),
            settings=settings,
            secret=secret,
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    answer: dict[str, Any] = {"status": attempt.status, "order_status": shown_status(order)}
    if attempt.status == AttemptStatus.FAILED and isinstance(result, ChannelError):
        answer["error"] = result.message
    action = dict(attempt.action or {})
    if action.get("qr_code"):
        action["qr_svg"] = qr_svg(str(action["qr_code"]))
    answer["action"] = action or None
    return answer
