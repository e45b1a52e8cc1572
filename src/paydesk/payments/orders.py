"""Creating, reading, listing and closing orders. Services never commit.

Paying an order is :mod:`paydesk.payments.paying` (platform instruments) and
:mod:`paydesk.payments.channel_pay` (channels); see ``docs/payments.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.currencies import iso_currency
from paydesk.core.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from paydesk.core.ids import new_id
from paydesk.core.money import check_amount
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.db.inserts import insert_unless_exists
from paydesk.features import service as features
from paydesk.merchants.service import check_app
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import OrderStatus, order_to
from paydesk.webhooks.events import EventType
from paydesk.webhooks.urls import url_problem

ORDER_NO_PATTERN = re.compile(r"^[A-Za-z0-9_\-|*]{1,64}$")
"""What every channel accepts as a merchant order number (WeChat's rule is the strictest)."""
EXPIRY_DEFAULT = timedelta(minutes=30)
EXPIRY_MIN = timedelta(minutes=1)
EXPIRY_MAX = timedelta(days=7)
META_KEYS_MAX = 20
META_VALUE_LENGTH_MAX = 500


class OrderPurpose(StrEnum):
    PURCHASE = "purchase"
    """The payer buys from the merchant: the money is the merchant's."""
    WALLET_RECHARGE = "wallet_recharge"
    """The payer tops up their own wallet of the order's app: the money becomes the user's
    balance in the order's currency (the wallet recharge, paid through a channel)."""


class OrderNotFound(NotFound):
    code = "order_not_found"


class OrderExists(Conflict):
    code = "order_exists"


class MerchantInSandboxMode(PermissionDenied):
    code = "merchant_in_sandbox_mode"


def _check_notify_url(url: str | None) -> str | None:
    """The order's webhook URL, checked as a webhook endpoint's is."""
    if url is None:
        return None
    problem = url_problem(url)
    if problem is not None:
        raise InvalidRequest(f"notify_url {problem}", param="notify_url")
    return url


def _check_meta(meta: Mapping[str, Any]) -> dict[str, str]:
    if len(meta) > META_KEYS_MAX:
        raise InvalidRequest(f"metadata has at most {META_KEYS_MAX} keys", param="metadata")
    checked: dict[str, str] = {}
    for key, value in meta.items():
        if not isinstance(value, str) or len(key) > 40 or len(value) > META_VALUE_LENGTH_MAX:
            raise InvalidRequest(
                f"metadata values are strings of at most {META_VALUE_LENGTH_MAX} characters",
                param=f"metadata.{key}",
            )
        checked[key] = value
    return checked


def create_order(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    merchant_order_no: str,
    amount_minor: int,
    currency: str,
    subject: str,
    app_id: str | None = None,
    user_id: str | None = None,
    notify_url: str | None = None,
    expires_in: timedelta = EXPIRY_DEFAULT,
    meta: Mapping[str, Any] | None = None,
    purpose: OrderPurpose = OrderPurpose.PURCHASE,
) -> Order:
    """A new order waiting for its payer. The merchant order number is unique per merchant:
    a second order with it fails with ``order_exists`` (send an Idempotency-Key to retry)."""
    if not ORDER_NO_PATTERN.match(merchant_order_no):
        raise InvalidRequest(
            "merchant_order_no is 1 to 64 of A-Z a-z 0-9 _ - | *", param="merchant_order_no"
        )
    check_amount(amount_minor)
    iso_currency(currency)
    subject = subject.strip()
    if not 1 <= len(subject) <= 128:
        raise InvalidRequest("subject is 1 to 128 characters", param="subject")
    if not EXPIRY_MIN <= expires_in <= EXPIRY_MAX:
        raise InvalidRequest("an order expires in 1 minute to 7 days", param="expires_in_s")
    if app_id is not None:
        check_app(session, merchant_id, app_id)
    if livemode and features.enabled_for(session, "sandbox_mode", merchant_id):
        raise MerchantInSandboxMode(
            "the merchant is in sandbox mode: use a test-mode key (docs/features.md)"
        )
    if purpose is OrderPurpose.WALLET_RECHARGE and (app_id is None or user_id is None):
        raise InvalidRequest(
            "a wallet_recharge order names the app and the user whose wallet it tops up",
            param="user_id",
        )
    now = clock.now()
    order = Order(
        id=new_id("ord"),
        merchant_id=merchant_id,
        app_id=app_id,
        livemode=livemode,
        merchant_order_no=merchant_order_no,
        purpose=purpose.value,
        amount_minor=amount_minor,
        currency=currency,
        amount_paid_minor=0,
        amount_refunded_minor=0,
        subject=subject,
        user_id=user_id,
        notify_url=_check_notify_url(notify_url),
        status=OrderStatus.CREATED.value,
        meta=_check_meta(meta or {}),
        expires_at=now + expires_in,
        paid_at=None,
        closed_at=None,
        created_at=now,
        updated_at=now,
    )
    table = Order.__table__
    assert isinstance(table, sa.Table)
    values = {column.key: getattr(order, column.key) for column in table.columns}
    if not insert_unless_exists(session, table, values, ("merchant_id", "merchant_order_no")):
        raise OrderExists(f"order {merchant_order_no} already exists", param="merchant_order_no")
    return order


def _by_order_no(session: Session, merchant_id: str, order_no: str) -> Order | None:
    return session.scalars(
        sa.select(Order).where(
            Order.merchant_id == merchant_id, Order.merchant_order_no == order_no
        )
    ).first()


def get_order(
    session: Session, merchant_id: str, livemode: bool, order_id: str, *, lock: bool = False
) -> Order:
    """An order of the merchant in the key's mode; another's, or the other mode's, is not
    found."""
    query = sa.select(Order).where(
        Order.id == order_id, Order.merchant_id == merchant_id, Order.livemode == livemode
    )
    order = session.scalars(query.with_for_update() if lock else query).first()
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


def lock_order(session: Session, order_id: str) -> Order:
    """An order by id, locked, whoever's it is: for the payment flows, which reached it
    through an attempt or a refund already scoped to its merchant."""
    return session.scalars(sa.select(Order).where(Order.id == order_id).with_for_update()).one()


def get_order_by_no(session: Session, merchant_id: str, livemode: bool, order_no: str) -> Order:
    order = _by_order_no(session, merchant_id, order_no)
    if order is None or order.livemode != livemode:
        raise OrderNotFound(f"no order {order_no}", param="merchant_order_no")
    return order


def list_orders(
    session: Session,
    merchant_id: str,
    livemode: bool,
    *,
    status: OrderStatus | None = None,
    user_id: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> PageResult[Order]:
    query = (
        sa.select(Order)
        .where(Order.merchant_id == merchant_id, Order.livemode == livemode)
        .order_by(Order.id)
        .limit(page_size(limit) + 1)
    )
    if status is not None:
        query = query.where(Order.status == status.value)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    if after_id is not None:
        query = query.where(Order.id > after_id)
    return trim(session.scalars(query).all(), limit)


def mark_paid(order: Order, attempt: PaymentAttempt, payer: str | None = None) -> None:
    """``attempt`` (succeeded) paid the order in full."""
    order.status = order_to(OrderStatus(order.status), OrderStatus.SUCCEEDED).value
    order.amount_paid_minor = order.amount_minor
    order.paid_attempt_id = attempt.id
    order.paid_at = attempt.succeeded_at or clock.now()
    order.updated_at = clock.now()
    if order.user_id is None and payer is not None:
        order.user_id = payer


def close_order(session: Session, merchant_id: str, livemode: bool, order_id: str) -> Order:
    """Close an unpaid order: it can no longer be paid. Closing twice changes nothing.

    Attempts still open at a channel are closed there by the order centre; a payment that
    crosses the close is refunded automatically."""
    from paydesk.payments import events, schedule
    from paydesk.payments.settle import OPEN_ATTEMPT_STATUSES

    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    if order.status == OrderStatus.CLOSED:
        return order
    order.status = order_to(OrderStatus(order.status), OrderStatus.CLOSED).value
    now = clock.now()
    order.closed_at = now
    order.updated_at = now
    session.flush()
    open_attempts = session.scalars(
        sa.select(PaymentAttempt).where(
            PaymentAttempt.order_id == order.id,
            PaymentAttempt.status.in_([s.value for s in OPEN_ATTEMPT_STATUSES]),
        )
    )
    for attempt in open_attempts:
        schedule.schedule_query(session, attempt, close=True)
    events.order_event(session, order, EventType.ORDER_CLOSED)
    return order
