"""The merchant webhook events of orders and refunds, written in the transaction of the change
that causes them (the outbox): a rolled-back change sends nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from paydesk.payments.models import Order, Refund
from paydesk.webhooks import events as webhooks


def order_data(order: Order) -> dict[str, Any]:
    return {
        "object": "order",
        "id": order.id,
        "merchant_order_no": order.merchant_order_no,
        "status": order.status,
        "amount": order.amount_minor,
        "currency": order.currency,
        "amount_paid": order.amount_paid_minor,
        "amount_refunded": order.amount_refunded_minor,
        "user_id": order.user_id,
        "paid_attempt_id": order.paid_attempt_id,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
        "metadata": dict(order.meta),
    }


def refund_data(refund: Refund) -> dict[str, Any]:
    return {
        "object": "refund",
        "id": refund.id,
        "order_id": refund.order_id,
        "attempt_id": refund.attempt_id,
        "status": refund.status,
        "amount": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "automatic": refund.automatic,
        "failure_code": refund.failure_code,
        "succeeded_at": refund.succeeded_at.isoformat() if refund.succeeded_at else None,
    }


def order_event(session: Session, order: Order, event_type: webhooks.EventType) -> None:
    webhooks.emit(
        session,
        merchant_id=order.merchant_id,
        livemode=order.livemode,
        type=event_type,
        data=order_data(order),
        notify_url=order.notify_url,
    )


def refund_event(
    session: Session, order: Order, refund: Refund, event_type: webhooks.EventType
) -> None:
    webhooks.emit(
        session,
        merchant_id=order.merchant_id,
        livemode=order.livemode,
        type=event_type,
        data=refund_data(refund),
        notify_url=order.notify_url,
    )
