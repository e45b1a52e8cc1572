"""The routing decision, pure: rules, strategies, circuits, gray release, policy checks."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from paydesk.channels.router.decide import (
    DEFAULT_RULE,
    Candidate,
    CircuitState,
    Context,
    Health,
    decide,
)
from paydesk.channels.router.policy import AccountCost, RoutingPolicy, Strategy

A, B, C = "cha_a", "cha_b", "cha_c"
CANDIDATES = [Candidate(A, "wechatpay"), Candidate(B, "wechatpay"), Candidate(C, "alipay")]
NOON_UTC = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday


def ctx(**overrides: object) -> Context:
    values: dict[str, object] = {
        "method": "wechat_native",
        "amount_minor": 10_000,
        "currency": "CNY",
        "at": NOON_UTC,
    }
    values.update(overrides)
    return Context(**values)  # type: ignore[arg-type]


def run(policy: dict[str, object], context: Context | None = None, **kwargs: object):
    options: dict[str, object] = {"health": {}, "circuits": {}, "draw": 0.0}
    options.update(kwargs)
    return decide(
        RoutingPolicy.model_validate(policy),
        CANDIDATES,
        context or ctx(),
        **options,  # type: ignore[arg-type]
    )


def test_no_rule_uses_the_default_strategy_over_every_candidate() -> None:
    decision = run({"default_strategy": "priority"})
    assert decision.rule == DEFAULT_RULE
    assert decision.ranked == (A, B, C)
    assert "first in order" in decision.reason


def test_rules_are_tried_by_priority_then_position() -> None:
    policy = {
        "rules": [
            {"name": "late", "priority": 50, "accounts": [C, A]},
            {"name": "first", "priority": 10, "when": {"currencies": ["USD"]}, "accounts": [B]},
            {"name": "tie-1", "priority": 50, "accounts": [A]},
        ]
    }
    decision = run(policy)
    assert decision.rule == "late"  # 'first' does not match CNY; 'late' is listed before 'tie-1'
    assert decision.ranked == (C, A)
    skipped = {s.account_id: s.skipped for s in decision.candidates}
    assert skipped == {A: None, B: "not_in_rule", C: None}


@pytest.mark.parametrize(
    ("amount", "matched"),
    [(99, False), (100, True), (500, True), (501, False)],
)
def test_amount_bounds_are_inclusive(amount: int, matched: bool) -> None:
    policy = {"rules": [{"name": "band", "when": {"amount_min": 100, "amount_max": 500}}]}
    assert (run(policy, ctx(amount_minor=amount)).rule == "band") is matched


@pytest.mark.parametrize(
    ("utc_hour", "matched"),
    [(13, False), (14, True), (15, True), (21, True), (22, False)],
)
def test_hours_are_read_in_the_policy_timezone_and_may_wrap_midnight(
    utc_hour: int, matched: bool
) -> None:
    # 22:00-06:00 in Shanghai (UTC+8) is 14:00-22:00 UTC.
    policy = {
        "timezone": "Asia/Shanghai",
        "rules": [{"name": "night", "when": {"hours": {"from": "22:00", "to": "06:00"}}}],
    }
    at = NOON_UTC.replace(hour=utc_hour)
    assert (run(policy, ctx(at=at)).rule == "night") is matched


def test_weekdays_region_segment_method_and_user_conditions() -> None:
    policy = {
        "rules": [
            {
                "name": "vip-cn-weekday",
                "when": {
                    "weekdays": [1, 2, 3, 4, 5],
                    "regions": ["CN"],
                    "segments": ["vip"],
                    "methods": ["wechat_native"],
                },
            }
        ]
    }
    assert run(policy, ctx(region="CN", segment="vip")).rule == "vip-cn-weekday"
    assert run(policy, ctx(region="HK", segment="vip")).rule == DEFAULT_RULE
    assert run(policy, ctx(region="CN", segment="new")).rule == DEFAULT_RULE
    assert run(policy, ctx(region="CN", segment="vip", method="alipay_qr")).rule == DEFAULT_RULE
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert run(policy, ctx(region="CN", segment="vip", at=saturday)).rule == DEFAULT_RULE


def test_weighted_split_over_a_thousand_payments_is_close_to_the_weights() -> None:
    policy = {
        "rules": [
            {
                "name": "split",
                "strategy": "weighted",
                "weights": {A: 70, B: 30},
                "accounts": [A, B],
            }
        ]
    }
    draws = random.Random(7)
    chosen = [run(policy, draw=draws.random()).chosen for _ in range(1000)]
    share_a = chosen.count(A) / 1000
    assert 0.66 <= share_a <= 0.74, share_a
    assert chosen.count(A) + chosen.count(B) == 1000


def test_weighted_pick_keeps_proportions_among_the_accounts_left() -> None:
    policy = {"rules": [{"name": "split", "strategy": "weighted", "weights": {A: 1, B: 1, C: 2}}]}
    # C's circuit is open: A and B share the draw half and half.
    decision = run(policy, draw=0.49, circuits={C: CircuitState.OPEN})
    assert decision.ranked[0] == A
    assert run(policy, draw=0.51, circuits={C: CircuitState.OPEN}).ranked[0] == B


def test_least_cost_picks_the_cheaper_account_and_explains_it() -> None:
    policy = {
        "default_strategy": "least_cost",
        "costs": {A: {"rate_bps": 60}, B: {"rate_bps": 38, "fixed": 10}, C: {"rate_bps": 55}},
    }
    decision = run(policy)  # 10,000: A 60, B 38 + 10 = 48, C 55
    assert decision.ranked == (B, C, A)
    costs = {s.account_id: s.cost for s in decision.candidates}
    assert costs == {A: 60, B: 48, C: 55}
    assert "lowest cost 48" in decision.reason


def test_cost_rounds_half_up_to_a_minor_unit() -> None:
    assert AccountCost(rate_bps=60).estimate(125) == 1  # 0.75 -> 1
    assert AccountCost(rate_bps=60).estimate(83) == 0  # 0.498 -> 0
    assert AccountCost(rate_bps=25, fixed=3).estimate(200) == 4  # 0.5 -> 1, + 3


def test_success_rate_prefers_the_account_that_succeeds_more() -> None:
    health = {A: Health(successes=80, finished=100), B: Health(successes=98, finished=100)}
    decision = run({"default_strategy": "success_rate"}, health=health)
    assert decision.ranked[:2] == (B, C)  # C has no history: the pooled rate 0.89
    rates = {s.account_id: s.success_rate for s in decision.candidates}
    assert rates[B] == pytest.approx(0.98)
    assert rates[C] == pytest.approx(0.89)


def test_few_samples_are_pulled_toward_the_pooled_rate() -> None:
    # One failure out of one is not a 0% channel.
    health = {A: Health(successes=0, finished=1), B: Health(successes=50, finished=50)}
    policy = {"default_strategy": "success_rate", "success_rate": {"min_samples": 20}}
    decision = run(policy, health=health)
    rate_a = next(s.success_rate for s in decision.candidates if s.account_id == A)
    assert rate_a is not None and 0.85 < rate_a < 0.99


def test_open_circuits_are_skipped_and_half_open_ones_are_tried_last() -> None:
    policy = {"default_strategy": "priority"}
    decision = run(policy, circuits={A: CircuitState.OPEN, B: CircuitState.HALF_OPEN})
    assert decision.ranked == (C, B)
    assert "cha_a circuit_open" in decision.reason


def test_gray_release_accounts_serve_only_their_users() -> None:
    candidates = [Candidate(A, "wechatpay", gray_users=("u-beta",)), Candidate(B, "wechatpay")]
    policy = RoutingPolicy.model_validate({"default_strategy": "priority"})
    common = {"health": {}, "circuits": {}, "draw": 0.0}
    beta = decide(policy, candidates, ctx(user_id="u-beta"), **common)  # type: ignore[arg-type]
    other = decide(policy, candidates, ctx(user_id="u-1"), **common)  # type: ignore[arg-type]
    assert beta.ranked == (A, B)
    assert other.ranked == (B,)


def test_accounts_already_tried_are_excluded_for_failover() -> None:
    decision = run({"default_strategy": "priority"}, exclude=frozenset({A}))
    assert decision.ranked == (B, C)


def test_nothing_eligible_says_why() -> None:
    circuits = {A: CircuitState.OPEN, B: CircuitState.OPEN, C: CircuitState.OPEN}
    decision = run({"default_strategy": "least_cost"}, circuits=circuits)
    assert decision.chosen is None
    assert "no eligible account" in decision.reason


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"rules": [{"name": "w", "strategy": "weighted"}]}, "needs weights"),
        ({"rules": [{"name": "w", "strategy": "weighted", "weights": {A: 0}}]}, "add up to 0"),
        ({"rules": [{"name": "p", "weights": {A: 1}}]}, "weights are for"),
        ({"rules": [{"name": "x"}, {"name": "x"}]}, "unique"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"rules": [{"name": "a", "when": {"amount_min": 5, "amount_max": 1}}]}, "above"),
        ({"rules": [{"name": "h", "when": {"hours": {"from": "24:00", "to": "01:00"}}}]}, "HH:MM"),
        ({"rules": [{"name": "d", "when": {"weekdays": [0]}}]}, "weekdays"),
        ({"rules": [{"name": "c", "when": {"currencies": ["cny"]}}]}, "upper-case"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_policies_are_refused_with_the_reason(
    document: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RoutingPolicy.model_validate(document)


def test_strategy_names_are_stable() -> None:
    assert [s.value for s in Strategy] == ["priority", "weighted", "least_cost", "success_rate"]
