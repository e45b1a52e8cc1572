"""Routing use cases: the merchant's policy, the candidates of a payment, the decision, what
is recorded of it, and what each channel call teaches the breakers. Services never commit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from paydesk.channels.accounts.models import (
    ChannelAccount,
    ChannelAccountMode,
    ChannelAccountStatus,
)
from paydesk.channels.accounts.registry import channels_serving
from paydesk.channels.base import Method
from paydesk.channels.router.breaker import BREAKERS
from paydesk.channels.router.decide import (
    Candidate,
    CircuitState,
    Context,
    Decision,
    Health,
    decide,
)
from paydesk.channels.router.models import RoutingPolicyRecord
from paydesk.channels.router.policy import RoutingPolicy, Strategy
from paydesk.core import clock
from paydesk.core.errors import InvalidRequest, ServiceUnavailable
from paydesk.merchants.service import audit

DEFAULT_VERSION = 0


class InvalidRoutingPolicy(InvalidRequest):
    code = "invalid_routing_policy"


class NoChannelAccount(InvalidRequest):
    code = "no_channel_account"


class NoChannelAvailable(ServiceUnavailable):
    """Accounts exist for the method, but none can take the payment now (circuits open)."""

    code = "no_channel_available"


# --- the policy -----------------------------------------------------------------------


class _PolicyCache:
    """Per process: each merchant's parsed policy with its version. Versions only go up, so
    reading the version (one indexed column) tells whether the parsed policy is current."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, RoutingPolicy]] = {}

    def get(self, merchant_id: str, version: int) -> RoutingPolicy | None:
        with self._lock:
            found = self._entries.get(merchant_id)
        return found[1] if found is not None and found[0] == version else None

    def put(self, merchant_id: str, version: int, policy: RoutingPolicy) -> None:
        with self._lock:
            self._entries[merchant_id] = (version, policy)


POLICY_CACHE = _PolicyCache()
DEFAULT_POLICY = RoutingPolicy()
_VERSION_OF = sa.select(RoutingPolicyRecord.version).where(
    RoutingPolicyRecord.merchant_id == sa.bindparam("merchant_id")
)


def get_policy(
    session: Session, merchant_id: str, *, known_version: int | None = -1
) -> tuple[RoutingPolicy, int]:
    """The merchant's policy and its version (the default policy is version 0).
    ``known_version``: the version already read by the caller (None: no policy stored)."""
    version = (
        session.scalar(_VERSION_OF, {"merchant_id": merchant_id})
        if known_version == -1
        else known_version
    )
    if version is None:
        return DEFAULT_POLICY, DEFAULT_VERSION
    cached = POLICY_CACHE.get(merchant_id, version)
    if cached is not None:
        return cached, version
    record = session.get(RoutingPolicyRecord, merchant_id)
    assert record is not None
    policy = RoutingPolicy.model_validate(record.document)
    POLICY_CACHE.put(merchant_id, record.version, policy)
    return policy, record.version


def parse_policy(document: Mapping[str, Any]) -> RoutingPolicy:
    try:
        return RoutingPolicy.model_validate(dict(document))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRoutingPolicy(
            f"{where}: {message}" if where else message, param=where or "policy"
        ) from None


def put_policy(
    session: Session, merchant_id: str, document: Mapping[str, Any], *, actor: str
) -> tuple[RoutingPolicy, int]:
    """Check and store the merchant's policy; its version goes up by one."""
    policy = parse_policy(document)
    stored = policy.model_dump(mode="json", by_alias=True)
    record = session.get(RoutingPolicyRecord, merchant_id, with_for_update=True)
    now = clock.now()
    if record is None:
        record = RoutingPolicyRecord(
            merchant_id=merchant_id, document=stored, version=1, updated_at=now
        )
        session.add(record)
    else:
        record.document = stored
        record.version += 1
        record.updated_at = now
    session.flush()
    audit(session, merchant_id, actor, "routing_policy.updated", f"{merchant_id}:v{record.version}")
    return policy, record.version


# --- the candidates and what is known of them ------------------------------------------


_CANDIDATES = (
    sa.select(
        ChannelAccount.id,
        ChannelAccount.channel,
        ChannelAccount.gray_users,
        _VERSION_OF.scalar_subquery(),
    )
    .where(
        ChannelAccount.merchant_id == sa.bindparam("merchant_id"),
        ChannelAccount.channel.in_(sa.bindparam("channels", expanding=True)),
        ChannelAccount.mode == sa.bindparam("mode"),
        ChannelAccount.status == ChannelAccountStatus.ACTIVE.value,
    )
    .order_by(ChannelAccount.id)
)


def candidate_accounts(
    session: Session, merchant_id: str, livemode: bool, method: Method, currency: str
) -> tuple[list[Candidate], int | None]:
    """Active accounts of the merchant, in the key's mode, of every channel serving
    ``method`` in ``currency``, oldest first; and the version of the merchant's policy (None:
    no policy, or no candidates), read in the same statement."""
    channels = channels_serving(method, currency)
    if not channels:
        return [], None
    mode = ChannelAccountMode.LIVE if livemode else ChannelAccountMode.SANDBOX
    rows = session.execute(
        _CANDIDATES,
        {"merchant_id": merchant_id, "channels": list(channels), "mode": mode.value},
    ).all()
    version = rows[0][3] if rows else None
    return [Candidate(id_, channel, tuple(gray or ())) for id_, channel, gray, _ in rows], version


def circuits(accounts: Iterable[str], policy: RoutingPolicy) -> dict[str, CircuitState]:
    now = time.monotonic()
    return {account: BREAKERS.state(account, now, policy.breaker.open_s) for account in accounts}


# --- deciding -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Routed:
    decision: Decision
    policy: RoutingPolicy
    version: int

    @property
    def account_id(self) -> str:
        chosen = self.decision.chosen
        assert chosen is not None, "route() raises when nothing is eligible"
        return chosen


def route(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    method: Method,
    ctx: Context,
    health_of: Callable[[int], Mapping[str, Health]],
    exclude: frozenset[str] = frozenset(),
    costs_of: Callable[[list[Candidate]], Mapping[str, int]] | None = None,
) -> Routed:
    """Decide which account takes the payment; :class:`NoChannelAccount` when the merchant
    has none for the method, :class:`NoChannelAvailable` when none can take it now.
    ``health_of(window_s)``: the success counts of the merchant's accounts over the policy's
    window (the payments module keeps them)."""
    candidates, known_version = candidate_accounts(
        session, merchant_id, livemode, method, ctx.currency
    )
    if not candidates:
        mode = "live" if livemode else "sandbox"
        served_by = ", ".join(channels_serving(method)) or "no channel"
        taking = ", ".join(channels_serving(method, ctx.currency)) or "none of them"
        raise NoChannelAccount(
            f"no active {mode} channel account for {method.value} in {ctx.currency} (served "
            f"by {served_by}; taking {ctx.currency}: {taking}): add one with "
            "POST /v1/channel-accounts",
            param="method",
        )
    policy, version = get_policy(session, merchant_id, known_version=known_version)
    quoted = costs_of(candidates) if costs_of is not None and uses_cost(policy) else None
    decision = decide(
        policy,
        candidates,
        ctx,
        health=health_of(policy.success_rate.window_s),
        circuits=circuits((c.account_id for c in candidates), policy),
        draw=random.random(),  # noqa: S311 - a traffic split, not a secret
        exclude=exclude,
        quoted_costs=quoted,
    )
    if decision.chosen is None:
        if exclude and all(c.account_id in exclude for c in candidates):
            raise NoChannelAvailable(
                f"every account for {method.value} was tried: {decision.reason}"
            )
        raise NoChannelAvailable(f"no channel account can take the payment: {decision.reason}")
    return Routed(decision, policy, version)


def uses_cost(policy: RoutingPolicy) -> bool:
    """Whether a strategy of the policy ranks by cost (only then are costs quoted)."""
    strategies = {policy.default_strategy, *(rule.strategy for rule in policy.rules)}
    return Strategy.LEAST_COST in strategies


def decision_document(
    routed: Routed, *, method: str, failover_from: str | None = None
) -> dict[str, Any]:
    """The decision as it is kept on the attempt it made (``payment_attempts.routing``): the
    rule, the strategy, every candidate with its score or why it was skipped, the reason."""
    decision = routed.decision
    return {
        "method": method,
        "policy_version": routed.version,
        "rule": decision.rule,
        "strategy": decision.strategy.value,
        "chosen_account_id": decision.chosen,
        "failover_from": failover_from,
        "reason": decision.reason,
        "candidates": [scored.as_json() for scored in decision.candidates],
        "decided_at": clock.now().isoformat(),
    }


# --- what channel calls teach ----------------------------------------------------------


def observe(account_id: str, policy: RoutingPolicy, *, ok: bool) -> None:
    """A channel call of ``account_id`` answered (ok) or failed with an error or time-out."""
    if ok:
        BREAKERS.succeeded(account_id)
    else:
        BREAKERS.failed(account_id, time.monotonic(), policy.breaker.failures_to_open)
