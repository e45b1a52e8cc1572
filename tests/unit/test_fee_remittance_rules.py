"""Remittance rules: their checks, and the days and months they remit, read in the
agreement's UTC offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from paydesk.fees.matching import InvalidAgreement, parse_agreement
from paydesk.fees.remittance_rules import RemittanceRule, ended_periods, period_start

CN = timezone(timedelta(hours=8))


def agreement(party_type: str = "channel", **remittance: Any) -> dict[str, Any]:
    return {
        "id": "a",
        "party": "p",
        "party_type": party_type,
        "currency": "CNY",
        "valid_from": "2026-01-01T00:00:00+08:00",
        "refund_policy": "none",
        "remittance": remittance,
        "interfaces": [{"id": "i", "entries": []}],
    }


def test_a_rule_defaults_to_the_platform_netting_each_cost_with_the_channel() -> None:
    rule = parse_agreement(agreement()).remittance
    assert rule == RemittanceRule(
        payer="platform", payee="channel", when="per_transaction", by="netting"
    )


@pytest.mark.parametrize(
    ("party_type", "remittance", "param"),
    [
        ("channel", {"payee": "visa"}, "remittance.by"),  # only the channel nets
        ("merchant", {"when": "monthly"}, "remittance"),  # fees are not remitted
        ("channel", {"when": "weekly"}, "remittance.when"),
        ("channel", {"payer": "agent"}, "remittance.payer"),
        ("channel", {"utc_offset": "+8"}, "remittance.utc_offset"),
        ("channel", {"payee": "Visa Inc"}, "remittance.payee"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    party_type: str, remittance: dict[str, Any], param: str
) -> None:
    with pytest.raises(InvalidAgreement) as refused:
        parse_agreement(agreement(party_type, **remittance))
    assert refused.value.param == param


def test_days_and_months_begin_in_the_agreements_offset() -> None:
    rule = RemittanceRule(when="daily")
    zone = rule.zone(datetime(2026, 1, 1, tzinfo=CN))
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in +08:00
    at = datetime(2026, 3, 31, 17, tzinfo=UTC)
    assert period_start("daily", at, zone) == datetime(2026, 4, 1, tzinfo=CN)
    assert period_start("monthly", at, zone) == datetime(2026, 4, 1, tzinfo=CN)
    given = RemittanceRule(when="daily", utc_offset="-05:30").zone(datetime(2026, 1, 1, tzinfo=CN))
    assert given.utcoffset(None) == -timedelta(hours=5, minutes=30)


def test_ended_months_run_over_the_year_end_and_stop_before_the_current_one() -> None:
    since = datetime(2026, 11, 15, 12, tzinfo=CN)
    now = datetime(2027, 2, 1, 0, 0, tzinfo=CN)  # February has just begun
    assert ended_periods("monthly", CN, since, now, 36) == [
        (datetime(2026, 11, 1, tzinfo=CN), datetime(2026, 12, 1, tzinfo=CN)),
        (datetime(2026, 12, 1, tzinfo=CN), datetime(2027, 1, 1, tzinfo=CN)),
        (datetime(2027, 1, 1, tzinfo=CN), datetime(2027, 2, 1, tzinfo=CN)),
    ]
    assert ended_periods("monthly", CN, since, now - timedelta(seconds=1), 36)[-1][1] == (
        datetime(2027, 1, 1, tzinfo=CN)
    )


def test_ended_days_keep_only_the_latest_within_the_limit() -> None:
    since = datetime(2026, 2, 27, 23, tzinfo=CN)
    now = datetime(2026, 3, 2, 0, 0, tzinfo=CN)
    days = ended_periods("daily", CN, since, now, 400)
    assert [start.day for start, _ in days] == [27, 28, 1]
    assert ended_periods("daily", CN, since, now, 2) == days[-2:]
