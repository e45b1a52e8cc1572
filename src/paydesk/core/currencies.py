"""Currencies: ISO 4217 from the maintained ``iso4217`` package, virtual ones registered per app.

An ISO currency's exponent (its number of minor-unit digits: 2 for CNY, 0 for JPY, 3 for BHD)
comes from the package's copy of the ISO 4217 table, never from a hand-typed one. Codes without
minor units in ISO (gold, SDR, test code XTS) are not usable for payments.

A virtual currency (game coins, points) is registered by a merchant for one of its apps with
its own code and exponent. Its code must not be an ISO 4217 code, so a virtual amount can never
be mistaken for real money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from iso4217 import Currency as _IsoCurrency

from paydesk.core.errors import InvalidRequest

VIRTUAL_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{2,15}$")
VIRTUAL_EXPONENT_MAX = 8
ISO_CODE_PATTERN = re.compile(r"^[A-Z]{3}$")


class CurrencyKind(StrEnum):
    ISO = "iso"
    """Real money, ISO 4217."""
    VIRTUAL = "virtual"
    """A currency an app issues: game coins, points, credits."""


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    """Number of decimal digits of the minor unit: amount 1234 with exponent 2 is 12.34."""
    kind: CurrencyKind
    name: str

    def format(self, amount_minor: int) -> str:
        """Human form of an amount in minor units, e.g. ``12.34 CNY``; exact, no float."""
        if self.exponent == 0:
            return f"{amount_minor} {self.code}"
        sign = "-" if amount_minor < 0 else ""
        whole, fraction = divmod(abs(amount_minor), 10**self.exponent)
        return f"{sign}{whole}.{fraction:0{self.exponent}d} {self.code}"


class UnknownCurrency(InvalidRequest):
    code = "unknown_currency"


@cache
def _iso_table() -> dict[str, Currency]:
    table: dict[str, Currency] = {}
    for entry in _IsoCurrency:
        if entry.exponent is None:
            continue
        table[entry.code] = Currency(
            code=entry.code,
            exponent=int(entry.exponent),
            kind=CurrencyKind.ISO,
            name=str(entry.currency_name),
        )
    return table


def is_iso_code(code: str) -> bool:
    """True when ``code`` is any ISO 4217 code, with or without minor units."""
    return any(entry.code == code for entry in _IsoCurrency)


def iso_currency(code: str, *, param: str = "currency") -> Currency:
    """The ISO 4217 currency for ``code``; :class:`UnknownCurrency` if there is none."""
    currency = _iso_table().get(code)
    if currency is None:
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency with minor units", param=param)
    return currency


def iso_currencies() -> list[Currency]:
    """Every ISO 4217 currency usable for payments, by code."""
    return sorted(_iso_table().values(), key=lambda c: c.code)


def virtual_currency(code: str, exponent: int, name: str) -> Currency:
    """Validate the definition of a virtual currency and return it."""
    if not VIRTUAL_CODE_PATTERN.match(code):
        raise InvalidRequest(
            "a virtual currency code is 3 to 16 characters: capital letters, digits and _,"
            " starting with a letter",
            code="invalid_currency_code",
            param="code",
        )
    if is_iso_code(code):
        raise InvalidRequest(
            f"{code} is an ISO 4217 code; a virtual currency needs a code of its own",
            code="invalid_currency_code",
            param="code",
        )
    if not 0 <= exponent <= VIRTUAL_EXPONENT_MAX:
        raise InvalidRequest(
            f"exponent must be between 0 and {VIRTUAL_EXPONENT_MAX}",
            code="invalid_exponent",
            param="exponent",
        )
    if not name.strip():
        raise InvalidRequest("name must not be empty", param="name")
    return Currency(code=code, exponent=exponent, kind=CurrencyKind.VIRTUAL, name=name.strip())
