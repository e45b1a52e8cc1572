"""The UnionPay simulator over HTTP: its answers, refusals, pages, notifications, statement
files, control API and faults. Requests are signed with the connector's signing module and
checked by the simulator's own; answers are read and verified the way the acp SDK does."""

from __future__ import annotations

import base64
import io
import secrets
import time
import zipfile
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from paydesk.channels.unionpay import signing as merchant_signing
from paydesk.channels.unionpay import statement as merchant_statement
from paydesk.channels.unionpay import wire as merchant_wire
from paydesk.simulators.unionpay import (
    FaultPlan,
    SimulatorConfig,
    create_simulator,
    simulator_of,
)
from paydesk.simulators.unionpay import statement as sim_statement
from paydesk.simulators.unionpay.certs import UNIONPAY_CN_NAME
from paydesk.simulators.unionpay.config import beijing_now
from tests.simulators.unionpay_support import (
    REFUND_DELAY_S,
    Env,
    form_actions,
    hidden_fields,
    post_raw,
    press,
    running_env,
    sign_request,
    verifies,
)
from tests.support.server import serving

QUERY = "/gateway/api/queryTrans.do"
REFUND = "/gateway/api/backTransReq.do"
FILE = "/gateway/api/fileTransfer.do"
FRONT = "/gateway/api/frontTransReq.do"


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with running_env() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(env: Env) -> Iterator[None]:
    yield
    env.reset()


def new_order() -> str:
    return f"T{secrets.token_hex(8)}"


def consume(env: Env, order_id: str | None = None, **extra: str) -> dict[str, str]:
    """A signed consume form whose notifications go to ``/notify/<orderId>``."""
    order_id = order_id or new_order()
    fields = {
        "txnType": "01",
        "txnSubType": "01",
        "bizType": "000201",
        "channelType": "07",
        "orderId": order_id,
        "txnAmt": "1000",
        "currencyCode": "156",
        "backUrl": f"{env.merchant_base}/notify/{order_id}",
        "frontUrl": f"{env.merchant_base}/return/{order_id}",
        "payTimeout": (env.clock.beijing() + timedelta(minutes=15)).strftime("%Y%m%d%H%M%S"),
        "riskRateInfo": "{commodityName=测试商品}",
        **extra,
    }
    return sign_request(env.creds, fields)


def open_and_pay(env: Env, amount: str = "1000") -> dict[str, str]:
    form = consume(env, txnAmt=amount)
    httpx.post(f"{env.base}{FRONT}", data=form)
    paid = httpx.post(f"{env.base}/simulator/trades/{form['orderId']}/pay")
    assert paid.status_code == 200, paid.text
    return form | {"queryId": paid.json()["query_id"]}


def query(env: Env, **fields: str) -> dict[str, str]:
    common = {"txnType": "00", "txnSubType": "00", "bizType": "000000"}
    _, answer = post_raw(env.base, QUERY, sign_request(env.creds, common | fields))
    return answer


def refund(env: Env, orig_query_id: str, amount: str, **extra: str) -> dict[str, str]:
    order_id = new_order()
    fields = {
        "txnType": "04",
        "txnSubType": "00",
        "bizType": "000201",
        "channelType": "07",
        "orderId": order_id,
        "txnAmt": amount,
        "currencyCode": "156",
        "origQryId": orig_query_id,
        "backUrl": f"{env.merchant_base}/notify/{order_id}",
        **extra,
    }
    _, answer = post_raw(env.base, REFUND, sign_request(env.creds, fields))
    return answer


# --- answers and request checks ------------------------------------------------------------------
def test_answers_are_raw_signed_and_carry_the_signing_certificate(env: Env) -> None:
    request = sign_request(
        env.creds,
        {"txnType": "00", "txnSubType": "00", "bizType": "000000", "orderId": new_order()},
    )
    response, answer = post_raw(env.base, QUERY, request)
    assert response.status_code == 200
    assert "-----BEGIN CERTIFICATE-----\r\n" in response.text  # raw, not URL-encoded
    assert (answer["respCode"], answer["respMsg"]) == ("34", "查无此交易")
    assert verifies(env.creds, answer)
    cert = merchant_signing.load_certificate(answer["signPubKeyCert"])
    assert merchant_signing.cn_identity(cert) == UNIONPAY_CN_NAME
    assert answer["merId"] == env.creds.mer_id and answer["orderId"] == request["orderId"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"certId": "12345"}, "11"),
        ({"merId": "777000000000009"}, "11"),
        ({"version": "5.0.0"}, "10"),
        ({"signMethod": ""}, "13"),
    ],
)
def test_bad_requests_are_refused_with_the_gateway_codes(
    env: Env, change: dict[str, str], code: str
) -> None:
    request = sign_request(
        env.creds,
        {"txnType": "00", "txnSubType": "00", "bizType": "000000", "orderId": new_order()},
    )
    _, answer = post_raw(env.base, QUERY, request | change)
    assert answer["respCode"] == code and verifies(env.creds, answer)


def test_a_signature_by_another_key_or_over_other_fields_is_refused(env: Env) -> None:
    fields = {"txnType": "00", "txnSubType": "00", "bizType": "000000", "orderId": new_order()}
    wrong_key = sign_request(env.creds, fields, key_pem=env.creds.unionpay_sign_key_pem)
    assert post_raw(env.base, QUERY, wrong_key)[1]["respCode"] == "11"
    tampered = sign_request(env.creds, fields) | {"orderId": new_order()}
    assert post_raw(env.base, QUERY, tampered)[1]["respCode"] == "11"


# --- the payer -----------------------------------------------------------------------------------
def test_pay_page_pays_notifies_and_returns_to_the_merchant(env: Env) -> None:
    form = consume(env)
    page = httpx.post(f"{env.base}{FRONT}", data=form)
    assert page.status_code == 200
    assert "¥ 10.00" in page.text and "测试商品" in page.text and "<script" not in page.text
    assert query(env, orderId=form["orderId"], txnTime=form["txnTime"])["respCode"] == "34"

    back = press(page, "pay")
    assert back.status_code == 200
    (action,) = form_actions(back.text)
    assert action == form["frontUrl"]
    returned = hidden_fields(back.text)
    assert verifies(env.creds, returned)
    assert (returned["respCode"], returned["orderId"], returned["txnAmt"]) == (
        "00",
        form["orderId"],
        "1000",
    )

    (note,) = env.merchant.wait_for(form["orderId"])
    notified = merchant_wire.read_form(note.body)
    assert verifies(env.creds, notified)
    assert notified["queryId"] == returned["queryId"] and notified["txnType"] == "01"
    answer = query(env, orderId=form["orderId"], txnTime=form["txnTime"])
    assert (answer["respCode"], answer["origRespCode"], answer["txnAmt"]) == ("00", "00", "1000")
    assert answer["queryId"] == notified["queryId"] and verifies(env.creds, answer)
    assert query(env, queryId=notified["queryId"])["orderId"] == form["orderId"]

    again = press(page, "pay")
    assert again.status_code == 409


def test_a_resubmitted_form_opens_the_same_payment_and_another_is_a_duplicate(env: Env) -> None:
    form = consume(env)
    first = httpx.post(f"{env.base}{FRONT}", data=form)
    second = httpx.post(f"{env.base}{FRONT}", data=form)
    assert form_actions(first.text) == form_actions(second.text)
    changed = consume(env, form["orderId"], txnAmt="2000")
    refused = httpx.post(f"{env.base}{FRONT}", data=changed)
    assert "12" in refused.text and "重复交易" in refused.text


def test_a_tampered_form_shows_the_error_page(env: Env) -> None:
    form = consume(env) | {"txnAmt": "1"}
    page = httpx.post(f"{env.base}{FRONT}", data=form)
    assert "验证签名失败" in page.text and "/pay" not in page.text


def test_cancel_leaves_the_payment_payable_until_its_pay_timeout(env: Env) -> None:
    changed_mind = consume(env)
    page = httpx.post(f"{env.base}{FRONT}", data=changed_mind)
    assert "Cancelled" in press(page, "cancel").text
    unpaid = query(env, orderId=changed_mind["orderId"], txnTime=changed_mind["txnTime"])
    assert unpaid["respCode"] == "34"
    assert press(page, "pay").status_code == 200  # back in the tab: still payable
    env.merchant.wait_for(changed_mind["orderId"])

    form = consume(env)
    page = httpx.post(f"{env.base}{FRONT}", data=form)
    press(page, "cancel")
    env.clock.offset = timedelta(minutes=16)
    late = httpx.post(f"{env.base}/simulator/trades/{form['orderId']}/pay")
    assert late.status_code == 409 and "受理时间" in late.json()["message"]
    assert press(page, "pay").status_code == 409
    past = (env.clock.beijing() - timedelta(minutes=1)).strftime("%Y%m%d%H%M%S")
    expired = httpx.post(f"{env.base}{FRONT}", data=consume(env, payTimeout=past))
    assert "39" in expired.text and "/pay" not in expired.text


def test_fail_is_reported_by_queries_without_a_notification(env: Env) -> None:
    form = consume(env)
    httpx.post(f"{env.base}{FRONT}", data=form)
    failed = httpx.post(f"{env.base}/simulator/trades/{form['orderId']}/fail")
    assert failed.json()["status"] == "failed"
    answer = query(env, orderId=form["orderId"], txnTime=form["txnTime"])
    assert (answer["respCode"], answer["origRespCode"]) == ("00", "30")
    assert env.log(form["orderId"]) == []


# --- refunds -------------------------------------------------------------------------------------
def test_refunds_are_accepted_then_succeed_and_are_notified(env: Env) -> None:
    paid = open_and_pay(env)
    accepted = refund(env, paid["queryId"], "400")
    assert accepted["respCode"] == "00" and accepted["queryId"] and verifies(env.creds, accepted)
    pending = query(env, queryId=accepted["queryId"])
    assert (pending["origRespCode"], pending["origQryId"]) == ("05", paid["queryId"])
    (note,) = env.merchant.wait_for(accepted["orderId"], timeout_s=REFUND_DELAY_S + 5)
    notified = merchant_wire.read_form(note.body)
    assert (notified["txnType"], notified["respCode"], notified["txnAmt"]) == ("04", "00", "400")
    assert notified["origQryId"] == paid["queryId"] and verifies(env.creds, notified)
    assert query(env, queryId=accepted["queryId"])["origRespCode"] == "00"

    assert refund(env, paid["queryId"], "601")["respCode"] == "33"
    assert refund(env, "20240101000000000000", "1")["respCode"] == "35"
    assert refund(env, paid["queryId"], "1", txnType="31")["respCode"] == "32"
    duplicate = refund(env, paid["queryId"], "1", orderId=paid["orderId"])
    assert duplicate["respCode"] == "12"


# --- notifications and faults --------------------------------------------------------------------
def test_notifications_are_retried_until_answered_200(env: Env) -> None:
    form = consume(env)
    env.merchant.statuses[form["orderId"]] = [500, 302]
    httpx.post(f"{env.base}{FRONT}", data=form)
    httpx.post(f"{env.base}/simulator/trades/{form['orderId']}/pay")
    first, second, third = env.merchant.wait_for(form["orderId"], 3)
    assert first.body == second.body == third.body
    (logged,) = env.log(form["orderId"])
    assert logged["state"] == "delivered"
    assert [a["status_code"] for a in logged["attempts"]] == [500, 302, 200]

    gives_up = consume(env)
    env.merchant.statuses[gives_up["orderId"]] = [500, 500, 500, 500]
    httpx.post(f"{env.base}{FRONT}", data=gives_up)
    httpx.post(f"{env.base}/simulator/trades/{gives_up['orderId']}/pay")
    (failed,) = env.log(gives_up["orderId"])
    assert failed["state"] == "failed" and len(failed["attempts"]) == 3


def test_drop_duplicate_and_reorder(env: Env) -> None:
    env.sim.set_faults(FaultPlan(drop_notifications=True))
    dropped = open_and_pay(env)
    (log,) = env.log(dropped["orderId"])
    assert log["state"] == "dropped" and log["attempts"] == []

    env.sim.set_faults(FaultPlan(duplicate_notifications=True))
    doubled = open_and_pay(env)
    assert len(env.merchant.wait_for(doubled["orderId"], 2)) == 2

    env.sim.set_faults(FaultPlan(reorder=True))
    earlier = open_and_pay(env)
    later = open_and_pay(env)
    env.settled()
    names = (earlier["orderId"], later["orderId"])
    order = [d.name for d in env.merchant.deliveries if d.name in names]
    assert order == [later["orderId"], earlier["orderId"]]


def test_fail_next_n_changes_nothing_and_time_outs_do_the_work(env: Env) -> None:
    paid = open_and_pay(env)
    env.sim.set_faults(FaultPlan(fail_next_n=1))
    busy = refund(env, paid["queryId"], "100")
    assert busy["respCode"] == "06" and verifies(env.creds, busy)
    assert "queryId" not in busy
    env.sim.set_faults(FaultPlan(fail_next_n=1, fail_status=502))
    request = sign_request(
        env.creds,
        {"txnType": "00", "txnSubType": "00", "bizType": "000000", "queryId": paid["queryId"]},
    )
    response = httpx.post(f"{env.base}{QUERY}", data=request)
    assert response.status_code == 502

    env.sim.set_faults(FaultPlan(timeout_next_n=1))
    order_id = new_order()
    fields = sign_request(
        env.creds,
        {
            "txnType": "04",
            "txnSubType": "00",
            "bizType": "000201",
            "orderId": order_id,
            "txnAmt": "100",
            "currencyCode": "156",
            "origQryId": paid["queryId"],
            "backUrl": f"{env.merchant_base}/notify/{order_id}",
        },
    )
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{env.base}{REFUND}", data=fields, timeout=0.3)
    assert time.monotonic() - started < 2
    done = query(env, orderId=order_id, txnTime=fields["txnTime"])
    assert done["respCode"] == "00" and done["txnAmt"] == "100"  # the refund was made

    env.sim.set_faults(FaultPlan(corrupt_signature=True))
    assert not verifies(env.creds, query(env, queryId=paid["queryId"]))


def test_control_api(env: Env) -> None:
    assert httpx.post(f"{env.base}/simulator/trades/Tunknown01/pay").status_code == 404
    bad = httpx.post(f"{env.base}/simulator/faults", json={"fail_status": 404})
    assert bad.status_code == 422
    set_ = httpx.post(
        f"{env.base}/simulator/faults",
        json={"mer_id": env.creds.mer_id, "delay_s": 0.1},
    )
    assert set_.json()["merchants"][env.creds.mer_id]["delay_s"] == 0.1
    assert httpx.delete(f"{env.base}/simulator/faults").json()["merchants"] == {}
    paid = open_and_pay(env)
    state = httpx.get(f"{env.base}/simulator/trades/{paid['orderId']}").json()
    assert (state["status"], state["query_id"]) == ("paid", paid["queryId"])
    assert isinstance(httpx.get(f"{env.base}/simulator/notifications").json(), list)


# --- statements ----------------------------------------------------------------------------------
def test_statement_file_format(env: Env) -> None:
    paid = open_and_pay(env, "12345")
    accepted = refund(env, paid["queryId"], "45")
    env.merchant.wait_for(accepted["orderId"], timeout_s=REFUND_DELAY_S + 5)
    today = beijing_now().date()
    request = sign_request(
        env.creds,
        {
            "txnType": "76",
            "txnSubType": "01",
            "bizType": "000000",
            "fileType": "00",
            "settleDate": f"{today:%m%d}",
        },
    )
    _, answer = post_raw(env.base, FILE, request)
    assert answer["respCode"] == "00" and verifies(env.creds, answer)
    assert answer["fileName"] == f"{env.creds.mer_id}_{today:%Y%m%d}.zip"
    archive = zlib.decompress(base64.b64decode(answer["fileContent"]))
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        (name,) = zipped.namelist()
        assert name == f"INN{today:%y%m%d}88ZM_{env.creds.mer_id}"
        raw = zipped.read(name)
    lines = raw.split(b"\r\n")
    width = sum(sim_statement.WIDTHS) + len(sim_statement.WIDTHS) - 1
    assert lines[-1] == b"" and width == merchant_statement.ZM_LINE_BYTES
    assert all(len(line) == width for line in lines[:-1])
    rows = {r["orderId"]: r for r in map(merchant_statement.parse_zm_line, lines[:-1])}
    payment, refunded = rows[paid["orderId"]], rows[accepted["orderId"]]
    assert (payment["txnType"], payment["txnAmt"], payment["queryId"]) == (
        "01",
        "000000012345",
        paid["queryId"],
    )
    assert (refunded["txnType"], refunded["settleAmt"], refunded["origOrderId"]) == (
        "04",
        "D000000000045",
        paid["orderId"],
    )

    empty = sign_request(
        env.creds,
        {
            "txnType": "76",
            "txnSubType": "01",
            "bizType": "000000",
            "fileType": "00",
            "settleDate": f"{today - timedelta(days=2):%m%d}",
        },
    )
    assert post_raw(env.base, FILE, empty)[1]["respCode"] == "98"


# --- setup ---------------------------------------------------------------------------------------
def test_mounted_under_a_prefix(env: Env) -> None:
    outer = FastAPI()
    outer.mount("/sandbox/unionpay", create_simulator(env.creds.simulator_config()))
    with serving(outer) as url:
        page = httpx.post(f"{url}/sandbox/unionpay{FRONT}", data=consume(env))
        actions = form_actions(page.text)
        assert actions and all(a.startswith(f"{url}/sandbox/unionpay/pay/") for a in actions)


def test_generated_credentials_and_config_checks(env: Env) -> None:
    creds = env.creds
    chain = merchant_signing.CertificateChain(creds.root_cert_pem, creds.middle_cert_pem)
    assert chain.verified_key(creds.unionpay_sign_cert_pem, beijing_now()) is not None
    assert creds.registration().cert_id == creds.sign_cert_id
    fields: dict[str, Any] = creds.credential_fields()
    assert set(fields) == {
        "mer_id",
        "sign_cert_id",
        "sign_private_key_pem",
        "root_cert_pem",
        "middle_cert_pem",
    }
    with pytest.raises(ValueError, match="registered as"):
        SimulatorConfig(
            creds.unionpay_sign_key_pem,
            creds.unionpay_sign_cert_pem,
            {"777000000000009": creds.registration()},
        )
    assert simulator_of(env.app).merchant(creds.mer_id) is not None
