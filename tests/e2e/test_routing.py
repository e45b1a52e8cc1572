"""Routing through real channels: two WeChat Pay merchant numbers at the sandbox's simulator,
one told to fail. Payments keep succeeding through the other, the failing one's circuit
opens, every decision is kept on the order, and the ledger balances."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paydesk.channels.router.breaker import BREAKERS
from paydesk.db.engine import Database
from paydesk.payments.routing import HEALTH_CACHE
from tests.support.payments import create_order, get, money, pay, simulator_pay, wait_order
from tests.support.routing import put_policy, second_wechat_account
from tests.support.sandbox import SandboxServer, sandbox_server


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    BREAKERS.reset()
    HEALTH_CACHE.clear()
    with sandbox_server(db, tmp_path, channel_timeout_s=2.0) as server:
        yield server
    BREAKERS.reset()
    HEALTH_CACHE.clear()


def test_payments_fail_over_to_the_other_account_and_the_circuit_opens(
    sandbox: SandboxServer,
) -> None:
    first = sandbox.wechat_account_id
    second, _ = second_wechat_account(sandbox)
    put_policy(
        sandbox,
        {
            "default_strategy": "priority",
            "rules": [{"name": "first first", "accounts": [first, second]}],
            "breaker": {"failures_to_open": 2, "open_s": 600},
        },
    )
    # The first merchant number's API answers 500 SYSTEM_ERROR from now on.
    faults = httpx.post(
        f"{sandbox.wechat_control_url}/simulator/faults",
        json={"mchid": sandbox.wechat_credentials.mchid, "fail_next_n": 1000},
    )
    assert faults.status_code == 200, faults.text

    paid_through = []
    for n in range(4):
        created = create_order(sandbox, 700 + n)
        answer = pay(sandbox, created["id"], "wechat_native")
        assert answer.status_code == 200, answer.text
        attempt = answer.json()["attempt"]
        assert attempt["status"] == "pending"
        assert attempt["channel_account_id"] == second
        assert simulator_pay(sandbox, "wechatpay", attempt["id"]).status_code == 200
        wait_order(sandbox, created["id"], "succeeded")
        decisions = get(sandbox, f"/v1/orders/{created['id']}/routing")
        paid_through.append([(d["chosen_account_id"], d["failover_from"]) for d in decisions])

    # Two payments tried the first account, failed over; then its circuit was open.
    assert paid_through[0] == [(first, None), (second, first)]
    assert paid_through[1] == [(first, None), (second, first)]
    assert paid_through[2] == [(second, None)]
    assert paid_through[3] == [(second, None)]
    last = get(sandbox, f"/v1/orders/{created['id']}/routing")[0]
    skipped = {c["account_id"]: c["skipped"] for c in last["candidates"]}
    assert skipped == {first: "circuit_open", second: None}
    assert "circuit_open" in last["reason"]
    # Every payment posted once; the unknown attempts at the failing account moved no money.
    assert money(sandbox)["receivable"] == 700 + 701 + 702 + 703


def test_the_cheaper_account_wins_and_the_decision_says_why(sandbox: SandboxServer) -> None:
    first = sandbox.wechat_account_id
    second, _ = second_wechat_account(sandbox)
    put_policy(
        sandbox,
        {
            "default_strategy": "least_cost",
            "costs": {first: {"rate_bps": 60}, second: {"rate_bps": 30, "fixed": 1}},
        },
    )
    created = create_order(sandbox, 10_000)
    answer = pay(sandbox, created["id"], "wechat_native")
    assert answer.status_code == 200, answer.text
    assert answer.json()["attempt"]["channel_account_id"] == second
    decision = get(sandbox, f"/v1/orders/{created['id']}/routing")[0]
    costs = {c["account_id"]: c["cost"] for c in decision["candidates"]}
    assert costs == {first: 60, second: 31}
    assert decision["strategy"] == "least_cost"
    assert "lowest cost 31" in decision["reason"]


def test_a_bad_policy_is_refused_and_the_old_one_stays(sandbox: SandboxServer) -> None:
    stored = put_policy(sandbox, {"default_strategy": "least_cost"})
    assert stored["version"] == 1
    bad = httpx.put(
        f"{sandbox.base_url}/v1/routing-policy",
        headers=sandbox.headers,
        json={"rules": [{"name": "w", "strategy": "weighted"}]},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_routing_policy"
    assert "needs weights" in bad.json()["error"]["message"]
    now = get(sandbox, "/v1/routing-policy")
    assert now["version"] == 1
    assert now["policy"]["default_strategy"] == "least_cost"


def test_gray_release_keeps_an_account_for_its_users(sandbox: SandboxServer) -> None:
    first = sandbox.wechat_account_id
    second, _ = second_wechat_account(sandbox)
    gray = httpx.put(
        f"{sandbox.base_url}/v1/channel-accounts/{second}/gray-users",
        headers=sandbox.headers,
        json={"users": ["beta-tester"]},
    )
    assert gray.status_code == 200, gray.text
    assert gray.json()["gray_users"] == ["beta-tester"]
    put_policy(
        sandbox,
        {
            "default_strategy": "priority",
            "rules": [{"name": "new first", "accounts": [second, first]}],
        },
    )
    for user, expected in (("beta-tester", second), ("someone-else", first)):
        created = create_order(sandbox, 500, user_id=user)
        answer = pay(sandbox, created["id"], "wechat_native")
        assert answer.status_code == 200, answer.text
        assert answer.json()["attempt"]["channel_account_id"] == expected, user


def test_only_channels_taking_the_order_currency_are_candidates(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 500, currency="USD")
    answer = pay(sandbox, created["id"], "wechat_native")
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "no_channel_account"
    assert "in USD" in error["message"] and "taking USD: none of them" in error["message"]
    assert get(sandbox, f"/v1/orders/{created['id']}")["status"] == "created"
