"""Currency conversion, pure: exact rates, exponents, named rounding, and giving back part of a
conversion so that every part given back sums to exactly what was converted."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from paydesk.core.money import Rounding
from paydesk.fx.convert import InvalidRate, convert, give_back, parse_rate


@pytest.mark.parametrize(
    ("amount", "source", "target", "rate", "rounding", "expected"),
    [
        # 100.00 CNY at 0.14037 USD = 14.037 USD -> 14.04 (1403.7 cents)
        (10_000, "CNY", "USD", "0.14037", Rounding.HALF_EVEN, 1404),
        # ties: 2,500 fen at 0.1401 = 350.25 cents; 2,500 at 0.1402 = 350.5
        (2_500, "CNY", "USD", "0.1402", Rounding.HALF_EVEN, 350),
        (2_500, "CNY", "USD", "0.1402", Rounding.HALF_UP, 351),
        (2_500, "CNY", "USD", "0.1402", Rounding.DOWN, 350),
        (2_500, "CNY", "USD", "0.1401", Rounding.UP, 351),
        # exponents differ: 12.34 USD at 158.2 JPY = 1952.188 yen (exponent 0)
        (1_234, "USD", "JPY", "158.2", Rounding.HALF_EVEN, 1952),
        # 1,000 yen at 0.0063 USD = 6.30 USD
        (1_000, "JPY", "USD", "0.0063", Rounding.HALF_EVEN, 630),
        # three decimals: 1.000 KWD at 3.25 USD = 3.25 USD
        (1_000, "KWD", "USD", "3.25", Rounding.HALF_EVEN, 325),
    ],
)
def test_converted_amounts_are_exact_then_rounded_once(
    amount: int, source: str, target: str, rate: str, rounding: Rounding, expected: int
) -> None:
    assert convert(amount, source, target, parse_rate(rate), rounding) == expected


def test_rates_are_exact_decimals_never_floats() -> None:
    assert parse_rate("7.1234") == Fraction(71234, 10000)
    assert parse_rate(Decimal("0.5")) == Fraction(1, 2)
    for bad in ("0", "-1.2", "abc", "1e400", "NaN", "Infinity", ""):
        with pytest.raises(InvalidRate):
            parse_rate(bad)
    with pytest.raises(TypeError):
        parse_rate(7.1)  # type: ignore[arg-type]


def test_giving_back_in_parts_returns_exactly_what_was_converted() -> None:
    # 100.00 CNY became 14.04 USD; refunds of 25.00, 25.00 and 50.00 CNY give back 3.51,
    # 3.51 and the 7.02 left: never more or less than 14.04 in all.
    converted_from, converted_to = 10_000, 1404
    given_from = given_to = 0
    parts = []
    for part in (2_500, 2_500, 5_000):
        back = give_back(
            part, converted_from, converted_to, given_from, given_to, Rounding.HALF_EVEN
        )
        parts.append(back)
        given_from += part
        given_to += back
    assert parts == [351, 351, 702]
    assert given_to == converted_to


def test_the_last_part_takes_the_remainder() -> None:
    # 3 parts of 1/3: 1404 / 3 = 468 each exactly; 1000 / 3 parts of 333, 333, 334.
    backs = []
    given_from = given_to = 0
    for part in (3_333, 3_333, 3_334):
        back = give_back(part, 10_000, 1_000, given_from, given_to, Rounding.HALF_EVEN)
        backs.append(back)
        given_from, given_to = given_from + part, given_to + back
    assert sum(backs) == 1_000
    assert backs == [333, 333, 334]


def test_giving_back_more_than_was_converted_is_refused() -> None:
    with pytest.raises(ValueError, match="more than"):
        give_back(6_000, 10_000, 1_404, 5_000, 702, Rounding.HALF_EVEN)
