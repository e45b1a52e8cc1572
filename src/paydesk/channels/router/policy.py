"""A merchant's routing policy: the document the merchant writes, checked before it is stored.

    {
      "rules": [
        {"name": "large CNY to the cheapest", "priority": 10,
         "when": {"currencies": ["CNY"], "amount_min": 100000},
         "strategy": "least_cost"},
        {"name": "split WeChat", "priority": 20,
         "when": {"methods": ["wechat_native"]},
         "strategy": "weighted", "weights": {"cha_A": 70, "cha_B": 30}}
      ],
      "default_strategy": "success_rate",
      "costs": {"cha_A": {"rate_bps": 60}, "cha_B": {"rate_bps": 38, "fixed": 10}},
      "breaker": {"failures_to_open": 5, "open_s": 30},
      "success_rate": {"window_s": 900, "min_samples": 20},
      "timezone": "Asia/Shanghai",
      "failover_max": 2
    }

Rules are tried by ``priority`` (lower first; equal priorities keep their order in the list);
the first whose every condition holds decides the strategy and, with ``accounts``, narrows the
candidates. No rule matches: ``default_strategy`` over every candidate. Amount bounds are
inclusive, in minor units of the order's currency; ``hours`` is a half-open window
``[from, to)`` in the policy's timezone that may wrap past midnight.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULES_MAX = 200
LIST_MAX = 100
NAME_LENGTH_MAX = 100
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Strategy(StrEnum):
    PRIORITY = "priority"
    """The accounts in the rule's order (or the accounts' creation order): the first that is
    not skipped."""
    WEIGHTED = "weighted"
    """A random pick in proportion to ``weights`` (skipped accounts leave the draw)."""
    LEAST_COST = "least_cost"
    """The lowest estimated cost of the payment (``costs``); ties by success rate."""
    SUCCESS_RATE = "success_rate"
    """The highest success rate over the recent window; ties by cost."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    from_: str = Field(alias="from", description="HH:MM, inclusive.")
    to: str = Field(description="HH:MM, exclusive; before ``from``: the window wraps midnight.")

    @field_validator("from_", "to")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("must be HH:MM (00:00 to 23:59)")
        return value

    @cached_property
    def _bounds(self) -> tuple[time, time]:
        return time.fromisoformat(self.from_), time.fromisoformat(self.to)

    def contains(self, at: time) -> bool:
        start, end = self._bounds
        if start <= end:
            return start <= at < end
        return at >= start or at < end


class Conditions(_Strict):
    """Every condition given must hold; an empty ``when`` matches every payment."""

    methods: list[str] | None = Field(default=None, max_length=LIST_MAX)
    currencies: list[str] | None = Field(default=None, max_length=LIST_MAX)
    amount_min: int | None = Field(default=None, ge=0)
    amount_max: int | None = Field(default=None, ge=0)
    regions: list[str] | None = Field(
        default=None, max_length=LIST_MAX, description="The order's metadata.region."
    )
    segments: list[str] | None = Field(
        default=None, max_length=LIST_MAX, description="The order's metadata.user_segment."
    )
    users: list[str] | None = Field(default=None, max_length=LIST_MAX)
    weekdays: list[int] | None = Field(default=None, description="1 Monday .. 7 Sunday.")
    hours: Hours | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Conditions:
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min > self.amount_max
        ):
            raise ValueError("amount_min is above amount_max")
        if self.weekdays is not None and not all(1 <= day <= 7 for day in self.weekdays):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        currencies = self.currencies or []
        if not all(re.fullmatch(r"[A-Z][A-Z0-9]{2,15}", c) for c in currencies):
            raise ValueError("currencies are upper-case codes such as CNY")
        return self


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=NAME_LENGTH_MAX)
    priority: int = Field(default=100, ge=0, le=1_000_000)
    when: Conditions = Field(default_factory=Conditions)
    accounts: list[str] | None = Field(
        default=None,
        max_length=LIST_MAX,
        description="Only these channel accounts; for ``priority``, in this order.",
    )
    strategy: Strategy = Strategy.PRIORITY
    weights: dict[str, int] | None = Field(
        default=None, description="For ``weighted``: account id -> a weight of 0 or more."
    )

    @model_validator(mode="after")
    def _weights(self) -> Rule:
        if self.strategy is Strategy.WEIGHTED:
            if not self.weights:
                raise ValueError(f"rule {self.name!r}: a weighted rule needs weights")
            if any(weight < 0 for weight in self.weights.values()):
                raise ValueError(f"rule {self.name!r}: weights are 0 or more")
            if sum(self.weights.values()) == 0:
                raise ValueError(f"rule {self.name!r}: the weights add up to 0")
        elif self.weights is not None:
            raise ValueError(f"rule {self.name!r}: weights are for the weighted strategy")
        return self


class AccountCost(_Strict):
    """What a payment through an account costs, until the fee centre says: ``rate_bps``
    hundredths of a percent of the amount (rounded half up to a minor unit), plus ``fixed``
    minor units."""

    rate_bps: int = Field(default=0, ge=0, le=10_000)
    fixed: int = Field(default=0, ge=0)

    def estimate(self, amount_minor: int) -> int:
        return (amount_minor * self.rate_bps + 5_000) // 10_000 + self.fixed


class Breaker(_Strict):
    """Per account and per server process: ``failures_to_open`` channel errors or time-outs
    in a row open the circuit; the account is skipped for ``open_s``, then one payment probes
    it (half open) and its outcome closes or re-opens the circuit."""

    failures_to_open: int = Field(default=5, ge=1, le=1000)
    open_s: float = Field(default=30.0, gt=0, le=3600)


class SuccessRateWindow(_Strict):
    """Success rate: succeeded attempts over finished ones (succeeded, failed, unknown) created
    within ``window_s``; with fewer than ``min_samples`` the rate is pulled toward the
    average of the candidates (``prior``), so a new account is neither favoured nor shunned."""

    window_s: int = Field(default=900, ge=10, le=7 * 86_400)
    min_samples: int = Field(default=20, ge=1, le=100_000)


class RoutingPolicy(_Strict):
    rules: list[Rule] = Field(default_factory=list, max_length=RULES_MAX)
    default_strategy: Strategy = Strategy.SUCCESS_RATE
    costs: dict[str, AccountCost] = Field(default_factory=dict)
    breaker: Breaker = Field(default_factory=Breaker)
    success_rate: SuccessRateWindow = Field(default_factory=SuccessRateWindow)
    timezone: str = "UTC"
    failover_max: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Other accounts a payment is tried at, in the same request, when the "
        "chosen one is unreachable or times out.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> RoutingPolicy:
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self

    @cached_property
    def ordered_rules(self) -> tuple[Rule, ...]:
        """By priority, then position (``sorted`` is stable)."""
        return tuple(sorted(self.rules, key=lambda rule: rule.priority))

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
