"""Currency conversion, pure: an amount in minor units of one currency, an exact rate (units
of the target per unit of the source), and a named rounding policy give an amount in minor
units of the other currency, rounded once.

:func:`give_back` undoes part of a conversion (a refund of part of a converted payment) at the
same rate: each part is rounded with the same policy, and the part that gives back the last of
the source amount takes exactly what is left of the target amount, so the parts always sum to
what was converted.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from paydesk.core.currencies import iso_currency
from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Rounding, apply_rounding

RATE_DIGITS_MAX = 30
RATE_MIN = Fraction(1, 10**12)
RATE_MAX = Fraction(10**12)


class InvalidRate(InvalidRequest):
    code = "invalid_rate"


def parse_rate(value: str | Decimal | Fraction) -> Fraction:
    """An exact, positive rate from a decimal string (``"7.1234"``) or a Decimal."""
    if isinstance(value, float):
        raise TypeError("a rate is a decimal string or a Decimal, never a float")
    if isinstance(value, Fraction):
        rate = value
    else:
        text = str(value).strip()
        if not text or len(text) > RATE_DIGITS_MAX:
            raise InvalidRate(f"a rate has 1 to {RATE_DIGITS_MAX} characters", param="rate")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InvalidRate(f"{text!r} is not a decimal number", param="rate") from None
        if not number.is_finite():
            raise InvalidRate("a rate is a finite number", param="rate")
        rate = Fraction(number)
    if rate <= 0:
        raise InvalidRate("a rate is more than zero", param="rate")
    if not RATE_MIN <= rate <= RATE_MAX:
        raise InvalidRate("a rate is between 1e-12 and 1e12", param="rate")
    return rate


def rate_text(rate: Fraction) -> str:
    """The rate as a decimal string when it is one exactly, else ``numerator/denominator``
    (an inverted rate may not be a finite decimal): stored as text, never rounded."""
    denominator = rate.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{rate.numerator}/{rate.denominator}"
    digits = 0
    while (rate * 10**digits).denominator != 1:
        digits += 1
    value = Decimal(rate.numerator) / Decimal(rate.denominator)
    return f"{value:.{digits}f}"


def stored_rate(text: str) -> Fraction:
    """The inverse of :func:`rate_text`."""
    if "/" in text:
        numerator, denominator = text.split("/")
        return Fraction(int(numerator), int(denominator))
    return Fraction(Decimal(text))


def exact(amount_minor: int, source: str, target: str, rate: Fraction) -> Fraction:
    """``amount_minor`` of ``source`` in minor units of ``target``, before rounding."""
    shift = iso_currency(target).exponent - iso_currency(source).exponent
    return amount_minor * rate * Fraction(10) ** shift


def convert(amount_minor: int, source: str, target: str, rate: Fraction, rounding: Rounding) -> int:
    return apply_rounding(exact(amount_minor, source, target, rate), rounding)


def give_back(
    part_from: int,
    converted_from: int,
    converted_to: int,
    given_from: int,
    given_to: int,
    rounding: Rounding,
) -> int:
    """The target amount that gives ``part_from`` of the source back, when ``converted_from``
    became ``converted_to`` and ``given_from``/``given_to`` were already given back."""
    left_from = converted_from - given_from
    if part_from <= 0 or part_from > left_from:
        raise ValueError(f"cannot give back {part_from}: more than the {left_from} left")
    if part_from == left_from:
        return converted_to - given_to
    share = apply_rounding(Fraction(part_from * converted_to, converted_from), rounding)
    return min(share, converted_to - given_to)
