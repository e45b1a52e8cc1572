"""What a fee calculation returns, and how exact values are written in its explanation.

* :class:`FeeResult` is a fee in minor units with its :class:`Explanation`: the entry, the model,
  the tier, the inputs, the exact value before rounding, the rounding policy and a human text.
* :class:`PeriodClose` is the final fee of a period (graduated or volume tiers) and the
  adjustment against the provisional fees charged per transaction.
* :func:`exact_text` writes an exact value without rounding it: a decimal when it is one
  (``60.000``, at least three decimals so it reads as unrounded), else ``numerator/denominator``.
* :func:`config_error` turns a pydantic ``ValidationError`` into one coded error naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Rounding

EXACT_DECIMALS_MIN = 3
PERCENT_DECIMALS_MIN = 2
_FIELD_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")
_TAGGED_FIELDS = frozenset({"fee", "provisional"})


class StrictModel(BaseModel):
    """Configuration documents: unknown fields are refused, and a parsed document is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Explanation:
    entry_id: str | None
    """The billing rule entry that chose the model (None when a model was called directly)."""
    kind: str
    """The fee model's kind: ``fixed``, ``percentage``, ``ladder``, ..."""
    tier: int | None
    """The tier used (1 is the first), for tiered models; for a period, the highest reached."""
    inputs: Mapping[str, str]
    """The values the calculation read (amounts in minor units, rates as configured)."""
    exact: str
    """The exact fee before rounding, see :func:`exact_text`."""
    rounding: Rounding | None
    """The rounding policy applied, or None when the value needed no rounding."""
    text: str
    """The calculation in one line, e.g. ``percentage 0.60% of 10000 = 60.000 -> 60 (half_up)``."""

    def as_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "kind": self.kind,
            "tier": self.tier,
            "inputs": dict(self.inputs),
            "exact": self.exact,
            "rounding": None if self.rounding is None else self.rounding.value,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class FeeResult:
    amount_minor: int
    """The fee, in minor units of ``currency``; never negative."""
    currency: str
    explanation: Explanation = field(compare=False)


@dataclass(frozen=True, slots=True)
class PeriodClose:
    final: FeeResult
    """The fee for the whole period, from the period's totals."""
    provisional_minor: int
    """The sum of the provisional fees charged per transaction during the period."""
    adjustment_minor: int
    """``final - provisional``: what to post at period close (negative: a credit back)."""
    transaction_count: int
    amount_minor: int
    """The period's total transaction amount, in minor units."""


def _terminating_digits(value: Fraction) -> int | None:
    """Decimal digits ``value`` needs to be written exactly, or None if it never ends."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def exact_text(value: Fraction, decimals_min: int = EXACT_DECIMALS_MIN) -> str:
    """``value`` written exactly: ``60.000``, ``3.7035``, ``250/3``; never rounded."""
    digits = _terminating_digits(value)
    if digits is None:
        return f"{value.numerator}/{value.denominator}"
    digits = max(digits, decimals_min)
    scaled = value * 10**digits
    assert scaled.denominator == 1
    sign = "-" if scaled < 0 else ""
    whole, fraction = divmod(abs(scaled.numerator), 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def percent_text(rate: Fraction) -> str:
    """A rate (a fraction of the amount) as a percentage: ``0.60%``, ``0.385%``."""
    return f"{exact_text(rate * 100, PERCENT_DECIMALS_MIN)}%"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def config_error(
    exc: ValidationError, error: type[InvalidRequest], tags: frozenset[str] = frozenset()
) -> InvalidRequest:
    """The first problem of ``exc`` as ``error``, with ``param`` the dotted path of the field.

    ``tags`` are discriminator values (fee model kinds): pydantic puts the tag in the error's
    location after the field holding the union (or first, for a bare model); the document has
    no such level, so it is left out of the path. A validator that
    checks several fields names the one to blame by starting its message with ``field: ``.
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    parts: list[str] = []
    for part in map(str, first["loc"]):
        if part in tags and (not parts or parts[-1] in _TAGGED_FIELDS):
            continue
        parts.append(part)
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        parts.append("kind")
    head, colon, rest = message.partition(": ")
    if colon and head and set(head) <= _FIELD_PREFIX_CHARS:
        parts.append(head)
        message = rest
    where = ".".join(parts)
    return error(f"{where}: {message}" if where else message, param=where or None)
