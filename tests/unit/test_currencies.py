"""Currencies: ISO 4217 exponents from the package, virtual currencies validated."""

from __future__ import annotations

import pytest

from paydesk.core.currencies import (
    CurrencyKind,
    UnknownCurrency,
    iso_currencies,
    iso_currency,
    virtual_currency,
)
from paydesk.core.errors import InvalidRequest


@pytest.mark.parametrize(
    ("code", "exponent"), [("CNY", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("CLF", 4)]
)
def test_iso_exponents(code: str, exponent: int) -> None:
    currency = iso_currency(code)
    assert currency.exponent == exponent
    assert currency.kind is CurrencyKind.ISO


@pytest.mark.parametrize("code", ["XAU", "XTS", "ABC", "cny", ""])
def test_codes_without_minor_units_or_unknown_are_refused(code: str) -> None:
    with pytest.raises(UnknownCurrency) as info:
        iso_currency(code)
    assert info.value.code == "unknown_currency"


def test_the_iso_table_is_the_packages_not_a_short_list() -> None:
    codes = {currency.code for currency in iso_currencies()}
    assert len(codes) > 150
    assert {"CNY", "HKD", "EUR", "GBP", "SGD"} <= codes


def test_format_is_exact() -> None:
    assert iso_currency("CNY").format(1234) == "12.34 CNY"
    assert iso_currency("CNY").format(-5) == "-0.05 CNY"
    assert iso_currency("JPY").format(500) == "500 JPY"
    assert iso_currency("BHD").format(1001) == "1.001 BHD"


def test_virtual_currency_has_its_own_exponent() -> None:
    coins = virtual_currency("GOLD_COIN", 0, "Gold coins")
    assert (coins.code, coins.exponent, coins.kind) == ("GOLD_COIN", 0, CurrencyKind.VIRTUAL)


@pytest.mark.parametrize(
    ("code", "exponent", "error"),
    [
        ("CNY", 2, "invalid_currency_code"),
        ("XAU", 0, "invalid_currency_code"),
        ("gold", 0, "invalid_currency_code"),
        ("G", 0, "invalid_currency_code"),
        ("GEMS", 9, "invalid_exponent"),
        ("GEMS", -1, "invalid_exponent"),
    ],
)
def test_bad_virtual_currencies(code: str, exponent: int, error: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        virtual_currency(code, exponent, "x")
    assert info.value.code == error
