"""The compiled batch pricer gives exactly what ``price()`` gives: the same agreement, interface,
entry and fee, or the same error (class, code, message, param), on a broad agreement set and
thousands of random transactions, and on the edges one by one (ties, bool against int,
half_even ties, the memo's bound)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Rounding
from paydesk.fees.batch import BatchPricer
from paydesk.fees.matching import Agreement, parse_agreement, price
from paydesk.fees.transaction import FeeTransaction
from tests.support.fee_transactions import fee_txn

SHANGHAI = timezone(timedelta(hours=8))
NEW_YORK = timezone(timedelta(hours=-5))
try:  # zones with daylight saving, where wall times repeat or skip (the system's tz database)
    LONDON: tzinfo | None = ZoneInfo("Europe/London")
    ZONES: tuple[tzinfo, ...] = (UTC, SHANGHAI, NEW_YORK, LONDON, ZoneInfo("America/New_York"))
except ZoneInfoNotFoundError:
    LONDON, ZONES = None, (UTC, SHANGHAI, NEW_YORK)
AT = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
POLICIES = [policy.value for policy in Rounding]

Outcome = tuple[str, ...] | tuple[str, str, str, int]


# --- the agreements -------------------------------------------------------------------------


def pct(rate: int | str, **extra: Any) -> dict[str, Any]:
    key = "rate_bps" if isinstance(rate, int) else "rate"
    return {"kind": "percentage", key: rate, **extra}


def fee_models() -> list[dict[str, Any]]:
    """Every kind, every rounding policy, inclusive and exclusive tiers, min/max/fixed."""
    models: list[dict[str, Any]] = [{"kind": "fixed", "amount_minor": 100}]
    for n, policy in enumerate(POLICIES):
        models += [
            pct("0.005", rounding=policy),
            pct(33, rounding=policy, min_minor=7, fixed_minor=3),
            pct("0.0125", rounding=policy, max_minor=900),
            pct("0.333333", rounding=policy, min_minor=2, max_minor=5_000, fixed_minor=1),
            {
                "kind": "ladder",
                "rounding": policy,
                "up_to_inclusive": policy in ("half_up", "down", "floor"),
                "tiers": [
                    {"up_to": 1_000, "fee_minor": 15},
                    {"up_to": 10_000, "rate": "0.0075"},
                    {"up_to": 100_000, "rate_bps": 45},
                    {"rate": "0.0015"},
                ],
            },
            {"kind": "interest", "rate_per_day": "0.0005", "rounding": policy},
            {
                "kind": "interest",
                "rate_per_year": "0.05",
                "days_per_year": 360 if n % 2 else 365,
                "rounding": policy,
            },
        ]
    provisional = pct(60, min_minor=1, rounding="half_even")
    for kind in ("graduated", "volume"):
        models.append(
            {
                "kind": kind,
                "basis": "amount",
                "tiers": [{"up_to": 100_000, "rate_bps": 50}, {"rate_bps": 30}],
                "provisional": provisional,
            }
        )
    models.append(
        {
            "kind": "graduated",
            "basis": "count",
            "tiers": [{"up_to": 10, "fee_minor": 5}, {"fee_minor": 3}],
            "provisional": {
                "kind": "ladder",
                "up_to_inclusive": False,
                "tiers": [{"up_to": 500, "fee_minor": 2}, {"rate": "0.004"}],
            },
        }
    )
    per_item = [{"up_to": 1, "fee_minor": 150}, {"up_to": 5, "fee_minor": 120}, {"fee_minor": 99}]
    for inclusive in (True, False):
        models.append(
            {
                "kind": "per_call",
                "tiers": per_item,
                "call_fee_minor": 20,
                "up_to_inclusive": inclusive,
            }
        )
    models += [
        {"kind": "lump_sum", "amount_minor": 1_000, "charge": "monthly", "first_month": "2026-01"},
        {"kind": "lump_sum", "amount_minor": 5_000, "charge": "once", "first_month": "2026-02"},
        {
            "kind": "lump_sum",
            "amount_minor": 777,
            "charge": "monthly",
            "first_month": "2026-02",
            "months": 2,
        },
    ]
    return models


CONDITIONS: dict[str, list[Any]] = {
    "scenario": ["collection", "payout", "verification", ["collection", "payout"]],
    "method": ["card", "wechat_native", ["card", "quickpay"]],
    "business_type": ["retail", "travel"],
    "card_type": ["debit", "credit"],
    "bank_relation": ["same_bank", "cross_bank"],
    "region": ["CN", ["HK", "MO"], "US"],
    "currency": ["CNY", "USD", ["CNY", "USD"]],
}
ATTRIBUTE_CONDITIONS: list[dict[str, Any]] = [
    {"vip": True},
    {"vip": 1},
    {"tier": 0},
    {"tier": False},
    {"mcc": "5812"},
    {"mcc": "5812", "vip": True},
    {"campaign": "spring"},
]
AMOUNT_RANGES: list[dict[str, int]] = [
    {"amount_max": 1_000},
    {"amount_min": 1_000},
    {"amount_min": 1, "amount_max": 2_000},
    {"amount_min": 50_000, "amount_max": 50_000},
]


def random_entries(
    rng: random.Random, prefix: str, count: int, conditions_min: int = 0
) -> list[dict[str, Any]]:
    """``count`` entries drawing conditions from small domains, so many overlap and tie."""
    models = fee_models()
    entries = []
    for n in range(count):
        when: dict[str, Any] = {}
        drawn = max(conditions_min, rng.choice((0, 1, 1, 2, 2, 3)))
        for name in rng.sample(sorted(CONDITIONS), drawn):
            when[name] = rng.choice(CONDITIONS[name])
        if rng.random() < 0.3:
            when.update(rng.choice(AMOUNT_RANGES))
        if rng.random() < 0.25:
            when["attributes"] = rng.choice(ATTRIBUTE_CONDITIONS)
        entries.append(
            {
                "id": f"{prefix}-{n:03d}",
                "priority": rng.choice((10, 50, 100, 100, 100)),
                "when": when,
                "fee": rng.choice(models),
            }
        )
    return entries


def agreement(
    agreement_id: str,
    valid_from: datetime,
    valid_to: datetime | None,
    interfaces: dict[str, list[dict[str, Any]]],
    currency: str = "CNY",
) -> Agreement:
    return parse_agreement(
        {
            "id": agreement_id,
            "party": "acquirer",
            "party_type": "channel",
            "currency": currency,
            "valid_from": valid_from.isoformat(),
            "valid_to": None if valid_to is None else valid_to.isoformat(),
            "refund_policy": "proportional",
            "interfaces": [
                {"id": interface, "entries": entries} for interface, entries in interfaces.items()
            ],
        }
    )


def agreement_set(seed: int) -> list[Agreement]:
    """Two CNY agreements back to back (the change at midnight in Shanghai), a gap, a USD one,
    and an agreement overlapping it; two interfaces each, every model kind among the entries,
    and a catch-all on one interface only, the other's entries having 2 conditions or more
    (so some rows match nothing)."""
    rng = random.Random(seed)

    def interfaces(name: str) -> dict[str, list[dict[str, Any]]]:
        first = random_entries(rng, f"{name}-a", 40)
        first.append({"id": f"{name}-a-any", "priority": 1_000, "fee": pct(60, min_minor=1)})
        return {"acq-a": first, "acq-b": random_entries(rng, f"{name}-b", 25, conditions_min=2)}

    change = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    return [
        agreement("cny-1", datetime(2026, 1, 1, tzinfo=SHANGHAI), change, interfaces("c1")),
        agreement("cny-2", change, datetime(2026, 5, 1, tzinfo=UTC), interfaces("c2")),
        agreement("usd", datetime(2026, 6, 1, tzinfo=UTC), None, interfaces("u"), "USD"),
        agreement(
            "usd-overlap",
            datetime(2026, 7, 1, tzinfo=NEW_YORK),
            datetime(2026, 7, 2, tzinfo=NEW_YORK),
            interfaces("o"),
            "USD",
        ),
    ]


# --- the transactions -----------------------------------------------------------------------

AMOUNTS = [0, 1, 2, 99, 100, 101, 500, 700, 999, 1_000, 1_001, 2_000, 2_001, 9_999, 10_000]
AMOUNTS += [10_001, 49_999, 50_000, 50_001, 99_999, 100_000, 100_001, 200, 600, 1_400]
MOMENTS = [
    datetime(2026, 1, 1, tzinfo=SHANGHAI),
    datetime(2026, 3, 1, tzinfo=SHANGHAI),
    datetime(2026, 5, 1, tzinfo=UTC),
    datetime(2026, 6, 1, tzinfo=UTC),
    datetime(2026, 7, 1, tzinfo=NEW_YORK),
    datetime(2026, 7, 2, tzinfo=NEW_YORK),
    datetime(2026, 2, 1, tzinfo=UTC),  # a month boundary for the lump sums
    datetime(2026, 4, 1, tzinfo=SHANGHAI),
]
ATTRIBUTES: list[dict[str, Any]] = [
    {},
    {"vip": True},
    {"vip": 1},
    {"vip": False, "tier": 0},
    {"tier": False},
    {"mcc": "5812"},
    {"mcc": 5812, "vip": True},
    {"mcc": "5812", "vip": True, "campaign": "spring"},
    {"mcc": "5812", "vip": 1},
]


def random_txn(rng: random.Random, n: int) -> FeeTransaction:
    if rng.random() < 0.4:
        at = rng.choice(MOMENTS) + timedelta(microseconds=rng.choice((-1, 0, 0, 1)))
    else:
        at = datetime(2025, 12, 20, tzinfo=UTC) + timedelta(seconds=rng.randrange(230 * 86_400))
    at = at.astimezone(rng.choice(ZONES))
    amount = rng.choice(AMOUNTS) if rng.random() < 0.5 else int(10 ** (rng.random() * 8))

    def pick(name: str) -> Any:
        flat = [
            v for value in CONDITIONS[name] for v in ([value] if isinstance(value, str) else value)
        ]
        return None if rng.random() < 0.25 else rng.choice(flat)

    usual = "USD" if at >= datetime(2026, 6, 1, tzinfo=UTC) else "CNY"
    return FeeTransaction(
        id=f"t{n}",
        scenario=pick("scenario") or "collection",
        amount_minor=amount,
        currency=rng.choice(("CNY", "USD", "EUR")) if rng.random() < 0.1 else usual,
        occurred_at=at,
        business_type=pick("business_type"),
        method=pick("method"),
        card_type=pick("card_type"),
        bank_relation=pick("bank_relation"),
        region=pick("region"),
        interface_id=rng.choice((None, None, "acq-a", "acq-b", "acq-x")),
        verified_items=rng.choice((0, 1, 1, 2, 5, 6, 7)),
        holding_days=rng.choice((0, 1, 7, 30, 365)),
        attributes=rng.choice(ATTRIBUTES),
    )


class CountingPricer(BatchPricer):
    """Counts the rows handed to ``price()``: a priced row must never need it, or the
    equivalence would hold merely because every row fell back."""

    fallbacks = 0

    def price_txn_explained(self, txn: FeeTransaction) -> tuple[str, str, str, int]:
        self.fallbacks += 1
        return super().price_txn_explained(txn)


def full(agreements: list[Agreement], txn: FeeTransaction) -> Outcome:
    try:
        priced = price(agreements, txn)
    except InvalidRequest as exc:
        return (type(exc).__name__, exc.code, exc.message, str(exc.param))
    return priced.agreement_id, priced.interface_id, priced.entry_id, priced.fee.amount_minor


def batch(pricer: BatchPricer, txn: FeeTransaction) -> Outcome:
    try:
        return pricer.price_txn(txn)
    except InvalidRequest as exc:
        return (type(exc).__name__, exc.code, exc.message, str(exc.param))


# --- equivalence ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_pricer_agrees_with_price_on_random_transactions(seed: int) -> None:
    agreements = agreement_set(seed)
    pricer = CountingPricer(agreements)
    naive = CountingPricer(agreements, naive_utc=True)
    rng = random.Random(seed * 1_000)
    outcomes: dict[str, int] = {}
    for n in range(4_000):
        txn = random_txn(rng, n)
        expected = full(agreements, txn)
        fallbacks = pricer.fallbacks
        assert batch(pricer, txn) == expected, txn
        # The memo is warm now: the second time takes the memoized path.
        assert batch(pricer, txn) == expected, txn
        priced = not isinstance(expected[3], str)
        assert pricer.fallbacks == fallbacks + (0 if priced else 2), txn
        # The same moment in naive UTC, as SQLite returns it, on a pricer made for that.
        in_utc = replace(txn, occurred_at=txn.occurred_at.astimezone(UTC))
        fallbacks = naive.fallbacks
        assert batch(naive, in_utc) == full(agreements, in_utc), txn
        assert naive.fallbacks == fallbacks + isinstance(full(agreements, in_utc)[3], str)
        kind = "priced" if priced else expected[1]
        outcomes[kind] = outcomes.get(kind, 0) + 1
    # The data reaches every path: priced rows and each error price() can raise here.
    assert outcomes["priced"] > 1_500, outcomes
    for code in (
        "no_valid_agreement",
        "overlapping_agreements",
        "currency_mismatch",
        "unknown_interface",
        "no_matching_entry",
    ):
        assert outcomes.get(code, 0) > 5, (code, outcomes)


def test_every_fee_model_and_rounding_policy_agrees_with_price() -> None:
    models = fee_models()
    entries = [
        {"id": f"m{n:03d}", "priority": n, "when": {"region": "CN"}, "fee": model}
        for n, model in enumerate(models)
    ]
    rng = random.Random(5)
    for n, _ in enumerate(models):
        # Each model alone wins: only its entry lets region CN in at a priority this low.
        only = [entries[n]]
        agreements = [agreement("a", datetime(2026, 1, 1, tzinfo=UTC), None, {"i": only})]
        pricer = CountingPricer(agreements)
        for k in range(300):
            txn = FeeTransaction(
                id=f"t{k}",
                scenario="collection",
                amount_minor=rng.choice(AMOUNTS) if k % 2 else int(10 ** (rng.random() * 9)),
                currency="CNY",
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(120)),
                region="CN",
                verified_items=rng.randrange(8),
                holding_days=rng.randrange(400),
            )
            fallbacks, expected = pricer.fallbacks, full(agreements, txn)
            assert batch(pricer, txn) == expected, (models[n], txn)
            assert pricer.fallbacks == fallbacks + isinstance(expected[3], str)


# --- the edges ------------------------------------------------------------------------------


def one_agreement(entries: list[dict[str, Any]], currency: str = "CNY") -> list[Agreement]:
    return [agreement("a", datetime(2026, 1, 1, tzinfo=UTC), None, {"i": entries}, currency)]


def txn(**overrides: Any) -> FeeTransaction:
    return fee_txn(AT, **overrides)


def test_ties_resolve_by_specificity_then_id_whatever_the_order() -> None:
    entries = [
        {"id": "b-method", "when": {"method": "card"}, "fee": pct(10)},
        {"id": "a-region", "when": {"region": "CN"}, "fee": pct(20)},
        {"id": "z-both", "when": {"method": "card", "region": "CN"}, "fee": pct(30)},
        {"id": "c-ranged", "when": {"method": "card", "amount_min": 5_000}, "fee": pct(40)},
    ]
    cases = [
        ({"method": "card", "region": "CN", "amount_minor": 10_000}, "c-ranged", 40),
        ({"method": "card", "region": "CN", "amount_minor": 4_999}, "z-both", 15),
        ({"method": "card", "region": "US", "amount_minor": 4_999}, "b-method", 5),
        ({"method": "cash", "region": "CN", "amount_minor": 10_000}, "a-region", 20),
    ]
    for ordered in (entries, entries[::-1]):
        agreements = one_agreement(ordered)
        pricer = BatchPricer(agreements)
        for overrides, winner, fee in cases:
            one = txn(**overrides)
            assert pricer.price_txn(one) == ("a", "i", winner, fee)
            assert full(agreements, one) == ("a", "i", winner, fee)


def test_a_lower_priority_entry_wins_even_when_less_specific() -> None:
    entries = [
        {
            "id": "specific",
            "priority": 100,
            "when": {"method": "card", "region": "CN"},
            "fee": pct(10),
        },
        {"id": "promo", "priority": 10, "when": {}, "fee": {"kind": "fixed", "amount_minor": 0}},
    ]
    assert BatchPricer(one_agreement(entries)).price_txn(txn(method="card", region="CN")) == (
        "a",
        "i",
        "promo",
        0,
    )


@pytest.mark.parametrize(
    ("wanted", "given", "matched"),
    [
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (1, 1, True),
        (0, False, False),
        (False, 0, False),
        ("1", 1, False),
        ("1", "1", True),
    ],
)
def test_attributes_must_be_equal_in_value_and_type(wanted: Any, given: Any, matched: bool) -> None:
    entries = [
        {"id": "flagged", "priority": 10, "when": {"attributes": {"flag": wanted}}, "fee": pct(10)},
        {"id": "any", "fee": pct(20)},
    ]
    agreements = one_agreement(entries)
    one = txn(attributes={"flag": given, "other": True})
    expected = ("a", "i", "flagged" if matched else "any", 10 if matched else 20)
    assert BatchPricer(agreements).price_txn(one) == expected == full(agreements, one)


def test_entries_testing_one_attribute_in_a_row_keep_their_order_and_types() -> None:
    # Same priority and specificity: ranked by id, so a..e are tested in that order.
    entries = [
        {"id": "a", "when": {"attributes": {"flag": True}}, "fee": pct(10)},
        {"id": "b", "when": {"attributes": {"flag": 1}}, "fee": pct(20)},
        {"id": "c", "when": {"attributes": {"flag": "1"}}, "fee": pct(30)},
        {"id": "d", "when": {"attributes": {"flag": 2}, "amount_max": 1_000}, "fee": pct(40)},
        {"id": "e", "when": {"attributes": {"flag": 2}}, "fee": pct(50)},
        {"id": "f", "when": {"attributes": {"other": 2}}, "fee": pct(60)},
        {"id": "g", "when": {"attributes": {"other": 5, "more": True}}, "fee": pct(65)},
        {"id": "z", "priority": 500, "fee": pct(70)},
    ]
    agreements = one_agreement(entries[::-1])
    pricer = BatchPricer(agreements)
    cases = [
        ({"flag": True}, 10_000, "a"),
        ({"flag": 1}, 10_000, "b"),
        ({"flag": "1"}, 10_000, "c"),
        ({"flag": 2}, 1_000, "d"),
        ({"flag": 2}, 1_001, "e"),
        ({"flag": 2, "other": 2}, 1_001, "e"),
        ({"flag": 3, "other": 2}, 1_001, "f"),
        ({"other": 5, "more": True}, 1_001, "g"),
        ({"other": 5, "more": 1}, 1_001, "z"),
        ({"flag": False}, 10_000, "z"),
        ({"flag": 0}, 10_000, "z"),
        ({}, 10_000, "z"),
    ]
    for attributes, amount, winner in cases:
        one = txn(attributes=attributes, amount_minor=amount)
        assert pricer.price_txn(one)[2] == winner == full(agreements, one)[2], attributes


def test_a_missing_attribute_does_not_match() -> None:
    entries = [{"id": "flagged", "when": {"attributes": {"flag": True}}, "fee": pct(10)}]
    agreements = one_agreement(entries)
    one = txn(attributes={"other": True})
    with pytest.raises(InvalidRequest) as caught:
        BatchPricer(agreements).price_txn(one)
    assert caught.value.code == "no_matching_entry"
    assert full(agreements, one) == (
        "NoMatchingEntry",
        "no_matching_entry",
        caught.value.message,
        "transaction",
    )


@pytest.mark.parametrize(
    ("rounding", "amount", "fee"),
    [
        ("half_even", 500, 2),  # 2.5
        ("half_even", 700, 4),  # 3.5
        ("half_even", 701, 4),  # 3.505
        ("half_even", 699, 3),  # 3.495
        ("half_up", 500, 3),
        ("half_up", 499, 2),  # 2.495
        ("down", 599, 2),
        ("floor", 599, 2),
        ("up", 401, 3),  # 2.005
        ("ceiling", 400, 2),
        ("ceiling", 401, 3),
    ],
)
def test_rounding_policies_including_half_even_ties(rounding: str, amount: int, fee: int) -> None:
    for model in (
        pct("0.005", rounding=rounding),
        {
            "kind": "ladder",
            "rounding": rounding,
            "tiers": [{"up_to": 10, "fee_minor": 9}, {"rate_bps": 50}],
        },
        {"kind": "interest", "rate_per_day": "0.0005", "rounding": rounding},
    ):
        agreements = one_agreement([{"id": "e", "fee": model}])
        # Interest: 0.05% a day x 10 days is 0.5% too.
        one = txn(amount_minor=amount, holding_days=10 if model["kind"] == "interest" else 0)
        assert (
            BatchPricer(agreements).price_txn(one) == ("a", "i", "e", fee) == full(agreements, one)
        )


def test_min_and_max_apply_after_rounding_and_the_fixed_part() -> None:
    model = pct(50, min_minor=10, max_minor=100, fixed_minor=5)
    pricer = BatchPricer(one_agreement([{"id": "e", "fee": model}]))
    amounts = (0, 999, 1_000, 3_000, 18_999, 19_000, 40_000)
    assert [pricer.price_txn(txn(amount_minor=a))[3] for a in amounts] == [
        10,
        10,
        10,
        20,
        100,
        100,
        100,
    ]
    assert pricer.price_txn(txn(amount_minor=1_100))[3] == 11  # 5.5 -> 6, + 5


def test_the_memo_is_bounded_and_stays_correct() -> None:
    entries = [
        {"id": "cn", "when": {"region": "CN"}, "fee": pct(10)},
        {"id": "any", "priority": 500, "fee": pct(20)},
    ]
    agreements = one_agreement(entries)
    pricer = BatchPricer(agreements, memo_max=10)
    regions = ["CN"] + [f"R{n}" for n in range(100)]
    for _ in range(2):
        for region in regions:
            one = txn(region=region)
            assert pricer.price_txn(one) == full(agreements, one)
            assert pricer.memo_size <= 10
    assert pricer.memo_size > 0
    unbounded = BatchPricer(agreements)
    for region in regions:
        unbounded.price_txn(txn(region=region))
    assert unbounded.memo_size == len(regions)


def test_fields_and_transactions_price_alike_and_the_defaults_are_the_transactions() -> None:
    entries = [
        {"id": "vip", "priority": 10, "when": {"attributes": {"vip": True}}, "fee": pct(10)},
        {"id": "any", "fee": pct(60)},
    ]
    pricer = BatchPricer(one_agreement(entries))
    assert pricer.price_fields("t", "collection", 10_000, "CNY", AT) == ("a", "i", "any", 60)
    assert pricer.price_fields("t", "collection", 10_000, "CNY", AT, attributes={"vip": True}) == (
        "a",
        "i",
        "vip",
        10,
    )
    assert pricer.price_txn(txn(attributes={"vip": True})) == ("a", "i", "vip", 10)


@pytest.mark.parametrize(
    ("entries", "overrides", "code"),
    [
        (
            [{"id": "v", "fee": {"kind": "per_call", "tiers": [{"fee_minor": 1}]}}],
            {"verified_items": 0},
            "invalid_fee_transaction",
        ),
        (
            [
                {
                    "id": "l",
                    "fee": {
                        "kind": "lump_sum",
                        "amount_minor": 12,
                        "charge": "monthly",
                        "first_month": "2026-03",
                        "months": 2,
                    },
                }
            ],
            {"occurred_at": datetime(2026, 2, 28, 23, 0, tzinfo=UTC)},
            "outside_fee_period",
        ),
        ([{"id": "e", "fee": pct(1)}], {"currency": "USD"}, "currency_mismatch"),
        ([{"id": "e", "fee": pct(1)}], {"interface_id": "nope"}, "unknown_interface"),
        (
            [{"id": "e", "fee": pct(1)}],
            {"occurred_at": datetime(2025, 12, 31, tzinfo=UTC)},
            "no_valid_agreement",
        ),
        ([{"id": "e", "when": {"region": "CN"}, "fee": pct(1)}], {}, "no_matching_entry"),
        ([], {}, "no_matching_entry"),
    ],
)
def test_what_price_refuses_the_batch_pricer_refuses_alike(
    entries: list[dict[str, Any]], overrides: dict[str, Any], code: str
) -> None:
    agreements = one_agreement(entries)
    one = txn(**overrides)
    expected = full(agreements, one)
    assert expected[1] == code
    assert batch(BatchPricer(agreements), one) == expected


@pytest.mark.parametrize("naive_utc", [False, True])
def test_a_lump_sum_month_is_read_in_the_transactions_own_offset(naive_utc: bool) -> None:
    model = {"kind": "lump_sum", "amount_minor": 5_000, "charge": "once", "first_month": "2026-02"}
    pricer = BatchPricer(one_agreement([{"id": "l", "fee": model}]), naive_utc=naive_utc)
    # 2026-01-31 20:00 UTC is already February in Shanghai.
    at = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    assert pricer.price_txn(txn(occurred_at=at.astimezone(SHANGHAI)))[3] == 5_000
    with pytest.raises(InvalidRequest) as caught:
        pricer.price_txn(txn(occurred_at=at))
    assert caught.value.code == "outside_fee_period"


def test_a_naive_utc_pricer_reads_naive_times_as_utc_and_refuses_aware_ones() -> None:
    change = datetime(2026, 3, 15, tzinfo=SHANGHAI)  # 2026-03-14 16:00 UTC
    old = agreement(
        "old", datetime(2026, 1, 1, tzinfo=UTC), change, {"i": [{"id": "c", "fee": pct(60)}]}
    )
    new = agreement("new", change, None, {"i": [{"id": "c", "fee": pct(38)}]})
    pricer = BatchPricer([old, new], naive_utc=True)
    fields = ("t", "collection", 10_000, "CNY")
    assert pricer.price_fields(*fields, datetime(2026, 3, 14, 15, 59, 59)) == ("old", "i", "c", 60)
    assert pricer.price_fields(*fields, datetime(2026, 3, 14, 16, 0)) == ("new", "i", "c", 38)
    with pytest.raises(InvalidRequest) as caught:  # the fallback gets an aware time
        pricer.price_fields(*fields, datetime(2025, 3, 14, 16, 0))
    assert caught.value.message == "no agreement is valid at 2025-03-14T16:00:00+00:00"
    with pytest.raises(TypeError):
        pricer.price_fields(*fields, datetime(2026, 3, 14, 16, 0, tzinfo=UTC))
    with pytest.raises(TypeError):
        BatchPricer([old, new]).price_fields(*fields, datetime(2026, 3, 14, 16, 0))


@pytest.mark.skipif(LONDON is None, reason="no time zone database")
def test_bounds_in_an_hour_that_repeats_compare_instants_not_wall_times() -> None:
    # London's clocks go back at 2026-10-25 01:00 UTC: wall times 01:00-02:00 happen twice.
    # The agreement changes at 01:30 UTC (01:30 GMT, the second time round), so 01:45 BST
    # (00:45 UTC, the first time round) is still under the old one though its wall time is later.
    change = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    old = agreement(
        "old", datetime(2026, 1, 1, tzinfo=UTC), change, {"i": [{"id": "c", "fee": pct(60)}]}
    )
    new = agreement("new", change, None, {"i": [{"id": "c", "fee": pct(38)}]})
    pricer = BatchPricer([old, new])
    assert (
        pricer.price_txn(txn(occurred_at=datetime(2026, 10, 25, 1, 45, tzinfo=LONDON)))[0] == "old"
    )
    assert (
        pricer.price_txn(txn(occurred_at=datetime(2026, 10, 25, 1, 45, fold=1, tzinfo=LONDON)))[0]
        == "new"
    )
    at = datetime(2026, 10, 23, tzinfo=UTC)
    while at < datetime(2026, 10, 28, tzinfo=UTC):
        one = txn(occurred_at=at.astimezone(LONDON))
        assert pricer.price_txn(one) == full([old, new], one), one.occurred_at
        at += timedelta(minutes=7)


def test_agreements_change_at_their_bound_and_overlaps_are_refused() -> None:
    change = datetime(2026, 3, 15, tzinfo=SHANGHAI)
    old = agreement(
        "old", datetime(2026, 1, 1, tzinfo=UTC), change, {"i": [{"id": "c", "fee": pct(60)}]}
    )
    new = agreement("new", change, None, {"i": [{"id": "c", "fee": pct(38)}]})
    pricer = BatchPricer([new, old])
    before = txn(occurred_at=change - timedelta(microseconds=1))
    assert pricer.price_txn(before) == ("old", "i", "c", 60)
    assert pricer.price_txn(txn(occurred_at=change.astimezone(UTC))) == ("new", "i", "c", 38)
    both = BatchPricer([old, agreement("other", datetime(2026, 3, 1, tzinfo=UTC), None, {"i": []})])
    with pytest.raises(InvalidRequest) as caught:
        both.price_txn(txn(occurred_at=datetime(2026, 3, 2, tzinfo=UTC)))
    assert caught.value.code == "overlapping_agreements"
