"""Paying an order. So far: the platform's own money balance (``balance``), which completes at
once in the request's transaction; channel methods come next (``docs/payments.md``).

One attempt is written per try. Paying from the balance consumes the user's wallet (the
wallet's ``consume``, reference ``order:<order id>``), so the money moves from the user's cash
to the merchant's revenue in one balanced journal, and the order succeeds with it — or, if the
balance is too low, nothing at all is written.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.core.ids import new_id
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.orders import get_order
from paydesk.payments.states import AttemptStatus, OrderStatus, attempt_to, order_to
from paydesk.wallet import operations as wallet_operations
from paydesk.wallet.accounts import WalletRef

WALLET_CHANNEL = "wallet"


class PayMethod(StrEnum):
    BALANCE = "balance"
    """The user's money wallet in the order's currency."""


class OrderNotPayable(Conflict):
    code = "order_not_payable"


class MethodNotAvailable(InvalidRequest):
    code = "method_not_available"


def pay_order(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    order_id: str,
    method: str,
    user_id: str | None = None,
) -> tuple[Order, PaymentAttempt]:
    """Pay ``order_id`` with ``method``; returns the order and the attempt."""
    try:
        chosen = PayMethod(method)
    except ValueError:
        raise MethodNotAvailable(
            f"method {method!r} is not available; available: "
            + ", ".join(m.value for m in PayMethod),
            param="method",
        ) from None
    order = get_order(session, merchant_id, livemode, order_id, lock=True)
    _check_payable(order)
    payer = user_id or order.user_id
    if payer is None:
        raise InvalidRequest("a balance payment needs the paying user_id", param="user_id")
    if order.app_id is None:
        raise InvalidRequest("a balance payment needs an order created for an app", param="app_id")
    now = clock.now()
    attempt = PaymentAttempt(
        id=new_id("pat"),
        merchant_id=merchant_id,
        order_id=order.id,
        method=chosen.value,
        channel=WALLET_CHANNEL,
        channel_account_id=None,
        out_trade_no="",
        status=AttemptStatus.CREATED.value,
        amount_minor=order.amount_minor,
        currency=order.currency,
        created_at=now,
        updated_at=now,
    )
    attempt.out_trade_no = attempt.id
    session.add(attempt)
    outcome = wallet_operations.consume(
        session,
        WalletRef(merchant_id, order.app_id, payer),
        order.currency,
        order.amount_minor,
        f"order:{order.id}",
        memo=order.subject,
    )
    attempt.status = attempt_to(AttemptStatus.CREATED, AttemptStatus.SUCCEEDED).value
    attempt.journal_id = outcome.journal.id
    attempt.succeeded_at = now
    order.status = order_to(OrderStatus(order.status), OrderStatus.SUCCEEDED).value
    order.amount_paid_minor = order.amount_minor
    order.paid_at = now
    order.updated_at = now
    if order.user_id is None:
        order.user_id = payer
    session.flush()
    return order, attempt


def _check_payable(order: Order) -> None:
    if order.status not in {OrderStatus.CREATED, OrderStatus.PAYING}:
        raise OrderNotPayable(f"the order is {order.status}")
    if clock.now() >= order.expires_at:
        raise OrderNotPayable("the order has expired")


def attempts_of(session: Session, order: Order) -> list[PaymentAttempt]:
    return list(
        session.scalars(
            sa.select(PaymentAttempt)
            .where(PaymentAttempt.order_id == order.id)
            .order_by(PaymentAttempt.id)
        )
    )
