"""WeChat Pay and Alipay end to end: Paydesk and both simulators on loopback, real HTTP all
the way (SDK calls, signed notifications, the webhook to the merchant)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job
from tests.support.jobs import wait_until
from tests.support.payments import (
    create_order,
    follow,
    get,
    money,
    pay,
    payment_journals,
    set_faults,
    simulator_pay,
    wait_order,
    wait_refund,
)
from tests.support.sandbox import SandboxServer, sandbox_server

CHANNELS = {"wechatpay": "wechat_native", "alipay": "alipay_qr"}


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        yield server


def _inbox_types(sandbox: SandboxServer) -> list[str]:
    inbox = httpx.get(f"{sandbox.base_url}/sandbox/webhook-inbox").json()
    return [json.loads(item["body"])["type"] for item in inbox["data"]]


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_create_pay_notify_refund(sandbox: SandboxServer, channel: str) -> None:
    inbox = f"{sandbox.base_url}/sandbox/webhook-inbox"
    created = create_order(sandbox, 1000, notify_url=inbox)
    opened = pay(sandbox, created["id"], CHANNELS[channel])
    assert opened.status_code == 200, opened.text
    attempt = opened.json()["attempt"]
    assert (attempt["status"], attempt["channel"]) == ("pending", channel)
    assert opened.json()["order"]["status"] == "paying"
    qr_code = attempt["action"]["qr_code"]
    page = httpx.get(qr_code)  # the QR code's target: the simulator's pay page
    assert page.status_code == 200 and "<form" in page.text

    assert simulator_pay(sandbox, channel, attempt["id"]).status_code == 200
    paid = wait_order(sandbox, created["id"], "succeeded")
    assert paid["amount_paid"] == 1000
    assert money(sandbox)["receivable"] == 1000

    partial = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        json={"order_id": created["id"], "amount": 300, "reason": "one item back"},
        headers=sandbox.headers,
    )
    assert partial.status_code == 201, partial.text
    assert wait_refund(sandbox, partial.json()["id"], "succeeded")["amount"] == 300
    rest = httpx.post(
        f"{sandbox.base_url}/v1/refunds", json={"order_id": created["id"]}, headers=sandbox.headers
    )
    assert rest.json()["amount"] == 700
    wait_refund(sandbox, rest.json()["id"], "succeeded")
    final = wait_order(sandbox, created["id"], "refunded")
    assert final["amount_refunded"] == 1000
    balances = money(sandbox)
    assert (balances["receivable"], balances["refunds_pending"]) == (0, 0)
    assert balances[f"{channel}_clearing"] == 0
    wait_until(
        lambda: {"order.succeeded", "refund.succeeded"} <= set(_inbox_types(sandbox)),
        timeout_s=15,
        what="the merchant's webhooks",
    )


def test_refund_rules(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 500)
    attempt = pay(sandbox, created["id"], "alipay_qr").json()["attempt"]
    simulator_pay(sandbox, "alipay", attempt["id"])
    wait_order(sandbox, created["id"], "succeeded")
    refunds = f"{sandbox.base_url}/v1/refunds"
    too_much = httpx.post(
        refunds, json={"order_id": created["id"], "amount": 501}, headers=sandbox.headers
    )
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (
        400,
        "refund_exceeds_paid",
    )
    keyed = {**sandbox.headers, "Idempotency-Key": "refund-once"}
    first = httpx.post(refunds, json={"order_id": created["id"], "amount": 200}, headers=keyed)
    again = httpx.post(refunds, json={"order_id": created["id"], "amount": 200}, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    listed = get(sandbox, f"/v1/refunds?order_id={created['id']}")["data"]
    assert len(listed) == 1
    # Pending refunds count: 300 left, so 301 more is refused even before the first succeeds.
    over = httpx.post(
        refunds, json={"order_id": created["id"], "amount": 301}, headers=sandbox.headers
    )
    assert over.json()["error"]["code"] == "refund_exceeds_paid"
    window = httpx.put(
        f"{sandbox.base_url}/v1/payment-settings",
        json={"refund_window_days": 0},
        headers=sandbox.headers,
    )
    assert window.status_code == 200
    closed = httpx.post(
        refunds, json={"order_id": created["id"], "amount": 10}, headers=sandbox.headers
    )
    assert closed.json()["error"]["code"] == "refund_window_closed"
    unpaid = create_order(sandbox, 100)
    refused = httpx.post(refunds, json={"order_id": unpaid["id"]}, headers=sandbox.headers)
    assert refused.json()["error"]["code"] == "illegal_transition"


def test_a_second_payment_is_refunded_automatically(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 800)
    wechat = pay(sandbox, created["id"], "wechat_native").json()["attempt"]
    alipay = pay(sandbox, created["id"], "alipay_qr").json()["attempt"]
    # The payer pays both QR codes; WeChat's notification is lost, Alipay's arrives.
    set_faults(sandbox, "wechatpay", drop_notifications=1)
    assert simulator_pay(sandbox, "wechatpay", wechat["id"]).status_code == 200
    assert simulator_pay(sandbox, "alipay", alipay["id"]).status_code == 200
    paid = wait_order(sandbox, created["id"], "succeeded")
    assert paid["paid_attempt_id"] == alipay["id"]
    follow(sandbox, wechat["id"])  # the order centre learns of the WeChat payment
    wait_until(
        lambda: any(
            r["automatic"] and r["status"] == "succeeded"
            for r in get(sandbox, f"/v1/refunds?order_id={created['id']}")["data"]
        ),
        timeout_s=15,
        what="the automatic refund of the second payment",
    )
    final = get(sandbox, f"/v1/orders/{created['id']}")
    assert (final["status"], final["amount_paid"], final["amount_refunded"]) == (
        "succeeded",
        800,
        0,
    )
    assert payment_journals(sandbox, wechat["id"]) == payment_journals(sandbox, alipay["id"]) == 1
    balances = money(sandbox)
    assert balances["receivable"] == 800 and balances["refunds_pending"] == 0
    assert balances["wechatpay_clearing"] == 0 and balances["alipay_clearing"] == -800


def test_a_refund_the_channel_refuses_gives_the_money_back(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 900)
    attempt = pay(sandbox, created["id"], "wechat_native").json()["attempt"]
    simulator_pay(sandbox, "wechatpay", attempt["id"])
    wait_order(sandbox, created["id"], "succeeded")
    set_faults(sandbox, "wechatpay", hold_refunds=True)
    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        json={"order_id": created["id"], "amount": 400},
        headers=sandbox.headers,
    ).json()
    wait_until(
        lambda: bool(_refund_at_channel(sandbox, refund["id"])),
        timeout_s=15,
        what="the refund to reach the channel",
    )
    # Set aside while the channel processes it: the merchant cannot spend it meanwhile.
    assert (money(sandbox)["receivable"], money(sandbox)["refunds_pending"]) == (500, 400)
    ended = httpx.post(
        f"{sandbox.wechat_control_url}/simulator/refunds/{refund['id']}/complete",
        json={"status": "ABNORMAL"},
    )
    assert ended.status_code == 200, ended.text
    failed = wait_refund(sandbox, refund["id"], "failed")
    assert failed["failure_code"] == "channel_failed"
    assert (money(sandbox)["receivable"], money(sandbox)["refunds_pending"]) == (900, 0)
    paid = get(sandbox, f"/v1/orders/{created['id']}")
    assert (paid["status"], paid["amount_refunded"]) == ("succeeded", 0)


def _refund_at_channel(sandbox: SandboxServer, refund_id: str) -> bool:
    with unit_of_work(sandbox.db, read_only=True) as session:
        job = session.query(Job).filter(Job.dedupe_key == f"refund:{refund_id}:submit").one()
        return job.status == "succeeded"


def test_paying_with_an_idempotency_key_opens_one_attempt(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 300)
    keyed = {**sandbox.headers, "Idempotency-Key": "pay-once"}
    url = f"{sandbox.base_url}/v1/orders/{created['id']}/pay"
    first = httpx.post(url, json={"method": "alipay_qr"}, headers=keyed, timeout=30)
    again = httpx.post(url, json={"method": "alipay_qr"}, headers=keyed, timeout=30)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["attempt"]["id"] == again.json()["attempt"]["id"]
    assert len(get(sandbox, f"/v1/orders/{created['id']}/attempts")) == 1


def test_a_wallet_recharge_order_tops_up_the_users_wallet(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 5000, purpose="wallet_recharge", user_id="topper")
    assert created["purpose"] == "wallet_recharge"
    refused = pay(sandbox, created["id"], "balance")
    assert refused.json()["error"]["code"] == "method_not_available"
    attempt = pay(sandbox, created["id"], "alipay_qr").json()["attempt"]
    simulator_pay(sandbox, "alipay", attempt["id"])
    wait_order(sandbox, created["id"], "succeeded")
    wallet = get(sandbox, "/v1/wallets/topper")["balances"]
    assert [(b["currency"], b["available"]) for b in wallet] == [("CNY", 5000)]
    assert money(sandbox)["receivable"] == 0  # the user's money, not the merchant's
    spend = create_order(sandbox, 4500, user_id="topper")
    assert pay(sandbox, spend["id"], "balance").status_code == 200
    # Only what is left in the wallet can be refunded to the channel.
    too_much = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        json={"order_id": created["id"], "amount": 1000},
        headers=sandbox.headers,
    )
    assert too_much.json()["error"]["code"] == "exceeds_floor"
    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        json={"order_id": created["id"], "amount": 500},
        headers=sandbox.headers,
    ).json()
    wait_refund(sandbox, refund["id"], "succeeded")
    wallet = get(sandbox, "/v1/wallets/topper")["balances"]
    assert [(b["currency"], b["available"]) for b in wallet] == [("CNY", 0)]
    totals = get(sandbox, "/v1/wallets/topper/totals")
    assert (totals[0]["saved"], totals[0]["spent"]) == (4500, 4500), totals
    assert money(sandbox)["alipay_clearing"] == -4500
