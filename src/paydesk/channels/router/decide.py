"""The routing decision: pure, so it is tested with tables and measured on its own.

:func:`decide` takes the policy, the candidate accounts (active, in the order's mode, serving
the method), what is known of them (success rates, circuit states) and one random number, and
returns every candidate with its score and the reason it was ranked or skipped. The first
ranked account is tried first; the others, in order, are the failover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from paydesk.channels.router.policy import Conditions, RoutingPolicy, Rule, Strategy

DEFAULT_RULE = "(default)"


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    """The open time is over: one payment may probe the account."""


@dataclass(frozen=True, slots=True)
class Candidate:
    account_id: str
    channel: str
    gray_users: tuple[str, ...] = ()
    """Non-empty: the account is in gray release, only for these users."""


@dataclass(frozen=True, slots=True)
class Health:
    successes: int = 0
    finished: int = 0
    """Succeeded, failed or unknown attempts in the window."""


@dataclass(frozen=True, slots=True)
class Context:
    method: str
    amount_minor: int
    currency: str
    at: datetime
    """When (aware); rules on hours and weekdays read it in the policy's timezone."""
    region: str | None = None
    segment: str | None = None
    user_id: str | None = None


@dataclass(slots=True)
class Scored:
    account_id: str
    channel: str
    eligible: bool
    skipped: str | None = None
    """Why it is not eligible: ``not_in_rule``, ``circuit_open``, ``gray_release``,
    ``zero_weight``, ``excluded`` (already tried for this payment)."""
    circuit: CircuitState = CircuitState.CLOSED
    cost: int | None = None
    success_rate: float | None = None
    samples: int = 0
    weight: int | None = None
    score: float | None = None
    """What the strategy ranks by (higher is better)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "channel": self.channel,
            "eligible": self.eligible,
            "skipped": self.skipped,
            "circuit": self.circuit.value,
            "cost": self.cost,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 4),
            "samples": self.samples,
            "weight": self.weight,
            "score": None if self.score is None else round(self.score, 6),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    rule: str
    strategy: Strategy
    ranked: tuple[str, ...]
    """Eligible account ids, best first."""
    candidates: tuple[Scored, ...]
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> str | None:
        return self.ranked[0] if self.ranked else None


def matches(conditions: Conditions, ctx: Context, zone: ZoneInfo) -> bool:
    if conditions.methods is not None and ctx.method not in conditions.methods:
        return False
    if conditions.currencies is not None and ctx.currency not in conditions.currencies:
        return False
    if conditions.amount_min is not None and ctx.amount_minor < conditions.amount_min:
        return False
    if conditions.amount_max is not None and ctx.amount_minor > conditions.amount_max:
        return False
    if conditions.regions is not None and ctx.region not in conditions.regions:
        return False
    if conditions.segments is not None and ctx.segment not in conditions.segments:
        return False
    if conditions.users is not None and ctx.user_id not in conditions.users:
        return False
    if conditions.weekdays is not None or conditions.hours is not None:
        local = ctx.at.astimezone(zone)
        if conditions.weekdays is not None and local.isoweekday() not in conditions.weekdays:
            return False
        if conditions.hours is not None and not conditions.hours.contains(local.time()):
            return False
    return True


def matching_rule(policy: RoutingPolicy, ctx: Context, zone: ZoneInfo) -> Rule | None:
    for rule in policy.ordered_rules:
        if matches(rule.when, ctx, zone):
            return rule
    return None


def _rates(
    candidates: Sequence[Candidate], health: Mapping[str, Health], min_samples: int
) -> dict[str, tuple[float, int]]:
    """Smoothed success rates: below ``min_samples`` a rate is pulled toward the candidates'
    pooled rate (1.0 when nothing is known), by as many pseudo-samples as are missing."""
    pooled_s = sum(health.get(c.account_id, Health()).successes for c in candidates)
    pooled_n = sum(health.get(c.account_id, Health()).finished for c in candidates)
    prior = pooled_s / pooled_n if pooled_n else 1.0
    rates: dict[str, tuple[float, int]] = {}
    for candidate in candidates:
        seen = health.get(candidate.account_id, Health())
        missing = max(0, min_samples - seen.finished)
        total = seen.finished + missing
        rate = (seen.successes + prior * missing) / total if total else prior
        rates[candidate.account_id] = (rate, seen.finished)
    return rates


def decide(
    policy: RoutingPolicy,
    candidates: Sequence[Candidate],
    ctx: Context,
    *,
    health: Mapping[str, Health],
    circuits: Mapping[str, CircuitState],
    draw: float,
    exclude: frozenset[str] = frozenset(),
    quoted_costs: Mapping[str, int] | None = None,
) -> Decision:
    """Rank ``candidates`` for the payment ``ctx``. ``draw`` is a number in [0, 1) for the
    weighted pick; ``exclude``: accounts already tried for this payment; ``quoted_costs``:
    what the fee centre says each account would cost, which wins over the policy's
    configured cost."""
    rule = matching_rule(policy, ctx, policy.zone)
    strategy = rule.strategy if rule else policy.default_strategy
    allowed = None if rule is None or rule.accounts is None else rule.accounts
    rates = _rates(candidates, health, policy.success_rate.min_samples)

    scored: list[Scored] = []
    for candidate in candidates:
        cost_rule = policy.costs.get(candidate.account_id)
        quoted = (quoted_costs or {}).get(candidate.account_id)
        if quoted is not None:
            cost = quoted
        else:
            cost = cost_rule.estimate(ctx.amount_minor) if cost_rule else 0
        rate, samples = rates[candidate.account_id]
        circuit = circuits.get(candidate.account_id, CircuitState.CLOSED)
        weight = None
        if strategy is Strategy.WEIGHTED and rule is not None and rule.weights is not None:
            weight = rule.weights.get(candidate.account_id, 0)
        skipped = None
        if candidate.account_id in exclude:
            skipped = "excluded"
        elif allowed is not None and candidate.account_id not in allowed:
            skipped = "not_in_rule"
        elif candidate.gray_users and ctx.user_id not in candidate.gray_users:
            skipped = "gray_release"
        elif circuit is CircuitState.OPEN:
            skipped = "circuit_open"
        elif weight == 0:
            skipped = "zero_weight"
        scored.append(
            Scored(
                account_id=candidate.account_id,
                channel=candidate.channel,
                eligible=skipped is None,
                skipped=skipped,
                circuit=circuit,
                cost=cost,
                success_rate=rate,
                samples=samples,
                weight=weight,
            )
        )

    eligible = [s for s in scored if s.eligible]
    ranked, scores = _rank(strategy, eligible, allowed, draw)
    for s in eligible:
        s.score = scores.get(s.account_id)
    rule_name = rule.name if rule else DEFAULT_RULE
    return Decision(
        rule=rule_name,
        strategy=strategy,
        ranked=tuple(ranked),
        candidates=tuple(scored),
        reason=_reason(rule_name, strategy, ranked, scored),
    )


def _rank(
    strategy: Strategy, eligible: list[Scored], order: list[str] | None, draw: float
) -> tuple[list[str], dict[str, float]]:
    """Account ids best first, and each one's score (higher is better). Half-open circuits
    (a probe) rank after closed ones under every strategy but ``weighted``, so a recovering
    account only gets traffic when it is the best choice left or drawn by weight."""
    if not eligible:
        return [], {}

    def probing(s: Scored) -> int:
        return 1 if s.circuit is CircuitState.HALF_OPEN else 0

    rate = {s.account_id: s.success_rate or 0.0 for s in eligible}
    cost = {s.account_id: s.cost or 0 for s in eligible}
    if strategy is Strategy.WEIGHTED:
        weights = {s.account_id: s.weight or 0 for s in eligible}
        total = sum(weights.values())
        point = draw * total
        chosen = eligible[-1].account_id
        for s in eligible:
            point -= weights[s.account_id]
            if point < 0:
                chosen = s.account_id
                break
        rest = sorted(
            (s for s in eligible if s.account_id != chosen),
            key=lambda s: (-weights[s.account_id], s.account_id),
        )
        return [chosen, *(s.account_id for s in rest)], {k: v / total for k, v in weights.items()}
    if strategy is Strategy.LEAST_COST:
        ordered = sorted(
            eligible,
            key=lambda s: (probing(s), cost[s.account_id], -rate[s.account_id], s.account_id),
        )
        return [s.account_id for s in ordered], {k: -float(v) for k, v in cost.items()}
    if strategy is Strategy.SUCCESS_RATE:
        ordered = sorted(
            eligible,
            key=lambda s: (probing(s), -rate[s.account_id], cost[s.account_id], s.account_id),
        )
        return [s.account_id for s in ordered], rate
    position = {account: i for i, account in enumerate(order or [])}
    by_position = [
        s
        for _, s in sorted(
            enumerate(eligible),
            key=lambda item: (probing(item[1]), position.get(item[1].account_id, item[0])),
        )
    ]
    count = len(by_position)
    return [s.account_id for s in by_position], {
        s.account_id: float(count - rank) for rank, s in enumerate(by_position)
    }


def _reason(rule: str, strategy: Strategy, ranked: list[str], scored: list[Scored]) -> str:
    head = f"rule {rule!r}, strategy {strategy.value}"
    skipped = [f"{s.account_id} {s.skipped}" for s in scored if s.skipped]
    tail = f"; skipped: {', '.join(skipped)}" if skipped else ""
    if not ranked:
        return f"{head}: no eligible account{tail}"
    best = next(s for s in scored if s.account_id == ranked[0])
    why = {
        Strategy.PRIORITY: "first in order",
        Strategy.WEIGHTED: f"drawn with weight {best.weight}",
        Strategy.LEAST_COST: f"lowest cost {best.cost}",
        Strategy.SUCCESS_RATE: f"highest success rate {(best.success_rate or 0):.3f}",
    }[strategy]
    return f"{head}: {ranked[0]} ({why}){tail}"
