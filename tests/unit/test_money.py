"""Money: rounding policies, allocation and amount checks."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import (
    AMOUNT_MINOR_MAX,
    CurrencyMismatch,
    Money,
    Rounding,
    allocate,
    apply_rounding,
    check_amount,
)

ROUNDING_TABLE = [
    # value, half_up, half_even, down, up, floor, ceiling
    (Fraction(5, 2), 3, 2, 2, 3, 2, 3),
    (Fraction(7, 2), 4, 4, 3, 4, 3, 4),
    (Fraction(-5, 2), -3, -2, -2, -3, -3, -2),
    (Fraction(21, 10), 2, 2, 2, 3, 2, 3),
    (Fraction(29, 10), 3, 3, 2, 3, 2, 3),
    (Fraction(-21, 10), -2, -2, -2, -3, -3, -2),
    (Decimal("0.5"), 1, 0, 0, 1, 0, 1),
    (Decimal("1.5"), 2, 2, 1, 2, 1, 2),
    (7, 7, 7, 7, 7, 7, 7),
]
POLICIES = [
    Rounding.HALF_UP,
    Rounding.HALF_EVEN,
    Rounding.DOWN,
    Rounding.UP,
    Rounding.FLOOR,
    Rounding.CEILING,
]


@pytest.mark.parametrize("row", ROUNDING_TABLE)
def test_each_policy_rounds_as_its_name_says(row: tuple[object, ...]) -> None:
    value, *expected = row
    for policy, want in zip(POLICIES, expected, strict=True):
        assert apply_rounding(value, policy) == want, (value, policy)  # type: ignore[arg-type]


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        apply_rounding(2.5, Rounding.HALF_UP)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (10, [3, 3, 3, 1], [3, 3, 3, 1]),
        (1, [1, 1], [1, 0]),
        (0, [5, 5], [0, 0]),
        (101, [50, 50], [51, 50]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (7, [0, 1, 0], [0, 7, 0]),
        (1000, [7000, 2000, 1000], [700, 200, 100]),
    ],
)
def test_allocate_worked_examples(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocate_rejects_bad_weights(weights: list[int]) -> None:
    with pytest.raises(InvalidRequest) as info:
        allocate(10, weights)
    assert info.value.code == "invalid_allocation"


amounts = st.integers(min_value=0, max_value=AMOUNT_MINOR_MAX)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=50).filter(
    lambda ws: sum(ws) > 0
)


@given(amounts, weight_lists)
def test_allocation_sums_to_the_whole_never_negative_and_is_fair(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert all(part >= 0 for part in parts)
    weight_total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, weight_total)
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0


@given(amounts, weight_lists)
def test_allocation_is_deterministic(total: int, weights: list[int]) -> None:
    assert allocate(total, weights) == allocate(total, list(weights))


@given(st.integers(min_value=-(10**12), max_value=10**12), weight_lists)
def test_negative_totals_mirror_positive_ones(total: int, weights: list[int]) -> None:
    assert allocate(-total, weights) == [-part for part in allocate(total, weights)]


@given(st.fractions(max_denominator=10**6), st.sampled_from(POLICIES))
def test_rounding_stays_within_one_unit(value: Fraction, policy: Rounding) -> None:
    assert abs(apply_rounding(value, policy) - value) < 1


def test_money_adds_only_the_same_currency() -> None:
    assert Money(150, "CNY") + Money(50, "CNY") == Money(200, "CNY")
    with pytest.raises(CurrencyMismatch):
        Money(1, "CNY") + Money(1, "USD")
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "code"),
    [(0, "invalid_amount"), (-1, "invalid_amount"), (AMOUNT_MINOR_MAX + 1, "amount_too_large")],
)
def test_check_amount_rejects(amount: int, code: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_amount(amount)
    assert info.value.code == code
    assert check_amount(1) == 1
