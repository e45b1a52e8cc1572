"""Failure injection and notification retries of the Alipay simulator, observed through the
unmodified ``python-alipay-sdk`` client and a loopback notification receiver."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from alipay import AliPay

from paydesk.simulators.alipay import FaultPlan
from tests.simulators.alipay_support import RETRY_SCHEDULE_S, Env, running_env, sdk_verifies


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with running_env() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(env: Env) -> Iterator[None]:
    yield
    env.reset()


@pytest.fixture
def client(env: Env) -> AliPay:
    return env.client()


def test_fail_next_n_global_over_http_and_per_app_in_process(client: AliPay, env: Env) -> None:
    set_faults = httpx.post(f"{env.base}/simulator/faults", json={"fail_next_n": 2})
    assert set_faults.status_code == 200 and set_faults.json()["global"]["fail_next_n"] == 2
    for _ in range(2):
        failed = client.api_alipay_trade_query(out_trade_no="whatever")
        assert (failed["code"], failed["sub_code"]) == ("20000", "ACQ.SYSTEM_ERROR")
    assert client.api_alipay_trade_query(out_trade_no="whatever")["code"] == "40004"

    env.sim.set_faults(FaultPlan(fail_next_n=1), app_id=env.creds_b.app_id)
    other = env.client(env.creds_b)
    assert client.api_alipay_trade_query(out_trade_no="x")["code"] == "40004"
    assert other.api_alipay_trade_query(out_trade_no="x")["code"] == "20000"
    assert other.api_alipay_trade_query(out_trade_no="x")["code"] == "40004"

    invalid = httpx.post(f"{env.base}/simulator/faults", json={"delay_s": 10_000})
    assert invalid.status_code == 422


def test_delay_makes_the_client_time_out(env: Env) -> None:
    env.sim.set_faults(FaultPlan(delay_s=1.0))
    impatient = env.client(timeout_s=0.3)
    with pytest.raises(OSError):  # urllib's timeout (socket.timeout / URLError)
        impatient.api_alipay_trade_query(out_trade_no="slow")


def test_dropped_and_duplicated_notifications(client: AliPay, env: Env) -> None:
    merchant = env.merchant
    sim = env.sim
    sim.set_faults(FaultPlan(drop_notifications=True))
    dropped, _ = env.precreate(client)
    env.pay(dropped)
    assert sim.notifier.wait_settled(3.0)
    assert merchant.forms(dropped) == []
    log = [d for d in sim.notifier.deliveries() if d["out_trade_no"] == dropped]
    assert [d["state"] for d in log] == ["dropped"]

    sim.set_faults(FaultPlan(duplicate_notifications=True))
    doubled, _ = env.precreate(client)
    env.pay(doubled)
    first, second = merchant.wait_for(doubled, 2)
    assert first == second and sdk_verifies(client, first)


def test_reordered_notifications(client: AliPay, env: Env) -> None:
    env.sim.set_faults(FaultPlan(reorder=True))
    out_trade_no, _ = env.precreate(client)
    env.pay(out_trade_no)
    client.api_alipay_trade_refund("1.00", out_trade_no, out_request_no="RO1")
    forms = env.merchant.wait_for(out_trade_no, 2)
    assert [form.get("out_biz_no") for form in forms] == ["RO1", None]
    assert forms[1]["trade_status"] == "TRADE_SUCCESS"


def test_forged_notification_fails_verification(client: AliPay, env: Env) -> None:
    env.sim.set_faults(FaultPlan(forge_notification=True))
    out_trade_no, _ = env.precreate(client)
    env.pay(out_trade_no)
    (form,) = env.merchant.wait_for(out_trade_no)
    assert not sdk_verifies(client, form)


def test_delayed_refund(client: AliPay, env: Env) -> None:
    out_trade_no, _ = env.precreate(client)
    env.pay(out_trade_no)
    env.sim.set_faults(FaultPlan(refund_delay_s=0.6))
    accepted = client.api_alipay_trade_refund("2.00", out_trade_no, out_request_no="D1")
    assert (accepted["code"], accepted["fund_change"], accepted["refund_fee"]) == (
        "10000",
        "N",
        "0.00",
    )
    assert "gmt_refund_pay" not in accepted
    pending = client.api_alipay_trade_fastpay_refund_query("D1", out_trade_no=out_trade_no)
    assert "refund_status" not in pending
    forms = env.merchant.wait_for(out_trade_no, 2)
    assert forms[1]["out_biz_no"] == "D1" and forms[1]["refund_fee"] == "2.00"
    done = client.api_alipay_trade_fastpay_refund_query("D1", out_trade_no=out_trade_no)
    assert done["refund_status"] == "REFUND_SUCCESS"


def test_notifications_are_retried_on_a_bounded_schedule(client: AliPay, env: Env) -> None:
    merchant = env.merchant
    sim = env.sim
    recovering, _ = env.precreate(client)
    merchant.replies[recovering] = ["fail", "oops"]
    giving_up, _ = env.precreate(client)
    merchant.replies[giving_up] = ["fail"] * 10
    env.pay(recovering)
    env.pay(giving_up)
    forms = merchant.wait_for(recovering, 3)
    assert len({form["notify_id"] for form in forms}) == 1
    assert len(merchant.wait_for(giving_up, 1 + len(RETRY_SCHEDULE_S))) == 3
    assert sim.notifier.wait_settled(3.0)
    log = httpx.get(f"{env.base}/simulator/notifications").json()
    states = {d["out_trade_no"]: (d["state"], len(d["attempts"])) for d in log}
    assert states[recovering] == ("delivered", 3)
    assert states[giving_up] == ("failed", 1 + len(RETRY_SCHEDULE_S))
