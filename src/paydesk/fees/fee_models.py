"""Fee models: each a configuration document (``kind`` says which), checked when parsed. Their
pure calculators are in :mod:`paydesk.fees.fee_calculators`.

    {"kind": "fixed", "amount_minor": 100}
    {"kind": "percentage", "rate_bps": 60, "min_minor": 100, "max_minor": 5000}
    {"kind": "ladder", "up_to_inclusive": true, "tiers": [
        {"up_to": 10000, "fee_minor": 100}, {"up_to": 50000, "rate_bps": 50}, {"rate": "0.003"}]}
    {"kind": "graduated" | "volume", "basis": "amount" | "count", "tiers": [...],
     "provisional": {"kind": "percentage", "rate_bps": 60}}
    {"kind": "lump_sum", "amount_minor": 1200000, "charge": "monthly", "first_month": "2026-01"}
    {"kind": "interest", "rate_per_day": "0.0005"}
    {"kind": "interest", "rate_per_year": "0.0365", "days_per_year": 365}
    {"kind": "per_call", "tiers": [{"up_to": 1, "fee_minor": 150}, {"fee_minor": 100}]}

A rate is ``rate_bps`` (hundredths of a percent: 60 is 0.60%) or ``rate``, an exact decimal
fraction of the amount (``"0.006"`` is 0.60%); never a float. Tiers are ascending by ``up_to``
and the last has none, so every value has a tier; with ``up_to_inclusive`` a value equal to a
tier's ``up_to`` is in that tier, without it, in the next. An exact value is rounded once, with
the model's named ``rounding`` (default ``half_up``), before any minimum or maximum applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import (
    AMOUNT_MINOR_MAX,
    Rounding,
)
from paydesk.fees.explain import (
    StrictModel,
    config_error,
)

TIERS_MAX = 50
LUMP_SUM_MONTHS_MAX = 120
RATE_MAX = Fraction(1)
"""A percentage or a daily rate is at most the whole amount."""
RATE_PER_YEAR_MAX = Fraction(10)
_DECIMAL = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,18})?$")
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")

Amount = Annotated[int, Field(ge=0, le=AMOUNT_MINOR_MAX)]


class InvalidFeeModel(InvalidRequest):
    code = "invalid_fee_model"


class OutsideFeePeriod(InvalidRequest):
    code = "outside_fee_period"


def parse_decimal(text: str, maximum: Fraction = RATE_MAX) -> Fraction:
    """An exact rate from a decimal string; ValueError (for pydantic) when it is not one."""
    if not _DECIMAL.match(text):
        raise ValueError("must be an exact decimal such as '0.006' for 0.6% (no exponent, no %)")
    value = Fraction(Decimal(text))
    if value > maximum:
        raise ValueError(f"must be at most {maximum}")
    return value


# --- configurations -------------------------------------------------------------------------


class _Rate(StrictModel):
    rate: str | None = Field(
        default=None, description="Exact decimal fraction of the amount: '0.006' is 0.60%."
    )
    rate_bps: int | None = Field(
        default=None, ge=0, le=10_000, description="Hundredths of a percent: 60 is 0.60%."
    )

    @field_validator("rate")
    @classmethod
    def _decimal(cls, value: str | None) -> str | None:
        if value is not None:
            parse_decimal(value)
        return value

    @property
    def rate_exact(self) -> Fraction | None:
        if self.rate_bps is not None:
            return Fraction(self.rate_bps, 10_000)
        return None if self.rate is None else Fraction(Decimal(self.rate))

    def rate_inputs(self) -> dict[str, str]:
        if self.rate_bps is not None:
            return {"rate_bps": str(self.rate_bps)}
        return {} if self.rate is None else {"rate": self.rate}


class Tier(_Rate):
    up_to: int | None = Field(
        default=None, ge=0, le=AMOUNT_MINOR_MAX, description="Upper bound; none on the last."
    )
    fee_minor: Amount | None = Field(
        default=None, description="A fixed fee; in period count tiers and per_call, per unit."
    )


def _check_tiers(tiers: Sequence[Tier], price: Callable[[str, Tier], None]) -> None:
    """Ascending bounds, only the last unbounded; ``price`` checks each tier's price."""
    previous: int | None = None
    for index, tier in enumerate(tiers):
        where = f"tiers.{index}"
        last = index == len(tiers) - 1
        if tier.up_to is None and not last:
            raise ValueError(f"{where}.up_to: only the last tier has no up_to")
        if tier.up_to is not None and last:
            raise ValueError(f"{where}.up_to: the last tier has no up_to, so every value has one")
        if tier.up_to is not None and previous is not None and tier.up_to <= previous:
            raise ValueError(f"{where}.up_to: must be above the previous tier's {previous}")
        previous = tier.up_to
        price(where, tier)


class FixedFee(StrictModel):
    kind: Literal["fixed"]
    amount_minor: Amount


class PercentageFee(_Rate):
    kind: Literal["percentage"]
    min_minor: Amount | None = None
    max_minor: Amount | None = None
    fixed_minor: Amount = Field(default=0, description="Added to the rounded percentage.")
    rounding: Rounding = Rounding.HALF_UP

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.rate is None) == (self.rate_bps is None):
            raise ValueError("rate: give rate or rate_bps (one of them)")
        low, high = self.min_minor, self.max_minor
        if low is not None and high is not None and low > high:
            raise ValueError("min_minor: must not be above max_minor")
        return self


class LadderFee(StrictModel):
    """Tiers by the transaction's own amount; the tier's price applies to the whole amount."""

    kind: Literal["ladder"]
    tiers: list[Tier] = Field(min_length=1, max_length=TIERS_MAX)
    up_to_inclusive: bool = True
    rounding: Rounding = Rounding.HALF_UP

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        def price(where: str, tier: Tier) -> None:
            given = [tier.fee_minor, tier.rate, tier.rate_bps]
            if sum(value is not None for value in given) != 1:
                raise ValueError(f"{where}: a ladder tier has fee_minor, rate or rate_bps (one)")

        _check_tiers(self.tiers, price)
        return self


ProvisionalFee = Annotated[FixedFee | PercentageFee | LadderFee, Field(discriminator="kind")]


class _PeriodTiers(StrictModel):
    basis: Literal["amount", "count"] = Field(
        description="Tiers on the period's total amount (minor units) or transaction count."
    )
    tiers: list[Tier] = Field(min_length=1, max_length=TIERS_MAX)
    up_to_inclusive: bool = True
    provisional: ProvisionalFee = Field(description="Charged per transaction until close.")
    rounding: Rounding = Rounding.HALF_UP

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        def price(where: str, tier: Tier) -> None:
            if tier.rate is not None and tier.rate_bps is not None:
                raise ValueError(f"{where}.rate: give rate or rate_bps, not both")
            if self.basis == "amount" and tier.fee_minor is not None:
                raise ValueError(f"{where}.fee_minor: is per transaction, for count tiers only")
            if self.basis == "amount" and tier.rate_exact is None:
                raise ValueError(f"{where}: an amount tier has rate or rate_bps")
            if tier.fee_minor is None and tier.rate_exact is None:
                raise ValueError(f"{where}: a count tier has fee_minor, a rate, or both")

        _check_tiers(self.tiers, price)
        return self


class GraduatedFee(_PeriodTiers):
    """At close, each slice of the period total is priced at its own tier."""

    kind: Literal["graduated"]


class VolumeFee(_PeriodTiers):
    """At close, the whole period is priced at the tier its total reached."""

    kind: Literal["volume"]


class LumpSumFee(StrictModel):
    kind: Literal["lump_sum"]
    amount_minor: Amount
    charge: Literal["once", "monthly"] = Field(
        description="All in the first month, or spread evenly over ``months``."
    )
    first_month: str = Field(description="YYYY-MM: the period's first month.")
    months: int = Field(default=12, ge=1, le=LUMP_SUM_MONTHS_MAX)

    @field_validator("first_month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _MONTH.match(value):
            raise ValueError("must be a month written YYYY-MM")
        return value


class InterestFee(StrictModel):
    """Simple interest on the amount over the transaction's ``holding_days``."""

    kind: Literal["interest"]
    rate_per_day: str | None = Field(default=None, description="'0.0005' is 0.05% a day.")
    rate_per_year: str | None = Field(default=None, description="With ``days_per_year``.")
    days_per_year: Literal[360, 365] | None = Field(
        default=None, description="Day count of an annual rate: actual/360 or actual/365."
    )
    rounding: Rounding = Rounding.HALF_UP

    @field_validator("rate_per_day")
    @classmethod
    def _daily(cls, value: str | None) -> str | None:
        if value is not None:
            parse_decimal(value)
        return value

    @field_validator("rate_per_year")
    @classmethod
    def _yearly(cls, value: str | None) -> str | None:
        if value is not None:
            parse_decimal(value, RATE_PER_YEAR_MAX)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.rate_per_day is None) == (self.rate_per_year is None):
            raise ValueError("rate_per_day: give rate_per_day or rate_per_year (one of them)")
        if self.rate_per_year is not None and self.days_per_year is None:
            raise ValueError("days_per_year: needed with rate_per_year (360 or 365)")
        if self.rate_per_day is not None and self.days_per_year is not None:
            raise ValueError("days_per_year: only with rate_per_year")
        return self


class PerCallFee(StrictModel):
    """A fee per verified item, at the tier the call's number of items falls in."""

    kind: Literal["per_call"]
    tiers: list[Tier] = Field(min_length=1, max_length=TIERS_MAX)
    up_to_inclusive: bool = True
    call_fee_minor: Amount = Field(default=0, description="Added once per call.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        def price(where: str, tier: Tier) -> None:
            for name in ("rate", "rate_bps"):
                if getattr(tier, name) is not None:
                    raise ValueError(f"{where}.{name}: a per_call tier has fee_minor only")
            if tier.fee_minor is None:
                raise ValueError(f"{where}.fee_minor: a per_call tier needs fee_minor")
            if tier.up_to is not None and tier.up_to < 1:
                raise ValueError(f"{where}.up_to: a call verifies 1 item or more")

        _check_tiers(self.tiers, price)
        return self


FeeModel = Annotated[
    FixedFee
    | PercentageFee
    | LadderFee
    | GraduatedFee
    | VolumeFee
    | LumpSumFee
    | InterestFee
    | PerCallFee,
    Field(discriminator="kind"),
]
FEE_KINDS = frozenset(
    {"fixed", "percentage", "ladder", "graduated", "volume", "lump_sum", "interest", "per_call"}
)
_FEE_MODEL: TypeAdapter[FeeModel] = TypeAdapter(FeeModel)


def parse_fee_model(document: Mapping[str, Any]) -> FeeModel:
    """Check a fee model document; :class:`InvalidFeeModel` names the field at fault."""
    try:
        return _FEE_MODEL.validate_python(dict(document))
    except ValidationError as exc:
        raise config_error(exc, InvalidFeeModel, FEE_KINDS) from None
