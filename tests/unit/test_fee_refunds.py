"""Refund policies: what part of a charged fee a refund gives back, for partial and repeated
refunds, with explanations; the total returned never exceeds the fee."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.money import Rounding
from paydesk.fees.refunds import (
    InvalidRefund,
    RefundPolicy,
    RefundPolicyKind,
    return_fee,
    return_fees,
)

PROPORTIONAL = RefundPolicy(kind=RefundPolicyKind.PROPORTIONAL)
NONE = RefundPolicy(kind=RefundPolicyKind.NONE)
FULL = RefundPolicy(kind=RefundPolicyKind.FULL_ON_FULL_REFUND)

# policy, fee, order amount, refunds, fee returned by each refund, explanation of each
REFUND_EXAMPLES: list[tuple[RefundPolicy, int, int, list[int], list[int], list[str]]] = [
    (
        NONE,
        61,
        10_000,
        [3_333, 3_333, 3_334],
        [0, 0, 0],
        [
            "none: fees are kept; 3333 of 10000 refunded -> return 0",
            "none: fees are kept; 6666 of 10000 refunded -> return 0",
            "none: fees are kept; 10000 of 10000 refunded -> return 0",
        ],
    ),
    (
        PROPORTIONAL,
        61,
        10_000,
        [3_333, 3_333, 3_334],
        [20, 21, 20],
        [
            "proportional: 3333 of 10000 refunded so far, 61 x 3333/10000 = 20.3313 -> 20 "
            "(half_up); 0 returned before -> return 20",
            "proportional: 6666 of 10000 refunded so far, 61 x 6666/10000 = 40.6626 -> 41 "
            "(half_up); 20 returned before -> return 21",
            "proportional: fully refunded (10000 of 10000), the fee left: "
            "61 - 41 returned before -> return 20",
        ],
    ),
    (
        FULL,
        61,
        10_000,
        [3_333, 3_333, 3_334],
        [0, 0, 61],
        [
            "full_on_full_refund: 3333 of 10000 refunded, not fully refunded -> return 0",
            "full_on_full_refund: 6666 of 10000 refunded, not fully refunded -> return 0",
            "full_on_full_refund: fully refunded (10000 of 10000), the fee left: "
            "61 - 0 returned before -> return 61",
        ],
    ),
    # A partially refunded order that is never refunded in full.
    (NONE, 60, 10_000, [3_000], [0], ["none: fees are kept; 3000 of 10000 refunded -> return 0"]),
    (
        PROPORTIONAL,
        60,
        10_000,
        [3_000],
        [18],
        [
            "proportional: 3000 of 10000 refunded so far, 60 x 3000/10000 = 18.000 -> 18 "
            "(half_up); 0 returned before -> return 18"
        ],
    ),
    (
        FULL,
        60,
        10_000,
        [3_000],
        [0],
        ["full_on_full_refund: 3000 of 10000 refunded, not fully refunded -> return 0"],
    ),
    # An exact half: half_up gives 3, half_even the even 2.
    (
        PROPORTIONAL,
        5,
        10,
        [5],
        [3],
        [
            "proportional: 5 of 10 refunded so far, 5 x 5/10 = 2.500 -> 3 (half_up); "
            "0 returned before -> return 3"
        ],
    ),
    (
        RefundPolicy(kind=RefundPolicyKind.PROPORTIONAL, rounding=Rounding.HALF_EVEN),
        5,
        10,
        [5, 5],
        [2, 3],
        [
            "proportional: 5 of 10 refunded so far, 5 x 5/10 = 2.500 -> 2 (half_even); "
            "0 returned before -> return 2",
            "proportional: fully refunded (10 of 10), the fee left: "
            "5 - 2 returned before -> return 3",
        ],
    ),
    # A single full refund.
    (
        PROPORTIONAL,
        100,
        10_000,
        [10_000],
        [100],
        [
            "proportional: fully refunded (10000 of 10000), the fee left: "
            "100 - 0 returned before -> return 100"
        ],
    ),
    # No fee was charged (a promotion): nothing to give back.
    (
        PROPORTIONAL,
        0,
        10_000,
        [4_000],
        [0],
        [
            "proportional: 4000 of 10000 refunded so far, 0 x 4000/10000 = 0.000 -> 0 "
            "(half_up); 0 returned before -> return 0"
        ],
    ),
]


@pytest.mark.parametrize(
    ("policy", "fee", "order", "refunds", "returned", "texts"), REFUND_EXAMPLES
)
def test_refund_worked_examples(
    policy: RefundPolicy,
    fee: int,
    order: int,
    refunds: list[int],
    returned: list[int],
    texts: list[str],
) -> None:
    results = return_fees(
        policy, fee_minor=fee, order_amount_minor=order, refunds=refunds, currency="CNY"
    )
    assert [r.returned_minor for r in results] == returned
    assert [r.text for r in results] == texts
    assert results[-1].returned_total_minor == sum(returned)
    assert results[-1].fee_left_minor == fee - sum(returned)
    assert all(r.currency == "CNY" and r.policy is policy.kind for r in results)


def test_one_refund_at_a_time_gives_the_same_as_the_schedule() -> None:
    first = return_fee(
        PROPORTIONAL, fee_minor=61, order_amount_minor=10_000, refund_minor=3_333, currency="CNY"
    )
    second = return_fee(
        PROPORTIONAL,
        fee_minor=61,
        order_amount_minor=10_000,
        refund_minor=6_667,
        refunded_before_minor=3_333,
        returned_before_minor=first.returned_minor,
        currency="CNY",
    )
    assert (first.returned_minor, second.returned_minor) == (20, 41)
    assert second.fully_refunded
    assert not first.fully_refunded


def test_what_was_returned_before_is_never_given_back_twice() -> None:
    # Returned before by some other rule (more than the share now due): nothing more, not less
    # than nothing.
    result = return_fee(
        PROPORTIONAL,
        fee_minor=60,
        order_amount_minor=10_000,
        refund_minor=1_000,
        refunded_before_minor=1_000,
        returned_before_minor=30,
        currency="CNY",
    )
    assert result.returned_minor == 0
    assert result.returned_total_minor == 30


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"refund_minor": 0}, "refund_minor"),
        ({"refund_minor": 10_001}, "refund_minor"),
        ({"refund_minor": 5_000, "refunded_before_minor": 6_000}, "refund_minor"),
        ({"refunded_before_minor": -1}, "refunded_before_minor"),
        ({"returned_before_minor": 61}, "returned_before_minor"),
        ({"fee_minor": -1}, "fee_minor"),
        ({"order_amount_minor": 0}, "order_amount_minor"),
    ],
)
def test_impossible_refunds_are_refused(arguments: dict[str, Any], param: str) -> None:
    values: dict[str, Any] = {
        "fee_minor": 60,
        "order_amount_minor": 10_000,
        "refund_minor": 1_000,
        "currency": "CNY",
    }
    values.update(arguments)
    with pytest.raises(InvalidRefund) as caught:
        return_fee(PROPORTIONAL, **values)
    assert caught.value.code == "invalid_refund"
    assert caught.value.param == param


def test_a_policy_is_written_as_a_name_or_an_object() -> None:
    assert RefundPolicy.model_validate("proportional") == PROPORTIONAL
    assert (
        RefundPolicy.model_validate({"kind": "proportional", "rounding": "half_even"}).rounding
        is Rounding.HALF_EVEN
    )


@st.composite
def refund_cases(draw: st.DrawFn) -> tuple[int, int, list[int], bool]:
    order = draw(st.integers(min_value=1, max_value=10**9))
    fee = draw(st.integers(min_value=0, max_value=10**7))
    cuts = draw(st.lists(st.integers(min_value=1, max_value=order), max_size=6, unique=True))
    points = sorted(set(cuts) | {order})
    full = draw(st.booleans())
    if not full and len(points) > 1:
        points = points[:-1]
    refunds = [b - a for a, b in zip([0, *points], points, strict=False)]
    return fee, order, refunds, points[-1] == order


@given(
    case=refund_cases(),
    kind=st.sampled_from(list(RefundPolicyKind)),
    rounding=st.sampled_from(list(Rounding)),
)
def test_refund_returns_never_exceed_the_fee_and_a_full_refund_returns_all_of_it(
    case: tuple[int, int, list[int], bool], kind: RefundPolicyKind, rounding: Rounding
) -> None:
    fee, order, refunds, full = case
    policy = RefundPolicy(kind=kind, rounding=rounding)
    results = return_fees(
        policy, fee_minor=fee, order_amount_minor=order, refunds=refunds, currency="CNY"
    )
    assert all(r.returned_minor >= 0 for r in results)
    total = sum(r.returned_minor for r in results)
    assert total <= fee
    if kind is RefundPolicyKind.NONE:
        assert total == 0
    elif full:
        assert total == fee
    elif kind is RefundPolicyKind.FULL_ON_FULL_REFUND:
        assert total == 0
    else:
        refunded = sum(refunds)
        assert abs(total - Fraction(fee * refunded, order)) < 1
