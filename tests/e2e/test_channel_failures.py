"""Every way a channel misbehaves, injected by its simulator, ends with the right order state
and a balanced ledger: lost, duplicated, reordered and forged notifications, time-outs, a
channel that errors, expiry, and a merchant closing an order while the payer is paying."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job
from paydesk.payments import order_centre, refunds
from tests.support.jobs import wait_until
from tests.support.payments import (
    create_order,
    follow,
    get,
    money,
    order,
    pay,
    payment_journals,
    set_faults,
    simulator_pay,
    wait_order,
)
from tests.support.sandbox import SandboxServer, sandbox_server

METHODS = {"wechatpay": "wechat_native", "alipay": "alipay_qr"}


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path, channel_timeout_s=1.0) as server:
        yield server


def _open(sandbox: SandboxServer, channel: str, amount: int = 600) -> tuple[str, str]:
    created = create_order(sandbox, amount)
    answer = pay(sandbox, created["id"], METHODS[channel])
    assert answer.status_code == 200, answer.text
    return created["id"], answer.json()["attempt"]["id"]


def _deliveries(sandbox: SandboxServer, channel: str) -> list[dict[str, object]]:
    base = sandbox.wechat_control_url if channel == "wechatpay" else sandbox.alipay_control_url
    log = httpx.get(f"{base}/simulator/notifications").json()
    found: list[dict[str, object]] = log["deliveries"] if isinstance(log, dict) else log
    return found


@pytest.mark.parametrize("channel", list(METHODS))
def test_a_lost_notification_is_found_by_the_order_centre(
    sandbox: SandboxServer, channel: str
) -> None:
    set_faults(sandbox, channel, drop_notifications=1 if channel == "wechatpay" else True)
    order_id, attempt_id = _open(sandbox, channel)
    assert simulator_pay(sandbox, channel, attempt_id).status_code == 200
    time.sleep(0.5)
    assert order(sandbox, order_id)["status"] == "paying"
    follow(sandbox, attempt_id)
    assert order(sandbox, order_id)["status"] == "succeeded"
    assert payment_journals(sandbox, attempt_id) == 1
    assert money(sandbox)["receivable"] == 600


@pytest.mark.parametrize("channel", list(METHODS))
def test_duplicate_notifications_pay_once(sandbox: SandboxServer, channel: str) -> None:
    set_faults(sandbox, channel, duplicate_notifications=1 if channel == "wechatpay" else True)
    order_id, attempt_id = _open(sandbox, channel)
    simulator_pay(sandbox, channel, attempt_id)
    wait_order(sandbox, order_id, "succeeded")
    wait_until(lambda: len(_deliveries(sandbox, channel)) >= 2, timeout_s=15, what="both copies")
    follow(sandbox, attempt_id)  # and a query on top: still once
    assert payment_journals(sandbox, attempt_id) == 1
    assert money(sandbox)["receivable"] == 600


@pytest.mark.parametrize("channel", list(METHODS))
def test_forged_notifications_change_nothing(sandbox: SandboxServer, channel: str) -> None:
    order_id, attempt_id = _open(sandbox, channel)
    account = sandbox.wechat_account_id if channel == "wechatpay" else sandbox.alipay_account_id
    notify = f"{sandbox.base_url}/notify/{channel}/{account}"
    if channel == "wechatpay":
        forged = httpx.post(
            notify,
            content=b'{"id":"x","event_type":"TRANSACTION.SUCCESS","resource":{}}',
            headers={
                "Content-Type": "application/json",
                "Wechatpay-Serial": "forged",
                "Wechatpay-Timestamp": str(int(time.time())),
                "Wechatpay-Nonce": "n",
                "Wechatpay-Signature": "c2lnbmF0dXJl",
            },
        )
        assert forged.status_code >= 400
    else:
        forged = httpx.post(
            notify,
            data={
                "out_trade_no": attempt_id,
                "trade_status": "TRADE_SUCCESS",
                "total_amount": "6.00",
                "sign_type": "RSA2",
                "sign": "Zm9yZ2Vk",
            },
        )
        assert forged.text != "success"
    assert order(sandbox, order_id)["status"] == "paying"
    # The simulator itself sends a forged copy before the genuine notification.
    set_faults(sandbox, channel, forge_notification=1 if channel == "wechatpay" else True)
    simulator_pay(sandbox, channel, attempt_id)
    if channel == "alipay":  # every Alipay notification is forged: the query finds the payment
        time.sleep(0.5)
        assert order(sandbox, order_id)["status"] == "paying"
        follow(sandbox, attempt_id)
    wait_order(sandbox, order_id, "succeeded")
    assert payment_journals(sandbox, attempt_id) == 1


@pytest.mark.parametrize("channel", list(METHODS))
def test_notifications_out_of_order(sandbox: SandboxServer, channel: str) -> None:
    set_faults(sandbox, channel, reorder=1 if channel == "wechatpay" else True)
    first_order, first = _open(sandbox, channel, 100)
    second_order, second = _open(sandbox, channel, 200)
    simulator_pay(sandbox, channel, first)  # its notification is held back...
    simulator_pay(sandbox, channel, second)  # ...until this one's has gone
    wait_order(sandbox, second_order, "succeeded")
    wait_order(sandbox, first_order, "succeeded")
    assert money(sandbox)["receivable"] == 300


@pytest.mark.parametrize("channel", list(METHODS))
def test_a_timed_out_payment_is_unknown_until_queried(sandbox: SandboxServer, channel: str) -> None:
    set_faults(sandbox, channel, delay_s=2.0)
    created = create_order(sandbox, 700)
    answer = pay(sandbox, created["id"], METHODS[channel])
    assert answer.status_code == 202, answer.text
    attempt = answer.json()["attempt"]
    assert (attempt["status"], answer.json()["order"]["status"]) == ("unknown", "paying")
    httpx.delete(
        f"{sandbox.wechat_control_url if channel == 'wechatpay' else sandbox.alipay_control_url}"
        "/simulator/faults"
    )
    follow(sandbox, attempt["id"])
    assert get(sandbox, f"/v1/orders/{created['id']}/attempts")[0]["status"] == "pending"
    if channel == "wechatpay":  # WeChat made the payment before answering late: pay it
        paid_attempt = attempt["id"]
    else:  # Alipay's late answer never made a trade (it only exists once scanned): try again
        paid_attempt = pay(sandbox, created["id"], METHODS[channel]).json()["attempt"]["id"]
    assert simulator_pay(sandbox, channel, paid_attempt).status_code == 200
    wait_order(sandbox, created["id"], "succeeded")
    assert money(sandbox)["receivable"] == 700


def test_a_payment_the_channel_never_received_closes(sandbox: SandboxServer) -> None:
    set_faults(sandbox, "wechatpay", fail_next_n=1)
    created = create_order(sandbox, 900)
    answer = pay(sandbox, created["id"], "wechat_native")
    assert answer.status_code == 202  # a 500 from the channel: it may or may not exist there
    attempt_id = answer.json()["attempt"]["id"]
    follow(sandbox, attempt_id)
    attempts = get(sandbox, f"/v1/orders/{created['id']}/attempts")
    assert (attempts[0]["status"], attempts[0]["failure_code"]) == ("closed", "not_at_channel")
    assert order(sandbox, created["id"])["status"] == "created"  # the payer can try again
    again = pay(sandbox, created["id"], "wechat_native")
    assert again.status_code == 200 and again.json()["attempt"]["status"] == "pending"


def test_the_order_centre_follows_from_the_job_table(sandbox: SandboxServer) -> None:
    """The query is a job written with the attempt: whichever process runs the worker (after a
    crash, a restart) finds it and completes the order once it is due."""
    set_faults(sandbox, "wechatpay", drop_notifications=1)
    order_id, attempt_id = _open(sandbox, "wechatpay")
    simulator_pay(sandbox, "wechatpay", attempt_id)
    with unit_of_work(sandbox.db, read_only=True) as session:
        job = session.query(Job).filter(Job.dedupe_key == f"query:{attempt_id}:0").one()
        assert job.kind == "payments.query_attempt" and job.status == "pending"
    later = datetime.now(UTC) + timedelta(seconds=15)
    clock.set_clock(lambda: later + (datetime.now(UTC) - later + timedelta(seconds=15)))
    try:
        wait_order(sandbox, order_id, "succeeded")
    finally:
        clock.set_clock(None)
    assert payment_journals(sandbox, attempt_id) == 1


def test_an_expired_order_is_closed_at_the_channel(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 400, expires_in_s=60)
    attempt_id = pay(sandbox, created["id"], "wechat_native").json()["attempt"]["id"]
    clock.set_clock(lambda: datetime.now(UTC) + timedelta(seconds=61))
    try:
        with unit_of_work(sandbox.db) as session:
            assert order_centre.expire_due_orders(session, clock.now()) == 1
        follow(sandbox, attempt_id, close=True)
        closed = order(sandbox, created["id"])
    finally:
        clock.set_clock(None)
    assert closed["status"] == "closed"
    assert simulator_pay(sandbox, "wechatpay", attempt_id).status_code >= 400  # closed there
    assert money(sandbox)["receivable"] == 0


def test_closing_a_paying_order_closes_its_attempt_at_the_channel(sandbox: SandboxServer) -> None:
    order_id, attempt_id = _open(sandbox, "wechatpay")
    closing = httpx.post(f"{sandbox.base_url}/v1/orders/{order_id}/close", headers=sandbox.headers)
    assert closing.json()["status"] == "closed"
    wait_until(
        lambda: get(sandbox, f"/v1/orders/{order_id}/attempts")[0]["status"] == "closed",
        timeout_s=15,
        what="the attempt closed at the channel",
    )
    assert simulator_pay(sandbox, "wechatpay", attempt_id).status_code >= 400


def test_a_notification_that_overtakes_the_answer(sandbox: SandboxServer) -> None:
    """WeChat creates the payment, then answers late; the payer pays and the notification
    arrives while the pay request still waits. The late answer does not undo the payment."""
    set_faults(sandbox, "wechatpay", delay_s=0.8)
    created = create_order(sandbox, 250)
    answers: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answers.append(pay(sandbox, created["id"], "wechat_native"))
    )
    request.start()
    wait_until(
        lambda: bool(get(sandbox, f"/v1/orders/{created['id']}/attempts")),
        timeout_s=10,
        what="the attempt written before the channel call",
    )
    attempt_id = get(sandbox, f"/v1/orders/{created['id']}/attempts")[0]["id"]
    wait_until(
        lambda: simulator_pay(sandbox, "wechatpay", attempt_id).status_code == 200,
        timeout_s=10,
        what="the payment to exist at WeChat",
    )
    wait_order(sandbox, created["id"], "succeeded")
    request.join(timeout=30)
    assert answers[0].status_code == 200, answers[0].text
    answered = answers[0].json()
    assert answered["attempt"]["status"] == "succeeded"
    assert answered["order"]["status"] == "succeeded"
    assert answered["attempt"]["action"]["qr_code"]  # kept for the record
    assert payment_journals(sandbox, attempt_id) == 1


def test_a_refund_without_notification_is_confirmed_by_query(sandbox: SandboxServer) -> None:
    order_id, attempt_id = _open(sandbox, "wechatpay", 800)
    simulator_pay(sandbox, "wechatpay", attempt_id)
    wait_order(sandbox, order_id, "succeeded")
    set_faults(sandbox, "wechatpay", hold_refunds=True, drop_notifications=1)
    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds", json={"order_id": order_id}, headers=sandbox.headers
    ).json()
    wait_until(
        lambda: _job_done(sandbox, f"refund:{refund['id']}:submit"),
        timeout_s=15,
        what="the refund sent to WeChat",
    )
    done = httpx.post(f"{sandbox.wechat_control_url}/simulator/refunds/{refund['id']}/complete")
    assert done.status_code == 200
    time.sleep(0.3)
    assert get(sandbox, f"/v1/refunds/{refund['id']}")["status"] == "pending"  # not told
    refunds.follow(sandbox.db, sandbox.settings, refund["id"], 0)  # the order centre asks
    assert get(sandbox, f"/v1/refunds/{refund['id']}")["status"] == "succeeded"
    assert order(sandbox, order_id)["status"] == "refunded"
    balances = money(sandbox)
    assert (balances["receivable"], balances["refunds_pending"]) == (0, 0)


def _job_done(sandbox: SandboxServer, dedupe_key: str) -> bool:
    with unit_of_work(sandbox.db, read_only=True) as session:
        job = session.query(Job).filter(Job.dedupe_key == dedupe_key).one()
        return job.status == "succeeded"
