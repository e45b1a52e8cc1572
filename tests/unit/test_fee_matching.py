"""Matching billing rule entries to a transaction, and agreements over time: priority, then
specificity, then the entry id; no match is reported; a period spanning an agreement change
prices each transaction under the agreement valid at its time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from paydesk.core.errors import InvalidRequest
from paydesk.fees.matching import (
    Agreement,
    InvalidAgreement,
    NoMatchingEntry,
    NoValidAgreement,
    RuleEntry,
    agreement_at,
    close_periods,
    match,
    parse_agreement,
    price,
)
from paydesk.fees.transaction import FeeTransaction
from tests.support.fee_transactions import fee_txn

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def txn(**overrides: Any) -> FeeTransaction:
    return fee_txn(AT, **overrides)


def entry(entry_id: str, priority: int = 100, fee_bps: int = 60, **when: Any) -> RuleEntry:
    return RuleEntry.model_validate(
        {
            "id": entry_id,
            "priority": priority,
            "when": when,
            "fee": {"kind": "percentage", "rate_bps": fee_bps},
        }
    )


ENTRIES = [
    entry("collect-any", scenario="collection"),
    entry("collect-debit", fee_bps=38, scenario="collection", card_type="debit"),
    entry(
        "collect-debit-cross",
        fee_bps=45,
        scenario="collection",
        card_type="debit",
        bank_relation="cross_bank",
    ),
    entry(
        "spring-promo",
        priority=10,
        fee_bps=0,
        scenario="collection",
        attributes={"campaign": "spring"},
    ),
    entry("payout-any", scenario="payout"),
]

# transaction overrides, winning entry, the reason it won
MATCH_EXAMPLES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"card_type": "credit"},
        "collect-any",
        "entry 'collect-any' is the only match (priority 100, specificity 1)",
    ),
    (
        {"card_type": "debit", "bank_relation": "same_bank"},
        "collect-debit",
        "entry 'collect-debit' wins by specificity at priority 100: "
        "2 conditions against 1 ('collect-any')",
    ),
    (
        {"card_type": "debit", "bank_relation": "cross_bank"},
        "collect-debit-cross",
        "entry 'collect-debit-cross' wins by specificity at priority 100: "
        "3 conditions against 2 ('collect-debit')",
    ),
    (
        {"card_type": "debit", "attributes": {"campaign": "spring"}},
        "spring-promo",
        "entry 'spring-promo' wins by priority: 10 before 100 ('collect-debit')",
    ),
    (
        {"scenario": "payout"},
        "payout-any",
        "entry 'payout-any' is the only match (priority 100, specificity 1)",
    ),
]


@pytest.mark.parametrize(("overrides", "winner", "reason"), MATCH_EXAMPLES)
def test_overlapping_entries_resolve_by_priority_then_specificity(
    overrides: dict[str, Any], winner: str, reason: str
) -> None:
    result = match(ENTRIES, txn(**overrides))
    assert result.entry.id == winner
    assert result.reason == reason
    shuffled = list(ENTRIES)
    random.Random(7).shuffle(shuffled)
    assert match(shuffled, txn(**overrides)).entry.id == winner


def test_equal_priority_and_specificity_resolve_by_entry_id_whatever_the_order() -> None:
    entries = [entry("b-entry", method="card"), entry("a-entry", region="CN")]
    for ordered in (entries, entries[::-1]):
        result = match(ordered, txn(method="card", region="CN"))
        assert result.entry.id == "a-entry"
        assert result.reason == (
            "entry 'a-entry' wins by id at priority 100 and specificity 1: "
            "'a-entry' before 'b-entry'"
        )


def test_every_entry_is_explained() -> None:
    result = match(ENTRIES, txn(card_type="debit", bank_relation="same_bank"))
    reasons = {check.entry_id: (check.matched, check.reason) for check in result.checks}
    assert reasons == {
        "collect-any": (True, "matches scenario=collection"),
        "collect-debit": (True, "matches scenario=collection, card_type=debit"),
        "collect-debit-cross": (False, "bank_relation is same_bank, needs cross_bank"),
        "spring-promo": (False, "attributes.campaign is not set, needs 'spring'"),
        "payout-any": (False, "scenario is collection, needs payout"),
    }
    specificity = {check.entry_id: check.specificity for check in result.checks}
    assert specificity["collect-debit-cross"] == 3
    assert specificity["spring-promo"] == 2


def test_a_transaction_matching_no_entry_is_reported_never_charged_zero() -> None:
    with pytest.raises(NoMatchingEntry) as caught:
        match(ENTRIES, txn(scenario="verification", verified_items=1))
    error = caught.value
    assert error.code == "no_matching_entry"
    assert error.param == "transaction"
    assert len(error.checks) == len(ENTRIES)
    assert not any(check.matched for check in error.checks)
    assert error.message.startswith(
        "transaction t1 (verification, 10000 CNY) matches no billing rule entry: "
        "collect-any: scenario is verification, needs collection; "
    )


def test_an_empty_rule_set_matches_nothing() -> None:
    with pytest.raises(NoMatchingEntry):
        match([], txn())


@pytest.mark.parametrize(
    ("amount", "matched"), [(99, False), (100, True), (500, True), (501, False)]
)
def test_amount_range_bounds_are_inclusive(amount: int, matched: bool) -> None:
    band = entry("band", amount_min=100, amount_max=500)
    fallback = entry("fallback", priority=1_000)
    winner = match([band, fallback], txn(amount_minor=amount)).entry.id
    assert (winner == "band") is matched


def test_amount_range_failure_is_explained() -> None:
    band = entry("band", amount_min=100, amount_max=500)
    checks = {
        c.entry_id: c.reason for c in match([band, entry("any")], txn(amount_minor=99)).checks
    }
    assert checks["band"] == "amount 99 is below amount_min 100"
    assert checks["any"] == "matches any transaction (no conditions)"


def test_conditions_take_one_value_or_a_list() -> None:
    wechat = entry("wechat", method=["wechat_native", "wechat_jsapi"], region="CN")
    assert match([wechat], txn(method="wechat_jsapi", region="CN")).entry.id == "wechat"
    with pytest.raises(NoMatchingEntry) as caught:
        match([wechat], txn(method="alipay_app", region="CN"))
    assert caught.value.checks[0].reason == (
        "method is alipay_app, needs one of wechat_native, wechat_jsapi"
    )


def test_attribute_conditions_compare_value_and_type() -> None:
    vip = entry("vip", attributes={"vip": True, "mcc": "5812"})
    assert match([vip], txn(attributes={"vip": True, "mcc": "5812", "x": 1})).entry.id == "vip"
    with pytest.raises(NoMatchingEntry) as caught:
        match([vip], txn(attributes={"vip": 1, "mcc": 5812}))
    assert caught.value.checks[0].reason == (
        "attributes.vip is 1, needs True; attributes.mcc is 5812, needs '5812'"
    )


def test_a_new_scenario_is_configuration_only() -> None:
    remit = entry("remit", scenario="remittance", business_type="b2b")
    result = match([*ENTRIES, remit], txn(scenario="remittance", business_type="b2b"))
    assert result.entry.id == "remit"


def test_duplicate_entry_ids_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        match([entry("same"), entry("same", region="CN")], txn())
    assert caught.value.code == "duplicate_entry_id"


@pytest.mark.parametrize(
    ("when", "param"),
    [
        ({"amount_min": 500, "amount_max": 100}, "when.amount_min"),
        ({"card_type": "prepaid"}, "when.card_type.0"),
        ({"scenario": []}, "when.scenario"),
        ({"colour": "red"}, "when.colour"),
    ],
)
def test_invalid_entry_conditions_are_refused(when: dict[str, Any], param: str) -> None:
    document = agreement_document(
        "a1",
        "2026-01-01T00:00:00+08:00",
        None,
        [{"id": "e1", "when": when, "fee": {"kind": "fixed", "amount_minor": 1}}],
    )
    with pytest.raises(InvalidAgreement) as caught:
        parse_agreement(document)
    assert caught.value.code == "invalid_fee_agreement"
    assert caught.value.param == f"interfaces.0.entries.0.{param}", caught.value.message


# --- agreements over time -------------------------------------------------------------------


def agreement_document(
    agreement_id: str,
    valid_from: str,
    valid_to: str | None,
    entries: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": agreement_id,
        "party": "wechatpay",
        "party_type": "channel",
        "currency": "CNY",
        "valid_from": valid_from,
        "valid_to": valid_to,
        "settlement_terms": "T+1, net of fees",
        "refund_policy": "proportional",
        "interfaces": [{"id": "wx-main", "entries": entries}],
    }
    document.update(extra)
    return document


def collection(entry_id: str, bps: int) -> dict[str, Any]:
    return {
        "id": entry_id,
        "when": {"scenario": "collection"},
        "fee": {"kind": "percentage", "rate_bps": bps},
    }


OLD = parse_agreement(
    agreement_document(
        "wx-2025", "2025-07-01T00:00:00+08:00", "2026-03-15T00:00:00+08:00", [collection("c", 60)]
    )
)
NEW = parse_agreement(
    agreement_document("wx-2026", "2026-03-15T00:00:00+08:00", None, [collection("c", 38)])
)

# when (Shanghai time), agreement, fee on 10000, text
SPANNING_EXAMPLES: list[tuple[datetime, str, int, str]] = [
    (
        datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI),
        "wx-2025",
        60,
        "agreement 'wx-2025', interface 'wx-main', entry 'c': "
        "percentage 0.60% of 10000 = 60.000 -> 60 (half_up)",
    ),
    (
        datetime(2026, 3, 14, 23, 59, 59, tzinfo=SHANGHAI),
        "wx-2025",
        60,
        "agreement 'wx-2025', interface 'wx-main', entry 'c': "
        "percentage 0.60% of 10000 = 60.000 -> 60 (half_up)",
    ),
    (
        datetime(2026, 3, 15, 0, 0, tzinfo=SHANGHAI),
        "wx-2026",
        38,
        "agreement 'wx-2026', interface 'wx-main', entry 'c': "
        "percentage 0.38% of 10000 = 38.000 -> 38 (half_up)",
    ),
    (
        datetime(2026, 3, 31, 18, 0, tzinfo=SHANGHAI),
        "wx-2026",
        38,
        "agreement 'wx-2026', interface 'wx-main', entry 'c': "
        "percentage 0.38% of 10000 = 38.000 -> 38 (half_up)",
    ),
]


@pytest.mark.parametrize(("when", "agreement_id", "amount", "text"), SPANNING_EXAMPLES)
def test_a_period_spanning_an_agreement_change_prices_each_under_its_own(
    when: datetime, agreement_id: str, amount: int, text: str
) -> None:
    priced = price([OLD, NEW], txn(occurred_at=when))
    assert priced.agreement_id == agreement_id
    assert (priced.interface_id, priced.entry_id) == ("wx-main", "c")
    assert priced.fee.amount_minor == amount
    assert priced.text == text


def test_march_spanning_the_change_totals_both_agreements() -> None:
    march = [
        txn(id=f"t{day}", occurred_at=datetime(2026, 3, day, 12, 0, tzinfo=SHANGHAI))
        for day in (1, 14, 15, 31)
    ]
    fees = [price([NEW, OLD], t).fee.amount_minor for t in march]
    assert fees == [60, 60, 38, 38]


def test_no_agreement_valid_at_the_time_is_reported() -> None:
    with pytest.raises(NoValidAgreement) as caught:
        price([OLD, NEW], txn(occurred_at=datetime(2025, 6, 30, 23, 0, tzinfo=SHANGHAI)))
    assert caught.value.code == "no_valid_agreement"


def test_overlapping_agreements_are_refused_not_guessed() -> None:
    overlapping = parse_agreement(
        agreement_document("wx-extra", "2026-03-01T00:00:00+08:00", None, [collection("c", 1)])
    )
    with pytest.raises(InvalidRequest) as caught:
        agreement_at([OLD, NEW, overlapping], AT)
    assert caught.value.code == "overlapping_agreements"


def test_the_transactions_interface_narrows_the_entries() -> None:
    document = agreement_document("a", "2026-01-01T00:00:00Z", None, [collection("main", 60)])
    document["interfaces"].append({"id": "wx-sp", "entries": [collection("sp", 25)]})
    agreement = parse_agreement(document)
    assert price([agreement], txn(interface_id="wx-sp")).entry_id == "sp"
    assert price([agreement], txn(interface_id="wx-main")).entry_id == "main"
    both = price([agreement], txn())
    assert both.entry_id == "main"  # same priority and specificity: the entry id decides
    with pytest.raises(InvalidRequest) as caught:
        price([agreement], txn(interface_id="wx-other"))
    assert caught.value.code == "unknown_interface"


def test_a_transaction_in_another_currency_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        price([OLD, NEW], txn(currency="USD"))
    assert caught.value.code == "currency_mismatch"


def test_period_close_spanning_an_agreement_change_closes_each_agreement_apart() -> None:
    def volume(entry_id: str, per_txn: int, above_two: int) -> dict[str, Any]:
        return {
            "id": entry_id,
            "when": {"scenario": "collection"},
            "fee": {
                "kind": "volume",
                "basis": "count",
                "tiers": [{"up_to": 2, "fee_minor": per_txn}, {"fee_minor": above_two}],
                "provisional": {"kind": "fixed", "amount_minor": per_txn},
            },
        }

    first = parse_agreement(
        agreement_document(
            "a1", "2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z", [volume("vol", 100, 50)]
        )
    )
    second = parse_agreement(
        agreement_document("a2", "2026-03-15T00:00:00Z", None, [volume("vol", 80, 40)])
    )
    days = [2, 5, 9, 15, 20]
    march = [txn(id=f"t{day}", occurred_at=datetime(2026, 3, day, tzinfo=UTC)) for day in days]
    closes = close_periods([first, second], march)
    assert list(closes) == [("a1", "vol"), ("a2", "vol")]
    a1, a2 = closes[("a1", "vol")], closes[("a2", "vol")]
    # a1: 3 transactions reach tier 2 -> 3 x 50 = 150 against 3 x 100 provisional.
    assert (a1.final.amount_minor, a1.provisional_minor, a1.adjustment_minor) == (150, 300, -150)
    # a2: 2 transactions stay in tier 1 -> 2 x 80 = 160, as charged.
    assert (a2.final.amount_minor, a2.provisional_minor, a2.adjustment_minor) == (160, 160, 0)
    assert a1.final.explanation.text == (
        "volume by count, 3 transactions, amount 30000: "
        "tier 2 (count > 2) reached: 3 x 50 = 150.000 -> 150 (half_up); "
        "provisional 300, adjustment -150"
    )


def test_close_periods_leaves_per_transaction_models_out() -> None:
    assert close_periods([NEW], [txn(occurred_at=datetime(2026, 4, 1, tzinfo=UTC))]) == {}


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from"),
        ({"valid_to": "2025-01-01T00:00:00Z"}, "valid_to"),
        ({"party_type": "bank"}, "party_type"),
        ({"currency": "cny"}, "currency"),
        ({"refund_policy": "sometimes"}, "refund_policy.kind"),
        ({"interfaces": []}, "interfaces"),
        (
            {
                "interfaces": [
                    {"id": "x", "entries": [collection("dup", 1)]},
                    {"id": "y", "entries": [collection("dup", 2)]},
                ]
            },
            "interfaces.1.entries.0.id",
        ),
        (
            {"interfaces": [{"id": "x", "entries": []}, {"id": "x", "entries": []}]},
            "interfaces.1.id",
        ),
        (
            {
                "interfaces": [
                    {
                        "id": "x",
                        "entries": [
                            {
                                "id": "e",
                                "fee": {"kind": "percentage", "rate_bps": 60, "min_minor": -1},
                            }
                        ],
                    }
                ]
            },
            "interfaces.0.entries.0.fee.min_minor",
        ),
    ],
)
def test_invalid_agreements_name_the_field(changes: dict[str, Any], param: str) -> None:
    document = agreement_document("a", "2026-01-01T00:00:00Z", None, [collection("c", 60)])
    document.update(changes)
    with pytest.raises(InvalidAgreement) as caught:
        parse_agreement(document)
    assert caught.value.param == param, caught.value.message


def test_an_agreement_is_valid_from_inclusive_to_exclusive() -> None:
    agreement: Agreement = OLD
    assert agreement.is_valid_at(datetime(2025, 7, 1, tzinfo=SHANGHAI))
    assert not agreement.is_valid_at(datetime(2026, 3, 15, tzinfo=SHANGHAI))
    assert NEW.is_valid_at(datetime(2099, 1, 1, tzinfo=UTC))
    assert OLD.refund_policy.kind == "proportional"
