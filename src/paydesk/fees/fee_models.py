"""Fee models: each a configuration document (``kind`` says which) and a pure calculator that
returns the fee in minor units with its explanation.

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
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import (
    AMOUNT_MINOR_MAX,
    CurrencyMismatch,
    Rounding,
    allocate,
    apply_rounding,
)
from paydesk.fees.explain import (
    Explanation,
    FeeResult,
    PeriodClose,
    StrictModel,
    config_error,
    exact_text,
    percent_text,
    plural,
)
from paydesk.fees.transaction import FeeTransaction, InvalidFeeTransaction

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


# --- tiers ----------------------------------------------------------------------------------


def _tier_ranges(tiers: Sequence[Tier], inclusive: bool) -> list[tuple[int, int | None]]:
    """Each tier's integer values ``[low, high]`` (high None: no end), from 0 up."""
    ranges: list[tuple[int, int | None]] = []
    low = 0
    for tier in tiers:
        if tier.up_to is None:
            ranges.append((low, None))
            break
        high = tier.up_to if inclusive else tier.up_to - 1
        ranges.append((low, high))
        low = high + 1
    return ranges


def _tier_of(tiers: Sequence[Tier], inclusive: bool, value: int) -> int:
    for index, (_, high) in enumerate(_tier_ranges(tiers, inclusive)):
        if high is None or value <= high:
            return index
    raise AssertionError("the last tier is unbounded")


def _tier_label(tiers: Sequence[Tier], index: int, inclusive: bool, name: str) -> str:
    low = tiers[index - 1].up_to if index else None
    high = tiers[index].up_to
    low_op, high_op = ("<", "<=") if inclusive else ("<=", "<")
    if low is not None and high is not None:
        return f"{low} {low_op} {name} {high_op} {high}"
    if high is not None:
        return f"{name} {high_op} {high}"
    if low is not None:
        return f"{name} {'>' if inclusive else '>='} {low}"
    return f"any {name}"


# --- calculators ----------------------------------------------------------------------------


def fixed_fee(model: FixedFee, txn: FeeTransaction, *, entry_id: str | None = None) -> FeeResult:
    fee = model.amount_minor
    text = f"fixed {fee} per transaction -> {fee}"
    inputs = {"amount_minor": str(fee)}
    explanation = Explanation(entry_id, model.kind, None, inputs, str(fee), None, text)
    return FeeResult(fee, txn.currency, explanation)


def percentage_fee(
    model: PercentageFee, txn: FeeTransaction, *, entry_id: str | None = None
) -> FeeResult:
    rate = model.rate_exact
    assert rate is not None
    exact = txn.amount_minor * rate
    fee = apply_rounding(exact, model.rounding)
    text = (
        f"percentage {percent_text(rate)} of {txn.amount_minor} = {exact_text(exact)} "
        f"-> {fee} ({model.rounding.value})"
    )
    inputs = {"amount_minor": str(txn.amount_minor), **model.rate_inputs()}
    if model.fixed_minor:
        fee += model.fixed_minor
        text += f" + fixed {model.fixed_minor} -> {fee}"
        inputs["fixed_minor"] = str(model.fixed_minor)
    for name in ("min_minor", "max_minor"):
        if getattr(model, name) is not None:
            inputs[name] = str(getattr(model, name))
    if model.min_minor is not None and fee < model.min_minor:
        fee = model.min_minor
        text += f"; min {fee} applies -> {fee}"
    elif model.max_minor is not None and fee > model.max_minor:
        fee = model.max_minor
        text += f"; max {fee} applies -> {fee}"
    unrounded = exact_text(exact + model.fixed_minor)
    explanation = Explanation(entry_id, model.kind, None, inputs, unrounded, model.rounding, text)
    return FeeResult(fee, txn.currency, explanation)


def ladder_fee(model: LadderFee, txn: FeeTransaction, *, entry_id: str | None = None) -> FeeResult:
    index = _tier_of(model.tiers, model.up_to_inclusive, txn.amount_minor)
    tier = model.tiers[index]
    head = f"ladder tier {index + 1} "
    head += f"({_tier_label(model.tiers, index, model.up_to_inclusive, 'amount')}): "
    inputs = {"amount_minor": str(txn.amount_minor), "tier": str(index + 1)}
    rate = tier.rate_exact
    if rate is None:
        assert tier.fee_minor is not None
        fee, exact, rounding = tier.fee_minor, str(tier.fee_minor), None
        text = f"{head}fixed {fee} -> {fee}"
        inputs["fee_minor"] = str(fee)
    else:
        value = txn.amount_minor * rate
        fee, exact, rounding = (
            apply_rounding(value, model.rounding),
            exact_text(value),
            model.rounding,
        )
        text = (
            f"{head}{percent_text(rate)} of {txn.amount_minor} = {exact} "
            f"-> {fee} ({model.rounding.value})"
        )
        inputs.update(tier.rate_inputs())
    explanation = Explanation(entry_id, model.kind, index + 1, inputs, exact, rounding, text)
    return FeeResult(fee, txn.currency, explanation)


def provisional_fee(
    model: GraduatedFee | VolumeFee, txn: FeeTransaction, *, entry_id: str | None = None
) -> FeeResult:
    """The per-transaction fee charged until the period closes (see :func:`close_period`)."""
    inner = calculate(model.provisional, txn, entry_id=entry_id)
    explanation = replace(
        inner.explanation,
        kind=model.kind,
        inputs={**inner.explanation.inputs, "provisional": model.provisional.kind},
        text=f"{model.kind}, provisional until period close: {inner.explanation.text}",
    )
    return FeeResult(inner.amount_minor, inner.currency, explanation)


def lump_sum_schedule(model: LumpSumFee) -> tuple[int, ...]:
    """What is due in each month of the period; the months always sum to ``amount_minor``."""
    if model.charge == "once":
        return (model.amount_minor,) + (0,) * (model.months - 1)
    return tuple(allocate(model.amount_minor, [1] * model.months))


def lump_sum_fee(
    model: LumpSumFee, txn: FeeTransaction, *, entry_id: str | None = None
) -> FeeResult:
    """What is due in the month of ``txn.occurred_at`` (read in its own UTC offset)."""
    at = txn.occurred_at
    year, month = (int(part) for part in model.first_month.split("-"))
    index = (at.year - year) * 12 + at.month - month
    month_text = f"{at.year:04d}-{at.month:02d}"
    if not 0 <= index < model.months:
        raise OutsideFeePeriod(
            f"{month_text} is outside the lump sum's {plural(model.months, 'month')} "
            f"from {model.first_month}",
            param="occurred_at",
        )
    due = lump_sum_schedule(model)[index]
    total = model.amount_minor
    if model.charge == "once":
        exact = str(due)
        nothing = f"; nothing due in {month_text}" if index else ""
        text = f"lump_sum {total} charged once in {model.first_month}{nothing} -> {due}"
    else:
        exact = exact_text(Fraction(total, model.months))
        text = (
            f"lump_sum {total} spread over {plural(model.months, 'month')} from "
            f"{model.first_month}: month {index + 1} of {model.months} ({month_text}), "
            f"{total}/{model.months} = {exact} by largest remainder -> {due}"
        )
    inputs = {
        "amount_minor": str(total),
        "charge": model.charge,
        "month": month_text,
        "months": str(model.months),
    }
    explanation = Explanation(entry_id, model.kind, None, inputs, exact, None, text)
    return FeeResult(due, txn.currency, explanation)


def interest_fee(
    model: InterestFee, txn: FeeTransaction, *, entry_id: str | None = None
) -> FeeResult:
    days = txn.holding_days
    inputs = {"amount_minor": str(txn.amount_minor), "holding_days": str(days)}
    if model.rate_per_day is not None:
        daily = Fraction(Decimal(model.rate_per_day))
        rate_text, convention = f"{percent_text(daily)}/day", "actual days held"
        inputs["rate_per_day"] = model.rate_per_day
    else:
        assert model.rate_per_year is not None and model.days_per_year is not None
        yearly = Fraction(Decimal(model.rate_per_year))
        daily = yearly / model.days_per_year
        rate_text = f"{percent_text(yearly)}/year / {model.days_per_year}"
        convention = f"actual/{model.days_per_year}"
        inputs["rate_per_year"] = model.rate_per_year
        inputs["days_per_year"] = str(model.days_per_year)
    exact = txn.amount_minor * daily * days
    fee = apply_rounding(exact, model.rounding)
    text = (
        f"interest {rate_text} x {plural(days, 'day')} on {txn.amount_minor} = "
        f"{exact_text(exact)} -> {fee} ({model.rounding.value}); simple interest, {convention}"
    )
    explanation = Explanation(
        entry_id, model.kind, None, inputs, exact_text(exact), model.rounding, text
    )
    return FeeResult(fee, txn.currency, explanation)


def per_call_fee(
    model: PerCallFee, txn: FeeTransaction, *, entry_id: str | None = None
) -> FeeResult:
    """Items x the tier's fee per item (+ the call fee); the amount, even 0, is not read."""
    items = txn.verified_items
    if items < 1:
        raise InvalidFeeTransaction(
            "a per_call fee is charged per verified item: verified_items is 1 or more",
            param="verified_items",
        )
    index = _tier_of(model.tiers, model.up_to_inclusive, items)
    per_item = model.tiers[index].fee_minor
    assert per_item is not None
    fee = items * per_item + model.call_fee_minor
    label = _tier_label(model.tiers, index, model.up_to_inclusive, "items")
    call = f" + call {model.call_fee_minor}" if model.call_fee_minor else ""
    text = (
        f"per_call tier {index + 1} ({label}): {plural(items, 'item')} x {per_item}{call} -> {fee}"
    )
    inputs = {
        "verified_items": str(items),
        "fee_minor": str(per_item),
        "call_fee_minor": str(model.call_fee_minor),
    }
    explanation = Explanation(entry_id, model.kind, index + 1, inputs, str(fee), None, text)
    return FeeResult(fee, txn.currency, explanation)


def calculate(model: FeeModel, txn: FeeTransaction, *, entry_id: str | None = None) -> FeeResult:
    """The fee ``model`` charges for ``txn`` (for a period model: the provisional fee)."""
    if isinstance(model, FixedFee):
        return fixed_fee(model, txn, entry_id=entry_id)
    if isinstance(model, PercentageFee):
        return percentage_fee(model, txn, entry_id=entry_id)
    if isinstance(model, LadderFee):
        return ladder_fee(model, txn, entry_id=entry_id)
    if isinstance(model, GraduatedFee | VolumeFee):
        return provisional_fee(model, txn, entry_id=entry_id)
    if isinstance(model, LumpSumFee):
        return lump_sum_fee(model, txn, entry_id=entry_id)
    if isinstance(model, InterestFee):
        return interest_fee(model, txn, entry_id=entry_id)
    return per_call_fee(model, txn, entry_id=entry_id)


# --- period close ---------------------------------------------------------------------------


def _count_price(tier: Tier, count: int, amount_minor: int) -> tuple[Fraction, str]:
    """A count tier's price for ``count`` transactions worth ``amount_minor`` together."""
    value, parts = Fraction(0), []
    if tier.fee_minor is not None:
        value += count * tier.fee_minor
        parts.append(f"{count} x {tier.fee_minor}")
    rate = tier.rate_exact
    if rate is not None:
        value += amount_minor * rate
        parts.append(f"{percent_text(rate)} of {amount_minor}")
    return value, " + ".join(parts)


def close_period(
    model: GraduatedFee | VolumeFee,
    transactions: Sequence[FeeTransaction],
    *,
    currency: str,
    entry_id: str | None = None,
    provisional_minor: int | None = None,
) -> PeriodClose:
    """The final fee of a period from its totals, and the adjustment against the provisional
    fees: ``provisional_minor`` as posted, or by default what ``model.provisional`` charges.

    Count tiers number the transactions in the order they occurred (then by id); amount tiers
    number the minor units of the period total. Graduated prices each tier's slice at its own
    price; volume prices everything at the tier the total reaches. Rounded once, at the end.
    """
    if not isinstance(model, GraduatedFee | VolumeFee):
        raise InvalidFeeModel("only graduated and volume models close a period", param="kind")
    for txn in transactions:
        if txn.currency != currency:
            raise CurrencyMismatch(f"transaction {txn.id} is in {txn.currency}, not {currency}")
    ordered = sorted(transactions, key=lambda txn: (txn.occurred_at, txn.id))
    count = len(ordered)
    amount = sum(txn.amount_minor for txn in ordered)
    if provisional_minor is None:
        provisional_minor = sum(calculate(model.provisional, txn).amount_minor for txn in ordered)
    total = count if model.basis == "count" else amount
    inclusive, tiers = model.up_to_inclusive, model.tiers

    parts: list[str] = []
    exact = Fraction(0)
    top: int | None = None
    if isinstance(model, GraduatedFee):
        for index, (low, high) in enumerate(_tier_ranges(tiers, inclusive)):
            first, last = max(1, low), total if high is None else min(total, high)
            if last < first:
                continue
            if model.basis == "count":
                slice_amount = sum(txn.amount_minor for txn in ordered[first - 1 : last])
                value, price = _count_price(tiers[index], last - first + 1, slice_amount)
            else:
                rate = tiers[index].rate_exact
                assert rate is not None
                value, price = (
                    (last - first + 1) * rate,
                    f"{percent_text(rate)} of {last - first + 1}",
                )
            exact += value
            top = index + 1
            label = _tier_label(tiers, index, inclusive, model.basis)
            parts.append(f"tier {index + 1} ({label}): {price} = {exact_text(value)}")
        final = apply_rounding(exact, model.rounding)
        parts.append(f"total {exact_text(exact)} -> {final} ({model.rounding.value})")
    else:
        index = _tier_of(tiers, inclusive, total)
        if model.basis == "count":
            exact, price = _count_price(tiers[index], count, amount)
        else:
            rate = tiers[index].rate_exact
            assert rate is not None
            exact, price = amount * rate, f"{percent_text(rate)} of {amount}"
        top = index + 1
        final = apply_rounding(exact, model.rounding)
        label = _tier_label(tiers, index, inclusive, model.basis)
        parts.append(
            f"tier {top} ({label}) reached: {price} = {exact_text(exact)} "
            f"-> {final} ({model.rounding.value})"
        )
    adjustment = final - provisional_minor
    parts.append(f"provisional {provisional_minor}, adjustment {adjustment}")
    header = f"{model.kind} by {model.basis}, {plural(count, 'transaction')}, amount {amount}: "
    inputs = {
        "basis": model.basis,
        "transaction_count": str(count),
        "amount_minor": str(amount),
        "provisional_minor": str(provisional_minor),
    }
    text = header + "; ".join(parts)
    explanation = Explanation(
        entry_id, model.kind, top, inputs, exact_text(exact), model.rounding, text
    )
    return PeriodClose(
        final=FeeResult(final, currency, explanation),
        provisional_minor=provisional_minor,
        adjustment_minor=adjustment,
        transaction_count=count,
        amount_minor=amount,
    )
