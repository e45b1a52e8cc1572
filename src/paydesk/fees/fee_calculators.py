"""Fee calculators: each fee model's pure calculator (``calculate``), returning the fee in
minor units with its explanation, and the close of a period's graduated and volume tiers
(``close_period``). The models themselves, their documents and checks, are in
:mod:`paydesk.fees.fee_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from paydesk.core.money import CurrencyMismatch, allocate, apply_rounding
from paydesk.fees.explain import (
    Explanation,
    FeeResult,
    PeriodClose,
    exact_text,
    percent_text,
    plural,
)
from paydesk.fees.fee_models import (
    FeeModel,
    FixedFee,
    GraduatedFee,
    InterestFee,
    InvalidFeeModel,
    LadderFee,
    LumpSumFee,
    OutsideFeePeriod,
    PerCallFee,
    PercentageFee,
    Tier,
    VolumeFee,
)
from paydesk.fees.transaction import FeeTransaction, InvalidFeeTransaction

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
