"""Money: integer minor units and a currency code; rounding policies; allocation.

* An amount is an ``int`` in the currency's minor unit (fen, cent, yen, coin). Never a float.
* Every conversion from an exact ratio to minor units goes through one named rounding
  function; :data:`ROUNDING` maps each :class:`Rounding` policy to its function so a
  configuration can name the policy.
* :func:`allocate` splits an amount by weights with the largest-remainder method: the parts
  always sum to the whole, none is negative, and the same input always gives the same parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from paydesk.core.errors import InvalidRequest

ALLOCATION_PARTS_MAX = 10_000
AMOUNT_MINOR_MAX = 10**15
"""Largest amount one operation accepts (10 trillion yuan in fen): far below BIGINT's limit,
so sums of many amounts still fit."""

Exact = Fraction | Decimal | int


class CurrencyMismatch(InvalidRequest):
    code = "currency_mismatch"


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units of ``currency``."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int of minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")


def check_amount(amount_minor: int, *, param: str = "amount", allow_zero: bool = False) -> int:
    """Reject amounts a money operation must never take; return the amount."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidRequest("amount must be an integer of minor units", param=param)
    if amount_minor < 0 or (amount_minor == 0 and not allow_zero):
        floor = "zero or more" if allow_zero else "more than zero"
        raise InvalidRequest(f"amount must be {floor}", code="invalid_amount", param=param)
    if amount_minor > AMOUNT_MINOR_MAX:
        raise InvalidRequest(
            f"amount must not exceed {AMOUNT_MINOR_MAX}", code="amount_too_large", param=param
        )
    return amount_minor


# --- rounding -------------------------------------------------------------------------------


class Rounding(StrEnum):
    """Named rounding policies; configurations (fees, exchange) refer to these names."""

    HALF_UP = "half_up"
    """Ties away from zero: 2.5 -> 3, -2.5 -> -3. What most fee schedules mean by "round"."""
    HALF_EVEN = "half_even"
    """Ties to the even neighbour (banker's rounding): 2.5 -> 2, 3.5 -> 4."""
    DOWN = "down"
    """Toward zero (truncate): 2.9 -> 2, -2.9 -> -2. In the payer's favour for charges."""
    UP = "up"
    """Away from zero: 2.1 -> 3, -2.1 -> -3. In the payee's favour for charges."""
    FLOOR = "floor"
    """Toward minus infinity: 2.9 -> 2, -2.1 -> -3."""
    CEILING = "ceiling"
    """Toward plus infinity: 2.1 -> 3, -2.9 -> -2."""


def _exact(value: Exact) -> Fraction:
    if isinstance(value, float):
        raise TypeError("floats are not money: pass a Fraction, Decimal or int")
    return Fraction(value)


def round_floor(value: Exact) -> int:
    """Largest integer not above ``value``."""
    exact = _exact(value)
    return exact.numerator // exact.denominator


def round_ceiling(value: Exact) -> int:
    """Smallest integer not below ``value``."""
    exact = _exact(value)
    return -((-exact.numerator) // exact.denominator)


def round_down(value: Exact) -> int:
    """Toward zero."""
    exact = _exact(value)
    return round_floor(exact) if exact >= 0 else round_ceiling(exact)


def round_up(value: Exact) -> int:
    """Away from zero."""
    exact = _exact(value)
    return round_ceiling(exact) if exact >= 0 else round_floor(exact)


def round_half_up(value: Exact) -> int:
    """Nearest integer, ties away from zero."""
    exact = _exact(value)
    magnitude = round_floor(abs(exact) + Fraction(1, 2))
    return magnitude if exact >= 0 else -magnitude


def round_half_even(value: Exact) -> int:
    """Nearest integer, ties to even."""
    exact = _exact(value)
    floor = round_floor(exact)
    remainder = exact - floor
    if remainder > Fraction(1, 2):
        return floor + 1
    if remainder < Fraction(1, 2):
        return floor
    return floor if floor % 2 == 0 else floor + 1


ROUNDING: dict[Rounding, Callable[[Exact], int]] = {
    Rounding.HALF_UP: round_half_up,
    Rounding.HALF_EVEN: round_half_even,
    Rounding.DOWN: round_down,
    Rounding.UP: round_up,
    Rounding.FLOOR: round_floor,
    Rounding.CEILING: round_ceiling,
}


def apply_rounding(value: Exact, policy: Rounding) -> int:
    """Round ``value`` with the named ``policy``."""
    return ROUNDING[policy](value)


# --- allocation -----------------------------------------------------------------------------


def allocate(total_minor: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_minor`` in proportion to ``weights`` (largest-remainder method).

    Each part first gets the floor of its exact share; the units left over go one each to the
    parts with the largest remainders, ties to the earlier part. So the parts sum to the total,
    each is within one unit of its exact share, and the result depends on nothing but the input.
    A negative total is split as its magnitude, then negated.
    """
    if isinstance(total_minor, bool) or not isinstance(total_minor, int):
        raise TypeError("total_minor must be an int")
    if not weights:
        raise InvalidRequest("at least one weight is needed", code="invalid_allocation")
    if len(weights) > ALLOCATION_PARTS_MAX:
        raise InvalidRequest(f"at most {ALLOCATION_PARTS_MAX} parts", code="invalid_allocation")
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise InvalidRequest("weights must be integers of zero or more", code="invalid_allocation")
    weight_total = sum(weights)
    if weight_total == 0:
        raise InvalidRequest("weights must not all be zero", code="invalid_allocation")
    if total_minor < 0:
        return [-part for part in allocate(-total_minor, weights)]

    parts: list[int] = []
    remainders: list[tuple[int, int]] = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(total_minor * weight, weight_total)
        parts.append(share)
        remainders.append((-remainder, index))
    left = total_minor - sum(parts)
    for _, index in sorted(remainders)[:left]:
        parts[index] += 1
    return parts
