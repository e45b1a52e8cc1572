"""The state machines of an order and of a payment attempt. Pure: no database.

An order is created, then paid through one or more attempts (a payer may try WeChat, give up,
and pay with Alipay). At most one attempt succeeds; a second success (both channels paid) is
not a state of the order but an attempt to refund automatically.

    order:    created -> paying -> succeeded -> partially_refunded -> refunded
                 |          |  \\
                 +----------+---> closed        (expired or closed unpaid)
                            \\--> created        (every attempt failed or closed: pay again)

    attempt:  created -> pending -> succeeded
                  |         |  \\-> failed | closed
                  |         \\---> unknown -> pending | succeeded | failed | closed
                  \\-> failed                   (the channel call timed out: the order centre
                                                 queries until the channel says)

Every transition is one named function that checks where it starts from and raises
:class:`IllegalTransition` (409 ``illegal_transition``) otherwise; it never silently passes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from paydesk.core.errors import Conflict, InvalidRequest


class OrderStatus(StrEnum):
    CREATED = "created"
    """Waiting for the payer."""
    PAYING = "paying"
    """An attempt is open at a channel."""
    SUCCEEDED = "succeeded"
    CLOSED = "closed"
    """Closed or expired unpaid: can no longer be paid."""
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    """Refunded in full: final."""


class AttemptStatus(StrEnum):
    CREATED = "created"
    """Written before the channel is called, so a crash cannot lose it."""
    PENDING = "pending"
    """The channel has it; the payer has not paid yet."""
    UNKNOWN = "unknown"
    """The channel call timed out: whether it exists there is not known until queried."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"


class RefundState(StrEnum):
    PENDING = "pending"
    """Accepted; for a channel refund, the money is set aside until the channel confirms."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The channel refused it: the money set aside went back to the merchant."""


ORDER_FLOW: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.CREATED: frozenset({OrderStatus.PAYING, OrderStatus.SUCCEEDED, OrderStatus.CLOSED}),
    OrderStatus.PAYING: frozenset(
        {OrderStatus.SUCCEEDED, OrderStatus.CLOSED, OrderStatus.CREATED, OrderStatus.PAYING}
    ),
    OrderStatus.SUCCEEDED: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}
    ),
    OrderStatus.CLOSED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}
"""Where each order status may go. CREATED -> SUCCEEDED is an instrument that completes at
once (balance, points); PAYING -> PAYING is a second attempt opened beside the first."""

ATTEMPT_FLOW: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.CREATED: frozenset(
        {
            AttemptStatus.PENDING,
            AttemptStatus.UNKNOWN,
            AttemptStatus.SUCCEEDED,
            AttemptStatus.FAILED,
        }
    ),
    AttemptStatus.PENDING: frozenset(
        {AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CLOSED}
    ),
    AttemptStatus.UNKNOWN: frozenset(
        {AttemptStatus.PENDING, AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.CLOSED}
    ),
    AttemptStatus.SUCCEEDED: frozenset(),
    AttemptStatus.FAILED: frozenset({AttemptStatus.SUCCEEDED}),
    AttemptStatus.CLOSED: frozenset({AttemptStatus.SUCCEEDED}),
}
"""A failed or closed attempt may still succeed: when the channel says the payer paid (the
payment crossed our close), the money is real; the attempt records it and is refunded
automatically, since its order is closed or paid by another attempt."""

FINAL_ORDER_STATUSES = frozenset({OrderStatus.CLOSED, OrderStatus.REFUNDED})
PAID_ORDER_STATUSES = frozenset(
    {OrderStatus.SUCCEEDED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}
)


S = TypeVar("S", bound=StrEnum)


class IllegalTransition(Conflict):
    code = "illegal_transition"


class RefundTooLarge(InvalidRequest):
    code = "refund_exceeds_paid"


class AmountMismatch(Conflict):
    """A channel reports another amount or currency than ours (a payment's or a refund's):
    never applied; the channel is asked to retry and an operator sees the error."""

    code = "channel_amount_mismatch"


def _move(flow: dict[S, frozenset[S]], current: S, target: S, what: str) -> S:
    if target not in flow[current]:
        raise IllegalTransition(f"{what}: cannot go from {current} to {target}")
    return target


def order_to(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """The order's next status, or :class:`IllegalTransition`."""
    return _move(ORDER_FLOW, current, target, "order")


def attempt_to(current: AttemptStatus, target: AttemptStatus) -> AttemptStatus:
    """The attempt's next status, or :class:`IllegalTransition`."""
    return _move(ATTEMPT_FLOW, current, target, "payment attempt")


def order_after_attempt_ends(current: OrderStatus, open_attempts: int) -> OrderStatus:
    """An attempt failed or closed: the order waits for the payer again once no attempt is
    open; it stays ``paying`` while another one still is."""
    if current is not OrderStatus.PAYING:
        raise IllegalTransition(f"order: an attempt ended while the order was {current}")
    return OrderStatus.PAYING if open_attempts > 0 else OrderStatus.CREATED


def refundable_minor(paid_minor: int, refunded_minor: int) -> int:
    """What can still be refunded: never negative."""
    return max(paid_minor - refunded_minor, 0)


def order_after_refund(
    current: OrderStatus, paid_minor: int, refunded_before_minor: int, refund_minor: int
) -> OrderStatus:
    """The order's status once ``refund_minor`` more is refunded; refunds never exceed what
    was paid, whatever their number."""
    if current not in {OrderStatus.SUCCEEDED, OrderStatus.PARTIALLY_REFUNDED}:
        raise IllegalTransition(f"order: cannot refund an order that is {current}")
    if refund_minor <= 0:
        raise InvalidRequest("a refund is more than zero", code="invalid_amount", param="amount")
    left = refundable_minor(paid_minor, refunded_before_minor)
    if refund_minor > left:
        raise RefundTooLarge(f"at most {left} can still be refunded", param="amount")
    target = OrderStatus.REFUNDED if refund_minor == left else OrderStatus.PARTIALLY_REFUNDED
    return order_to(current, target)
