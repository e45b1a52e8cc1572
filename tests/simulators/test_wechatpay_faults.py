"""Failure injection in the WeChat Pay simulator, each fault observed through the unmodified
``wechatpayv3`` SDK (answers) or the SDK-verifying receiver (notifications)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from wechatpayv3 import WeChatPay

from tests.simulators.wechatpay_support import (
    WAIT_S,
    Harness,
    control,
    create_native,
    deliveries,
    error_of,
    new_number,
    pay,
    query,
    refund,
    refund_status,
    wait_until,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Harness]:
    with Harness.running() as harness:
        yield harness


@pytest.fixture
def client(sim: Harness) -> Iterator[WeChatPay]:
    sim.reset()
    yield sim.client()
    sim.reset()


def test_fail_next_n_per_merchant_over_http(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client)
    faults = {"mchid": sim.creds.mchid, "fail_next_n": 2}
    assert control(sim.gateway, "POST", "/simulator/faults", faults).status_code == 200
    for _ in range(2):
        code, text = client.query(out_trade_no=number)
        assert (code, error_of(text)) == (500, "SYSTEM_ERROR")
    assert client.query(out_trade_no=number)[0] == 200


def test_delay_times_the_client_out_after_the_work_is_done(client: WeChatPay, sim: Harness) -> None:
    sim.config.faults.set(delay_s=1.0)
    impatient = sim.client(timeout=(2, 0.3))
    number = new_number()
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.pay(description="slow", out_trade_no=number, amount={"total": 1})
    sim.config.faults.set(delay_s=0)
    assert query(client, out_trade_no=number)[1]["trade_state"] == "NOTPAY"


def test_drop_notifications(client: WeChatPay, sim: Harness) -> None:
    sim.config.faults.set(drop_notifications=1)
    dropped, delivered = create_native(client), create_native(client)
    pay(sim.gateway, dropped)
    pay(sim.gateway, delivered)
    assert len(sim.notes.wait_for(delivered)) == 1
    time.sleep(0.2)
    assert sim.notes.about(dropped) == []
    assert any(entry["outcome"] == "dropped" for entry in deliveries(sim.gateway))


def test_duplicate_notifications(client: WeChatPay, sim: Harness) -> None:
    faults = {"mchid": sim.creds.mchid, "duplicate_notifications": 1}
    control(sim.gateway, "POST", "/simulator/faults", faults)
    number = create_native(client)
    pay(sim.gateway, number)
    first, second = sim.notes.wait_for(number, count=2)
    assert first.result is not None and second.result is not None
    assert first.result["id"] == second.result["id"]


def test_reorder(client: WeChatPay, sim: Harness) -> None:
    sim.config.faults.set(reorder=1)
    earlier, later = create_native(client), create_native(client)
    pay(sim.gateway, earlier)
    time.sleep(0.2)
    assert sim.notes.about(earlier) == []  # held back
    pay(sim.gateway, later)
    sim.notes.wait_for(earlier)
    arrival = [r.result["resource"]["out_trade_no"] for r in sim.notes.everything() if r.result]
    assert arrival.index(later) < arrival.index(earlier)


def test_forged_notification_is_rejected_by_the_sdk(client: WeChatPay, sim: Harness) -> None:
    sim.config.faults.set(forge_notification=1)
    number = create_native(client)
    before = len(sim.notes.everything())
    pay(sim.gateway, number)
    arrived = wait_until(
        lambda: sim.notes.everything()[before:], lambda found: len(found) >= 2, WAIT_S
    )
    forged, genuine = arrived[:2]
    assert forged.result is None and genuine.result is not None  # the SDK told them apart
    assert genuine.result["resource"]["out_trade_no"] == number
    assert forged.body == genuine.body and forged.headers != genuine.headers
    (entry,) = [e for e in deliveries(sim.gateway) if e["kind"] == "forged"]
    assert (entry["outcome"], entry["attempts"]) == ("failed", [401])  # never retried


def test_retries_until_acknowledged(client: WeChatPay, sim: Harness) -> None:
    sim.notes.fail_next = 2
    number = create_native(client)
    pay(sim.gateway, number)
    received = sim.notes.wait_for(number, count=3)
    assert len({r.result["id"] for r in received if r.result}) == 1
    retried = [e for e in deliveries(sim.gateway) if e["attempts"][:2] == [500, 500]]
    assert [(e["outcome"], e["attempts"]) for e in retried] == [("delivered", [500, 500, 200])]


def test_retries_are_bounded(client: WeChatPay, sim: Harness) -> None:
    sim.notes.fail_next = 100
    number = create_native(client)
    pay(sim.gateway, number)
    attempts = 1 + len(sim.config.retry_schedule_s)
    assert len(sim.notes.wait_for(number, count=attempts)) == attempts
    time.sleep(0.3)
    assert len(sim.notes.about(number)) == attempts
    (entry,) = [e for e in deliveries(sim.gateway) if e["attempts"] == [500] * attempts]
    assert entry["outcome"] == "failed"


def test_refund_delay_and_hold(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client, 1000)
    pay(sim.gateway, number)
    sim.config.faults.set(refund_delay_s=0.3)
    delayed = new_number("R")
    assert refund(client, number, delayed, 100)[0] == 200
    assert refund_status(client, delayed) == "PROCESSING"
    sim.notes.wait_for(delayed)
    assert refund_status(client, delayed) == "SUCCESS"

    sim.config.faults.set(refund_delay_s=0, hold_refunds=True)
    held = new_number("R")
    assert refund(client, number, held, 100)[0] == 200
    time.sleep(0.1)
    assert refund_status(client, held) == "PROCESSING"
    done = control(sim.gateway, "POST", f"/simulator/refunds/{held}/complete", {})
    assert done.status_code == 200 and done.json()["status"] == "SUCCESS"
    (note,) = sim.notes.wait_for(held)
    assert note.result is not None and note.result["event_type"] == "REFUND.SUCCESS"
    assert refund_status(client, held) == "SUCCESS"


def test_fault_api_validates(client: WeChatPay, sim: Harness) -> None:
    bad = control(sim.gateway, "POST", "/simulator/faults", {"explode": 1})
    assert (bad.status_code, bad.json()["code"]) == (400, "PARAM_ERROR")
    bad = control(sim.gateway, "POST", "/simulator/faults", {"fail_next_n": -1})
    assert bad.status_code == 400
    shown = control(sim.gateway, "POST", "/simulator/faults", {"delay_s": 0.5}).json()
    assert shown["global"]["delay_s"] == 0.5
    assert control(sim.gateway, "DELETE", "/simulator/faults").json()["global"]["delay_s"] == 0
