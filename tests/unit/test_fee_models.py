"""Fee models, pure: worked examples with hand-computed amounts and the explanation text, the
period close of graduated and volume tiers, lump sums, configuration checks and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Rounding
from paydesk.fees.explain import FeeResult, exact_text, percent_text
from paydesk.fees.fee_calculators import calculate, close_period, lump_sum_schedule
from paydesk.fees.fee_models import InvalidFeeModel, PercentageFee, parse_fee_model
from paydesk.fees.transaction import FeeTransaction, InvalidFeeTransaction
from tests.support.fee_transactions import fee_txn

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def txn(**overrides: Any) -> FeeTransaction:
    return fee_txn(AT, **overrides)


def fee(model: dict[str, Any], **overrides: Any) -> FeeResult:
    return calculate(parse_fee_model(model), txn(**overrides), entry_id="e1")


LADDER_TIERS = [
    {"up_to": 10_000, "fee_minor": 100},
    {"up_to": 50_000, "rate_bps": 50},
    {"rate_bps": 30},
]
LADDER_IN = {"kind": "ladder", "tiers": LADDER_TIERS}
LADDER_EX = {"kind": "ladder", "tiers": LADDER_TIERS, "up_to_inclusive": False}
PER_CALL = {
    "kind": "per_call",
    "tiers": [
        {"up_to": 1, "fee_minor": 150},
        {"up_to": 5, "fee_minor": 120},
        {"fee_minor": 100},
    ],
}
VERIFY = {"scenario": "verification", "amount_minor": 0}

# name, model, transaction overrides, expected fee (minor units), expected explanation text
WORKED_EXAMPLES: list[tuple[str, dict[str, Any], dict[str, Any], int, str]] = [
    # --- fixed ---------------------------------------------------------------------------
    ("fixed", {"kind": "fixed", "amount_minor": 100}, {}, 100, "fixed 100 per transaction -> 100"),
    # --- percentage: caps, rates, rounding --------------------------------------------------
    (
        "percentage, no cap reached",
        {"kind": "percentage", "rate_bps": 60, "min_minor": 100, "max_minor": 500},
        {"amount_minor": 50_000},
        300,
        "percentage 0.60% of 50000 = 300.000 -> 300 (half_up)",
    ),
    (
        "percentage, min applies",
        {"kind": "percentage", "rate_bps": 60, "min_minor": 100},
        {},
        100,
        "percentage 0.60% of 10000 = 60.000 -> 60 (half_up); min 100 applies -> 100",
    ),
    (
        "percentage, exactly the min: no cap",
        {"kind": "percentage", "rate_bps": 60, "min_minor": 60},
        {},
        60,
        "percentage 0.60% of 10000 = 60.000 -> 60 (half_up)",
    ),
    (
        "percentage, max applies",
        {"kind": "percentage", "rate_bps": 60, "max_minor": 500},
        {"amount_minor": 100_000},
        500,
        "percentage 0.60% of 100000 = 600.000 -> 600 (half_up); max 500 applies -> 500",
    ),
    (
        "percentage, min on a zero amount",
        {"kind": "percentage", "rate_bps": 60, "min_minor": 100},
        {"amount_minor": 0},
        100,
        "percentage 0.60% of 0 = 0.000 -> 0 (half_up); min 100 applies -> 100",
    ),
    (
        "percentage, exact .5 half_up",
        {"kind": "percentage", "rate": "0.005", "rounding": "half_up"},
        {"amount_minor": 500},
        3,
        "percentage 0.50% of 500 = 2.500 -> 3 (half_up)",
    ),
    (
        "percentage, exact .5 half_even goes to the even 2",
        {"kind": "percentage", "rate": "0.005", "rounding": "half_even"},
        {"amount_minor": 500},
        2,
        "percentage 0.50% of 500 = 2.500 -> 2 (half_even)",
    ),
    (
        "percentage, exact 3.5 half_even goes to the even 4",
        {"kind": "percentage", "rate": "0.005", "rounding": "half_even"},
        {"amount_minor": 700},
        4,
        "percentage 0.50% of 700 = 3.500 -> 4 (half_even)",
    ),
    (
        "percentage, rate as an exact decimal",
        {"kind": "percentage", "rate": "0.0038"},
        {"amount_minor": 12_345},
        47,
        "percentage 0.38% of 12345 = 46.911 -> 47 (half_up)",
    ),
    (
        "percentage, a rate finer than a basis point, half_even",
        {"kind": "percentage", "rate": "0.00385", "rounding": "half_even"},
        {},
        38,
        "percentage 0.385% of 10000 = 38.500 -> 38 (half_even)",
    ),
    (
        "percentage, rounding down",
        {"kind": "percentage", "rate_bps": 60, "rounding": "down"},
        {"amount_minor": 9_999},
        59,
        "percentage 0.60% of 9999 = 59.994 -> 59 (down)",
    ),
    (
        "percentage plus a fixed part",
        {"kind": "percentage", "rate_bps": 290, "fixed_minor": 30},
        {},
        320,
        "percentage 2.90% of 10000 = 290.000 -> 290 (half_up) + fixed 30 -> 320",
    ),
    # --- ladder: tier boundaries inclusive and exclusive -------------------------------------
    (
        "ladder in, at 1st bound",
        LADDER_IN,
        {},
        100,
        "ladder tier 1 (amount <= 10000): fixed 100 -> 100",
    ),
    (
        "ladder inclusive, just above the first bound",
        LADDER_IN,
        {"amount_minor": 10_001},
        50,
        "ladder tier 2 (10000 < amount <= 50000): 0.50% of 10001 = 50.005 -> 50 (half_up)",
    ),
    (
        "ladder inclusive, at the second bound",
        LADDER_IN,
        {"amount_minor": 50_000},
        250,
        "ladder tier 2 (10000 < amount <= 50000): 0.50% of 50000 = 250.000 -> 250 (half_up)",
    ),
    (
        "ladder inclusive, above the last bound",
        LADDER_IN,
        {"amount_minor": 50_001},
        150,
        "ladder tier 3 (amount > 50000): 0.30% of 50001 = 150.003 -> 150 (half_up)",
    ),
    (
        "ladder exclusive, just below the first bound",
        LADDER_EX,
        {"amount_minor": 9_999},
        100,
        "ladder tier 1 (amount < 10000): fixed 100 -> 100",
    ),
    (
        "ladder exclusive, at the first bound: next tier",
        LADDER_EX,
        {},
        50,
        "ladder tier 2 (10000 <= amount < 50000): 0.50% of 10000 = 50.000 -> 50 (half_up)",
    ),
    (
        "ladder exclusive, at the second bound: last tier",
        LADDER_EX,
        {"amount_minor": 50_000},
        150,
        "ladder tier 3 (amount >= 50000): 0.30% of 50000 = 150.000 -> 150 (half_up)",
    ),
    # --- interest -------------------------------------------------------------------------
    (
        "interest per day over 10 days",
        {"kind": "interest", "rate_per_day": "0.0005"},
        {"amount_minor": 100_000, "holding_days": 10},
        500,
        "interest 0.05%/day x 10 days on 100000 = 500.000 -> 500 (half_up); "
        "simple interest, actual days held",
    ),
    (
        "interest over 1 day, rounded",
        {"kind": "interest", "rate_per_day": "0.0003"},
        {"amount_minor": 12_345, "holding_days": 1},
        4,
        "interest 0.03%/day x 1 day on 12345 = 3.7035 -> 4 (half_up); "
        "simple interest, actual days held",
    ),
    (
        "interest over 0 days",
        {"kind": "interest", "rate_per_day": "0.0005"},
        {"amount_minor": 100_000},
        0,
        "interest 0.05%/day x 0 days on 100000 = 0.000 -> 0 (half_up); "
        "simple interest, actual days held",
    ),
    (
        "interest from an annual rate, actual/365",
        {"kind": "interest", "rate_per_year": "0.0365", "days_per_year": 365},
        {"amount_minor": 100_000, "holding_days": 30},
        300,
        "interest 3.65%/year / 365 x 30 days on 100000 = 300.000 -> 300 (half_up); "
        "simple interest, actual/365",
    ),
    (
        "interest from an annual rate, actual/360, not a finite decimal",
        {"kind": "interest", "rate_per_year": "0.05", "days_per_year": 360},
        {"amount_minor": 100_000, "holding_days": 7},
        97,
        "interest 5.00%/year / 360 x 7 days on 100000 = 875/9 -> 97 (half_up); "
        "simple interest, actual/360",
    ),
    # --- per call (verification) ----------------------------------------------------------
    (
        "per call, zero-amount verification still costs the fee",
        PER_CALL,
        {**VERIFY, "verified_items": 1},
        150,
        "per_call tier 1 (items <= 1): 1 item x 150 -> 150",
    ),
    (
        "per call, 3 items",
        PER_CALL,
        {**VERIFY, "verified_items": 3},
        360,
        "per_call tier 2 (1 < items <= 5): 3 items x 120 -> 360",
    ),
    (
        "per call, 6 items",
        PER_CALL,
        {**VERIFY, "verified_items": 6},
        600,
        "per_call tier 3 (items > 5): 6 items x 100 -> 600",
    ),
    (
        "per call with a fee per call",
        {**PER_CALL, "call_fee_minor": 20},
        {**VERIFY, "verified_items": 5},
        620,
        "per_call tier 2 (1 < items <= 5): 5 items x 120 + call 20 -> 620",
    ),
    # --- lump sum -------------------------------------------------------------------------
    (
        "lump sum spread, a month with the extra unit",
        {"kind": "lump_sum", "amount_minor": 1_000, "charge": "monthly", "first_month": "2026-01"},
        {},
        84,
        "lump_sum 1000 spread over 12 months from 2026-01: month 3 of 12 (2026-03), "
        "1000/12 = 250/3 by largest remainder -> 84",
    ),
    (
        "lump sum spread, a month without it",
        {"kind": "lump_sum", "amount_minor": 1_000, "charge": "monthly", "first_month": "2026-01"},
        {"occurred_at": datetime(2026, 5, 31, 23, 59, tzinfo=UTC)},
        83,
        "lump_sum 1000 spread over 12 months from 2026-01: month 5 of 12 (2026-05), "
        "1000/12 = 250/3 by largest remainder -> 83",
    ),
    (
        "lump sum charged once, in its month",
        {"kind": "lump_sum", "amount_minor": 1_200_000, "charge": "once", "first_month": "2026-03"},
        {},
        1_200_000,
        "lump_sum 1200000 charged once in 2026-03 -> 1200000",
    ),
    (
        "lump sum charged once, a later month",
        {"kind": "lump_sum", "amount_minor": 1_200_000, "charge": "once", "first_month": "2026-01"},
        {},
        0,
        "lump_sum 1200000 charged once in 2026-01; nothing due in 2026-03 -> 0",
    ),
    # --- graduated and volume: the provisional fee per transaction ---------------------------
    (
        "graduated, provisional",
        {
            "kind": "graduated",
            "basis": "amount",
            "tiers": [{"up_to": 100_000, "rate_bps": 50}, {"rate_bps": 30}],
            "provisional": {"kind": "percentage", "rate_bps": 60},
        },
        {"amount_minor": 50_000},
        300,
        "graduated, provisional until period close: "
        "percentage 0.60% of 50000 = 300.000 -> 300 (half_up)",
    ),
]


@pytest.mark.parametrize(
    ("model", "overrides", "expected", "text"),
    [row[1:] for row in WORKED_EXAMPLES],
    ids=[row[0] for row in WORKED_EXAMPLES],
)
def test_worked_examples(
    model: dict[str, Any], overrides: dict[str, Any], expected: int, text: str
) -> None:
    result = fee(model, **overrides)
    assert result.amount_minor == expected
    assert result.explanation.text == text
    assert result.currency == "CNY"
    assert result.explanation.entry_id == "e1"
    assert result.explanation.kind == model["kind"]


def test_the_explanation_names_tier_inputs_exact_value_and_rounding() -> None:
    result = fee(LADDER_IN, amount_minor=10_001)
    explanation = result.explanation
    assert explanation.tier == 2
    assert explanation.exact == "50.005"
    assert explanation.rounding is Rounding.HALF_UP
    assert explanation.inputs["amount_minor"] == "10001"
    assert explanation.inputs["rate_bps"] == "50"
    assert explanation.as_json()["tier"] == 2

    fixed_tier = fee(LADDER_IN, amount_minor=5).explanation
    assert (fixed_tier.tier, fixed_tier.rounding, fixed_tier.exact) == (1, None, "100")


def test_a_zero_item_verification_is_refused_not_charged_zero() -> None:
    with pytest.raises(InvalidFeeTransaction) as caught:
        fee(PER_CALL, **VERIFY)
    assert caught.value.code == "invalid_fee_transaction"
    assert caught.value.param == "verified_items"


def test_a_lump_sum_outside_its_period_is_refused() -> None:
    model = {
        "kind": "lump_sum",
        "amount_minor": 1_000,
        "charge": "monthly",
        "first_month": "2025-03",
    }
    assert fee(model, occurred_at=datetime(2026, 2, 28, tzinfo=UTC)).amount_minor == 83
    with pytest.raises(InvalidRequest) as caught:
        fee(model, occurred_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert caught.value.code == "outside_fee_period"


def test_the_month_of_a_lump_sum_is_read_in_the_transactions_own_offset() -> None:
    model = {"kind": "lump_sum", "amount_minor": 1_200, "charge": "once", "first_month": "2026-04"}
    shanghai = timezone(timedelta(hours=8))
    # 2026-04-01 00:30 in Shanghai is still March in UTC.
    assert (
        fee(model, occurred_at=datetime(2026, 4, 1, 0, 30, tzinfo=shanghai)).amount_minor == 1_200
    )


def test_a_lump_sum_spread_over_12_months_sums_exactly() -> None:
    spread = parse_fee_model(
        {"kind": "lump_sum", "amount_minor": 1_000, "charge": "monthly", "first_month": "2026-01"}
    )
    assert lump_sum_schedule(spread) == (84, 84, 84, 84, 83, 83, 83, 83, 83, 83, 83, 83)
    once = parse_fee_model(
        {"kind": "lump_sum", "amount_minor": 999, "charge": "once", "first_month": "2026-01"}
    )
    assert lump_sum_schedule(once) == (999,) + (0,) * 11
    quarter = parse_fee_model(
        {
            "kind": "lump_sum",
            "amount_minor": 100,
            "charge": "monthly",
            "first_month": "2026-01",
            "months": 3,
        }
    )
    assert lump_sum_schedule(quarter) == (34, 33, 33)


# --- period close: graduated vs volume over the same totals ----------------------------------

AMOUNT_TIERS = [{"up_to": 100_000, "rate_bps": 50}, {"rate_bps": 30}]
COUNT_TIERS = [{"up_to": 2, "fee_minor": 100}, {"fee_minor": 50}]


def period(amounts: list[int]) -> list[FeeTransaction]:
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    return [
        txn(id=f"t{i}", amount_minor=amount, occurred_at=start + timedelta(days=i))
        for i, amount in enumerate(amounts, start=1)
    ]


def period_model(kind: str, basis: str, tiers: list[dict[str, int]], **extra: Any) -> Any:
    provisional = (
        {"kind": "percentage", "rate_bps": 60}
        if basis == "amount"
        else {"kind": "fixed", "amount_minor": 100}
    )
    document = {"kind": kind, "basis": basis, "tiers": tiers, "provisional": provisional}
    return parse_fee_model({**document, **extra})


# kind, basis, tiers, amounts, final, provisional, adjustment, text
PERIOD_EXAMPLES: list[tuple[str, str, list[dict[str, int]], list[int], int, int, int, str]] = [
    (
        "graduated",
        "amount",
        AMOUNT_TIERS,
        [50_000, 60_000, 40_000],
        650,
        900,
        -250,
        "graduated by amount, 3 transactions, amount 150000: "
        "tier 1 (amount <= 100000): 0.50% of 100000 = 500.000; "
        "tier 2 (amount > 100000): 0.30% of 50000 = 150.000; "
        "total 650.000 -> 650 (half_up); provisional 900, adjustment -250",
    ),
    (
        "volume",
        "amount",
        AMOUNT_TIERS,
        [50_000, 60_000, 40_000],
        450,
        900,
        -450,
        "volume by amount, 3 transactions, amount 150000: "
        "tier 2 (amount > 100000) reached: 0.30% of 150000 = 450.000 -> 450 (half_up); "
        "provisional 900, adjustment -450",
    ),
    (
        "graduated",
        "count",
        COUNT_TIERS,
        [10_000] * 5,
        350,
        500,
        -150,
        "graduated by count, 5 transactions, amount 50000: "
        "tier 1 (count <= 2): 2 x 100 = 200.000; tier 2 (count > 2): 3 x 50 = 150.000; "
        "total 350.000 -> 350 (half_up); provisional 500, adjustment -150",
    ),
    (
        "volume",
        "count",
        COUNT_TIERS,
        [10_000] * 5,
        250,
        500,
        -250,
        "volume by count, 5 transactions, amount 50000: "
        "tier 2 (count > 2) reached: 5 x 50 = 250.000 -> 250 (half_up); "
        "provisional 500, adjustment -250",
    ),
    (
        "graduated",
        "count",
        [{"up_to": 2, "rate_bps": 60}, {"rate_bps": 40}],
        [10_000, 20_000, 30_000],
        300,
        300,
        0,
        "graduated by count, 3 transactions, amount 60000: "
        "tier 1 (count <= 2): 0.60% of 30000 = 180.000; tier 2 (count > 2): 0.40% of 30000 "
        "= 120.000; total 300.000 -> 300 (half_up); provisional 300, adjustment 0",
    ),
    (
        "volume",
        "count",
        [{"up_to": 2, "fee_minor": 100, "rate_bps": 10}, {"fee_minor": 50}],
        [10_000, 20_000],
        230,
        200,
        30,
        "volume by count, 2 transactions, amount 30000: "
        "tier 1 (count <= 2) reached: 2 x 100 + 0.10% of 30000 = 230.000 -> 230 (half_up); "
        "provisional 200, adjustment 30",
    ),
    (
        "graduated",
        "amount",
        AMOUNT_TIERS,
        [],
        0,
        0,
        0,
        "graduated by amount, 0 transactions, amount 0: total 0.000 -> 0 (half_up); "
        "provisional 0, adjustment 0",
    ),
]


@pytest.mark.parametrize(
    ("kind", "basis", "tiers", "amounts", "final", "provisional", "adjustment", "text"),
    PERIOD_EXAMPLES,
)
def test_period_close_worked_examples(
    kind: str,
    basis: str,
    tiers: list[dict[str, int]],
    amounts: list[int],
    final: int,
    provisional: int,
    adjustment: int,
    text: str,
) -> None:
    closed = close_period(
        period_model(kind, basis, tiers), period(amounts), currency="CNY", entry_id="vol"
    )
    assert closed.final.amount_minor == final
    assert closed.provisional_minor == provisional
    assert closed.adjustment_minor == adjustment == final - provisional
    assert closed.final.explanation.text == text
    assert closed.final.explanation.entry_id == "vol"
    assert closed.transaction_count == len(amounts)
    assert closed.amount_minor == sum(amounts)


@pytest.mark.parametrize(
    ("inclusive", "final", "tier"),
    [(True, 500, 1), (False, 300, 2)],
)
def test_volume_tier_reached_at_its_bound_inclusive_or_exclusive(
    inclusive: bool, final: int, tier: int
) -> None:
    model = period_model("volume", "amount", AMOUNT_TIERS, up_to_inclusive=inclusive)
    closed = close_period(model, period([60_000, 40_000]), currency="CNY")
    assert closed.final.amount_minor == final
    assert closed.final.explanation.tier == tier


def test_graduated_count_slices_follow_the_order_transactions_occurred_in() -> None:
    model = period_model("graduated", "count", [{"up_to": 1, "rate_bps": 100}, {"rate_bps": 0}])
    later, earlier = period([10_000, 90_000])
    closed = close_period(model, [earlier, later], currency="CNY")
    assert closed.final.amount_minor == 100  # 1% of the first transaction (10000) only


def test_period_close_uses_the_provisional_fees_posted_when_given() -> None:
    model = period_model("volume", "amount", AMOUNT_TIERS)
    closed = close_period(model, period([150_000]), currency="CNY", provisional_minor=1_000)
    assert (closed.final.amount_minor, closed.adjustment_minor) == (450, -550)


def test_period_close_refuses_a_mixed_currency_period() -> None:
    model = period_model("volume", "amount", AMOUNT_TIERS)
    mixed = [*period([1_000]), txn(id="t9", currency="USD")]
    with pytest.raises(InvalidRequest) as caught:
        close_period(model, mixed, currency="CNY")
    assert caught.value.code == "currency_mismatch"


def test_only_period_models_close_a_period() -> None:
    with pytest.raises(InvalidRequest):
        close_period(parse_fee_model({"kind": "fixed", "amount_minor": 1}), [], currency="CNY")  # type: ignore[arg-type]


# --- configuration checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "param"),
    [
        ({"kind": "percentage"}, "rate"),
        ({"kind": "percentage", "rate": "0.006", "rate_bps": 60}, "rate"),
        ({"kind": "percentage", "rate": 0.006}, "rate"),
        ({"kind": "percentage", "rate": "0.6%"}, "rate"),
        ({"kind": "percentage", "rate": "1.5"}, "rate"),
        ({"kind": "percentage", "rate_bps": 60, "min_minor": 500, "max_minor": 100}, "min_minor"),
        ({"kind": "percentage", "rate_bps": 60, "rate_pct": 1}, "rate_pct"),
        ({"kind": "fixed", "amount_minor": -1}, "amount_minor"),
        ({"kind": "fixed", "amount_minor": 1.5}, "amount_minor"),
        ({"kind": "bitcoin"}, "kind"),
        ({"amount_minor": 1}, "kind"),
        ({"kind": "ladder", "tiers": []}, "tiers"),
        (
            {"kind": "ladder", "tiers": [{"up_to": 100, "fee_minor": 1}, {"up_to": 50}]},
            "tiers.1.up_to",
        ),
        ({"kind": "ladder", "tiers": [{"up_to": 100, "fee_minor": 1}]}, "tiers.0.up_to"),
        (
            {"kind": "ladder", "tiers": [{"fee_minor": 1}, {"fee_minor": 2}]},
            "tiers.0.up_to",
        ),
        ({"kind": "ladder", "tiers": [{"fee_minor": 1, "rate_bps": 2}]}, "tiers.0"),
        ({"kind": "ladder", "tiers": [{}]}, "tiers.0"),
        (
            {
                "kind": "graduated",
                "basis": "amount",
                "tiers": [{"fee_minor": 1}],
                "provisional": {"kind": "fixed", "amount_minor": 0},
            },
            "tiers.0.fee_minor",
        ),
        (
            {
                "kind": "volume",
                "basis": "count",
                "tiers": [{}],
                "provisional": {"kind": "fixed", "amount_minor": 0},
            },
            "tiers.0",
        ),
        (
            {
                "kind": "volume",
                "basis": "count",
                "tiers": [{"fee_minor": 1}],
                "provisional": {"kind": "percentage"},
            },
            "provisional.rate",
        ),
        (
            {
                "kind": "volume",
                "basis": "count",
                "tiers": [{"fee_minor": 1}],
                "provisional": {"kind": "interest", "rate_per_day": "0.001"},
            },
            "provisional.kind",
        ),
        ({"kind": "interest", "rate_per_day": "0.001", "rate_per_year": "0.1"}, "rate_per_day"),
        ({"kind": "interest", "rate_per_year": "0.1"}, "days_per_year"),
        ({"kind": "interest", "rate_per_year": "0.1", "days_per_year": 364}, "days_per_year"),
        ({"kind": "interest", "rate_per_day": "0.001", "days_per_year": 365}, "days_per_year"),
        (
            {"kind": "lump_sum", "amount_minor": 1, "charge": "once", "first_month": "2026-13"},
            "first_month",
        ),
        (
            {
                "kind": "lump_sum",
                "amount_minor": 1,
                "charge": "monthly",
                "first_month": "2026-01",
                "months": 0,
            },
            "months",
        ),
        ({"kind": "per_call", "tiers": [{"rate_bps": 5}]}, "tiers.0.rate_bps"),
        (
            {"kind": "per_call", "tiers": [{"up_to": 0, "fee_minor": 1}, {"fee_minor": 1}]},
            "tiers.0.up_to",
        ),
    ],
)
def test_invalid_configurations_name_the_field(document: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidFeeModel) as caught:
        parse_fee_model(document)
    assert caught.value.code == "invalid_fee_model"
    assert caught.value.param == param, caught.value.message
    assert caught.value.message.startswith(f"{param}: ")


def test_a_valid_model_round_trips_through_json() -> None:
    model = parse_fee_model(LADDER_EX)
    assert parse_fee_model(model.model_dump(mode="json", exclude_none=True)) == model


def test_formatting_of_exact_values_and_rates() -> None:
    from fractions import Fraction

    assert exact_text(Fraction(60)) == "60.000"
    assert exact_text(Fraction(-37035, 10_000)) == "-3.7035"
    assert exact_text(Fraction(1000, 12)) == "250/3"
    assert percent_text(Fraction(6, 1000)) == "0.60%"
    assert percent_text(Fraction(385, 100_000)) == "0.385%"
    assert percent_text(Fraction(1)) == "100.00%"


# --- properties -----------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=0, max_value=10**12)
ROUNDINGS = st.sampled_from(list(Rounding))


@given(
    amount=AMOUNTS,
    rate_bps=st.integers(min_value=0, max_value=10_000),
    low=st.none() | st.integers(min_value=0, max_value=10**6),
    span=st.none() | st.integers(min_value=0, max_value=10**6),
    rounding=ROUNDINGS,
)
def test_percentage_fee_is_never_negative_and_respects_min_and_max(
    amount: int, rate_bps: int, low: int | None, span: int | None, rounding: Rounding
) -> None:
    high = None if span is None else (low or 0) + span
    model = PercentageFee(
        kind="percentage", rate_bps=rate_bps, min_minor=low, max_minor=high, rounding=rounding
    )
    charged = calculate(model, txn(amount_minor=amount)).amount_minor
    assert charged >= 0
    if low is not None:
        assert charged >= low
    if high is not None:
        assert charged <= high
    if low is None and high is None:
        assert abs(charged - amount * rate_bps / 10_000) < 1


@st.composite
def ladders(draw: st.DrawFn) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(min_value=0, max_value=10**9), max_size=5)))
    prices = st.one_of(
        st.builds(lambda n: {"fee_minor": n}, st.integers(min_value=0, max_value=10**6)),
        st.builds(lambda n: {"rate_bps": n}, st.integers(min_value=0, max_value=10_000)),
    )
    tiers = [{"up_to": bound, **draw(prices)} for bound in bounds] + [draw(prices)]
    return {"kind": "ladder", "tiers": tiers, "up_to_inclusive": draw(st.booleans())}


@given(model=ladders(), amount=AMOUNTS)
def test_ladder_fee_is_never_negative_and_picks_a_covering_tier(
    model: dict[str, Any], amount: int
) -> None:
    result = fee(model, amount_minor=amount)
    assert result.amount_minor >= 0
    tier = model["tiers"][(result.explanation.tier or 0) - 1]
    if "up_to" in tier:
        assert amount <= tier["up_to"] if model["up_to_inclusive"] else amount < tier["up_to"]


@given(
    amount=AMOUNTS,
    days=st.integers(min_value=0, max_value=3_650),
    per_day=st.integers(min_value=0, max_value=10_000),
    rounding=ROUNDINGS,
)
def test_interest_is_never_negative(
    amount: int, days: int, per_day: int, rounding: Rounding
) -> None:
    model = {"kind": "interest", "rate_per_day": f"0.{per_day:08d}", "rounding": rounding.value}
    assert fee(model, amount_minor=amount, holding_days=days).amount_minor >= 0


@given(
    amounts=st.lists(st.integers(min_value=0, max_value=10**9), max_size=30),
    kind=st.sampled_from(["graduated", "volume"]),
    basis=st.sampled_from(["amount", "count"]),
    inclusive=st.booleans(),
)
def test_period_close_is_never_negative_and_adjusts_by_the_difference(
    amounts: list[int], kind: str, basis: str, inclusive: bool
) -> None:
    tiers = (
        [
            {"up_to": 5, "fee_minor": 100, "rate_bps": 20},
            {"up_to": 20, "fee_minor": 60},
            {"fee_minor": 10},
        ]
        if basis == "count"
        else [{"up_to": 10**6, "rate_bps": 60}, {"up_to": 10**8, "rate_bps": 40}, {"rate_bps": 5}]
    )
    model = period_model(kind, basis, tiers, up_to_inclusive=inclusive)
    closed = close_period(model, period(amounts), currency="CNY")
    assert closed.final.amount_minor >= 0
    assert closed.adjustment_minor == closed.final.amount_minor - closed.provisional_minor


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    months=st.integers(min_value=1, max_value=120),
)
def test_a_spread_lump_sum_always_sums_to_the_whole(amount: int, months: int) -> None:
    model = parse_fee_model(
        {
            "kind": "lump_sum",
            "amount_minor": amount,
            "charge": "monthly",
            "first_month": "2026-01",
            "months": months,
        }
    )
    parts = lump_sum_schedule(model)
    assert sum(parts) == amount
    assert len(parts) == months
    assert max(parts) - min(parts) <= 1
