"""Routing cost: decisions per second for a policy of 20 rules over 5 channel accounts, and
the latency routing adds to a payment, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/routing.py [--seconds N] [--postgres-url URL] [--quick]

Measured in one run:

* ``decide``: the pure decision (``channels.router.decide.decide``) for a policy of 20 rules
  whose matching rule is the last one (19 rules tried and refused on every payment), 5
  candidates with success counts and circuit states. Baseline: the same call with an empty
  policy (no rules, the default strategy), so the ratio is what 20 rules cost.
* ``route step`` per payment, in the unit of work a payment opens: the candidate accounts
  and the policy version (one statement), the parsed policy, the decision and the document
  kept on the attempt (written with the attempt's own insert, which every payment makes),
  against the baseline of the same unit of work doing only what an unrouted payment did
  (look up the one account of the channel). Each iteration runs both, so ``added`` is the
  difference measured on the same conditions; its p99 is the routing's added latency (target:
  under 1 ms).

Progress goes to stdout; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from bench_db import postgres_schema

from paydesk.channels.accounts import service as accounts
from paydesk.channels.accounts.models import ChannelAccount, ChannelAccountMode
from paydesk.channels.base import Method
from paydesk.channels.router import service as router
from paydesk.channels.router.decide import Candidate, CircuitState, Context, Health, decide
from paydesk.channels.router.policy import RoutingPolicy
from paydesk.core.ids import new_id
from paydesk.db import migrate
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants.models import MerchantKind
from paydesk.merchants.service import create_merchant
from paydesk.payments.models import Order
from paydesk.payments.routing import route_payment
from paydesk.simulators import wechatpay as wechat_sim

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RULES = 20
ACCOUNTS = 5
TARGET_ADDED_P99_MS = 1.0


def say(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def policy_document(account_ids: list[str]) -> dict[str, Any]:
    """20 rules: 19 that never match this benchmark's payments (each fails on its last
    condition, so every condition before it is checked), then the one that does."""
    rules: list[dict[str, Any]] = []
    for i in range(RULES - 1):
        rules.append(
            {
                "name": f"rule-{i}",
                "priority": 10 + i,
                "when": {
                    "methods": ["wechat_native", "alipay_qr"],
                    "currencies": ["CNY", "USD"],
                    "amount_min": 0,
                    "amount_max": 10_000_000,
                    "hours": {"from": "00:00", "to": "23:59"},
                    "regions": [f"R{i}"],
                },
                "accounts": account_ids[: 2 + i % 3],
                "strategy": "least_cost",
            }
        )
    rules.append(
        {
            "name": "split",
            "priority": 1000,
            "when": {"methods": ["wechat_native"], "currencies": ["CNY"]},
            "strategy": "weighted",
            "weights": {account: 10 + 5 * n for n, account in enumerate(account_ids)},
        }
    )
    return {
        "rules": rules,
        "costs": {a: {"rate_bps": 30 + n, "fixed": n} for n, a in enumerate(account_ids)},
        "timezone": "Asia/Shanghai",
    }


def bench_decide(seconds: float) -> dict[str, Any]:
    ids = [f"cha_{n}" for n in range(ACCOUNTS)]
    candidates = [Candidate(a, "wechatpay") for a in ids]
    health = {a: Health(90 + n, 100) for n, a in enumerate(ids)}
    circuits = {ids[0]: CircuitState.OPEN, ids[1]: CircuitState.HALF_OPEN}
    ctx = Context("wechat_native", 12_345, "CNY", datetime.now(UTC), region="CN")
    rng = random.Random(1)
    figures: dict[str, Any] = {}
    for name, policy in (
        ("baseline", RoutingPolicy()),
        ("rules20", RoutingPolicy.model_validate(policy_document(ids))),
    ):
        assert decide(policy, candidates, ctx, health=health, circuits=circuits, draw=0.5).chosen
        count, started = 0, time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for _ in range(200):
                decide(policy, candidates, ctx, health=health, circuits=circuits, draw=rng.random())
            count += 200
        per_s = count / (time.perf_counter() - started)
        figures[f"decide_{name}_per_s"] = round(per_s)
        say(f"[decide] {name:<9} {per_s:10.0f} decisions/s  ({1e6 / per_s:6.1f} us each)")
    figures["decide_ratio_rules20_to_baseline"] = round(
        figures["decide_rules20_per_s"] / figures["decide_baseline_per_s"], 3
    )
    return figures


def setup(db: Database) -> tuple[str, list[str], list[str]]:
    """A merchant, 5 sandbox WeChat Pay accounts, its policy, and orders to route."""
    creds = wechat_sim.generate_test_credentials()
    fields = {
        "mchid": creds.mchid,
        "appid": creds.appid,
        "merchant_private_key_pem": creds.merchant_private_key_pem,
        "merchant_cert_serial_no": creds.merchant_cert_serial_no,
        "platform_public_key_pem": creds.platform_public_key_pem,
        "public_key_id": creds.public_key_id,
        "apiv3_key": creds.apiv3_key,
    }
    secret = secrets.token_urlsafe(48)
    with unit_of_work(db) as session:
        merchant = create_merchant(
            session, name="bench", kind=MerchantKind.MERCHANT, parent_id=None, actor="bench"
        )
        ids = [
            accounts.create_account(
                session,
                merchant.id,
                channel="wechatpay",
                name=f"wechat {n}",
                mode=ChannelAccountMode.SANDBOX,
                credentials=fields,
                secret=secret,
                actor="bench",
            ).id
            for n in range(ACCOUNTS)
        ]
        router.put_policy(session, merchant.id, policy_document(ids), actor="bench")
        now = datetime.now(UTC)
        orders = []
        for n in range(200):
            order = Order(
                id=new_id("ord"),
                merchant_id=merchant.id,
                app_id=None,
                livemode=False,
                merchant_order_no=f"bench-{n}",
                purpose="purchase",
                amount_minor=10_000 + n,
                currency="CNY",
                amount_paid_minor=0,
                amount_refunded_minor=0,
                subject="bench",
                user_id=f"user{n}",
                notify_url=None,
                status="created",
                meta={"region": "CN"},
                expires_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
            session.add(order)
            orders.append(order.id)
    return merchant.id, ids, orders


def bench_db(db: Database, prefix: str, seconds: float) -> dict[str, Any]:
    merchant_id, ids, order_ids = setup(db)

    def baseline(order_id: str) -> None:
        with unit_of_work(db) as session:
            order = session.get(Order, order_id)
            assert order is not None
            found = session.scalars(
                sa.select(ChannelAccount).where(
                    ChannelAccount.merchant_id == merchant_id,
                    ChannelAccount.channel == "wechatpay",
                    ChannelAccount.mode == "sandbox",
                    ChannelAccount.status == "active",
                    ChannelAccount.id == ids[0],
                )
            ).one()
            assert found.id == ids[0]

    def routed(order_id: str) -> None:
        with unit_of_work(db) as session:
            order = session.get(Order, order_id)
            assert order is not None
            routed = route_payment(
                session, order, Method.WECHAT_NATIVE, user_id=None, exclude=frozenset()
            )
            document = router.decision_document(routed, method="wechat_native")
            assert document["chosen_account_id"] in ids

    def timed(op: Callable[[str], None], order_id: str) -> float:
        started = time.perf_counter()
        op(order_id)
        return (time.perf_counter() - started) * 1000

    for n in range(50):  # warm-up: compiled statements, connection pool, health cache
        baseline(order_ids[n % len(order_ids)])
        routed(order_ids[n % len(order_ids)])
    base_ms: list[float] = []
    routed_ms: list[float] = []
    added_ms: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        order_id = order_ids[n % len(order_ids)]
        b = timed(baseline, order_id)
        r = timed(routed, order_id)
        base_ms.append(b)
        routed_ms.append(r)
        added_ms.append(r - b)
        n += 1
    figures = {
        f"{prefix}_payments": n,
        f"{prefix}_baseline_p50_ms": round(percentile(base_ms, 0.5), 3),
        f"{prefix}_baseline_p99_ms": round(percentile(base_ms, 0.99), 3),
        f"{prefix}_routed_p50_ms": round(percentile(routed_ms, 0.5), 3),
        f"{prefix}_routed_p99_ms": round(percentile(routed_ms, 0.99), 3),
        f"{prefix}_added_p50_ms": round(percentile(added_ms, 0.5), 3),
        f"{prefix}_added_p99_ms": round(percentile(added_ms, 0.99), 3),
        f"{prefix}_ratio_routed_to_baseline_p50": round(
            percentile(routed_ms, 0.5) / percentile(base_ms, 0.5), 3
        ),
    }
    figures[f"{prefix}_target_added_p99_met"] = (
        figures[f"{prefix}_added_p99_ms"] < TARGET_ADDED_P99_MS
    )
    say(
        f"[{prefix}] unit of work per payment over {n} payments: baseline p50"
        f" {figures[f'{prefix}_baseline_p50_ms']} ms p99 {figures[f'{prefix}_baseline_p99_ms']}"
        f" ms; routed p50 {figures[f'{prefix}_routed_p50_ms']} ms p99"
        f" {figures[f'{prefix}_routed_p99_ms']} ms; added p50 {figures[f'{prefix}_added_p50_ms']}"
        f" ms p99 {figures[f'{prefix}_added_p99_ms']} ms"
    )
    return figures


def run_backend(prefix: str, url: str, seconds: float) -> dict[str, Any]:
    db = Database(url, pool_size=2)
    try:
        migrate.upgrade(db)
        return bench_db(db, prefix, seconds)
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--postgres-url", default=POSTGRES_URL_DEFAULT)
    parser.add_argument("--quick", action="store_true", help="1 s per run")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    result: dict[str, Any] = {"rules": RULES, "accounts": ACCOUNTS, "seconds": seconds}
    result["cpus"], result["load_1m_before"] = os.cpu_count(), round(os.getloadavg()[0], 2)
    result.update(bench_decide(seconds))
    with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as directory:
        result.update(run_backend("sqlite", f"sqlite:///{Path(directory) / 'r.db'}", seconds))
    base = args.postgres_url
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
    try:
        with postgres_schema(base) as url:
            result.update(run_backend("pg", url, seconds))
    except (sa.exc.OperationalError, psycopg.OperationalError) as exc:
        say(f"[pg] skipped: {str(exc).splitlines()[0]}")
        result["pg_skipped"] = str(exc).splitlines()[0]
    result["load_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
