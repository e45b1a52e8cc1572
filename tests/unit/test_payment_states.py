"""The order and attempt state machines: every allowed move, every refused one."""

from __future__ import annotations

import itertools

import pytest

from paydesk.core.errors import PaydeskError
from paydesk.payments.states import (
    ATTEMPT_FLOW,
    ORDER_FLOW,
    AttemptStatus,
    IllegalTransition,
    OrderStatus,
    attempt_to,
    order_after_attempt_ends,
    order_after_refund,
    order_to,
)

O = OrderStatus  # noqa: E741 - short names keep the transition table readable
A = AttemptStatus

ALLOWED_ORDER_MOVES = {
    (O.CREATED, O.PAYING), (O.CREATED, O.SUCCEEDED), (O.CREATED, O.CLOSED),
    (O.PAYING, O.SUCCEEDED), (O.PAYING, O.CLOSED), (O.PAYING, O.CREATED), (O.PAYING, O.PAYING),
    (O.SUCCEEDED, O.PARTIALLY_REFUNDED), (O.SUCCEEDED, O.REFUNDED),
    (O.PARTIALLY_REFUNDED, O.PARTIALLY_REFUNDED), (O.PARTIALLY_REFUNDED, O.REFUNDED),
}  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(O, O)))
def test_order_moves_exactly_as_drawn(current: OrderStatus, target: OrderStatus) -> None:
    if (current, target) in ALLOWED_ORDER_MOVES:
        assert order_to(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            order_to(current, target)
        assert info.value.code == "illegal_transition"


def test_a_paid_order_never_goes_back_and_final_states_are_final() -> None:
    for paid in (O.SUCCEEDED, O.PARTIALLY_REFUNDED, O.REFUNDED):
        assert not ORDER_FLOW[paid] & {O.CREATED, O.PAYING, O.CLOSED}
    assert ORDER_FLOW[O.CLOSED] == ORDER_FLOW[O.REFUNDED] == frozenset()
    assert ATTEMPT_FLOW[A.SUCCEEDED] == frozenset()
    for ended in (A.FAILED, A.CLOSED):  # only the channel's word that the payer paid reopens
        assert ATTEMPT_FLOW[ended] == frozenset({A.SUCCEEDED})


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (A.CREATED, A.PENDING, True),
        (A.CREATED, A.UNKNOWN, True),
        (A.UNKNOWN, A.SUCCEEDED, True),
        (A.UNKNOWN, A.PENDING, True),
        (A.PENDING, A.SUCCEEDED, True),
        (A.SUCCEEDED, A.FAILED, False),
        (A.CLOSED, A.SUCCEEDED, True),
        (A.CLOSED, A.PENDING, False),
        (A.FAILED, A.CLOSED, False),
        (A.PENDING, A.CREATED, False),
    ],
)
def test_attempt_moves(current: AttemptStatus, target: AttemptStatus, allowed: bool) -> None:
    if allowed:
        assert attempt_to(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            attempt_to(current, target)


def test_an_ended_attempt_reopens_the_order_only_when_none_is_left() -> None:
    assert order_after_attempt_ends(O.PAYING, open_attempts=0) is O.CREATED
    assert order_after_attempt_ends(O.PAYING, open_attempts=1) is O.PAYING
    with pytest.raises(IllegalTransition):
        order_after_attempt_ends(O.SUCCEEDED, open_attempts=0)


@pytest.mark.parametrize(
    ("current", "paid", "before", "refund", "expected"),
    [
        (O.SUCCEEDED, 1000, 0, 1000, O.REFUNDED),
        (O.SUCCEEDED, 1000, 0, 1, O.PARTIALLY_REFUNDED),
        (O.PARTIALLY_REFUNDED, 1000, 600, 400, O.REFUNDED),
        (O.PARTIALLY_REFUNDED, 1000, 600, 399, O.PARTIALLY_REFUNDED),
        (O.PARTIALLY_REFUNDED, 1000, 600, 401, "refund_exceeds_paid"),
        (O.SUCCEEDED, 1000, 0, 0, "invalid_amount"),
        (O.SUCCEEDED, 1000, 0, -5, "invalid_amount"),
        (O.REFUNDED, 1000, 1000, 1, "illegal_transition"),
        (O.CREATED, 1000, 0, 1, "illegal_transition"),
        (O.CLOSED, 1000, 0, 1, "illegal_transition"),
    ],
)
def test_refunds_never_exceed_what_was_paid(
    current: OrderStatus, paid: int, before: int, refund: int, expected: object
) -> None:
    if isinstance(expected, OrderStatus):
        assert order_after_refund(current, paid, before, refund) is expected
    else:
        with pytest.raises(PaydeskError) as info:
            order_after_refund(current, paid, before, refund)
        assert info.value.code == expected
