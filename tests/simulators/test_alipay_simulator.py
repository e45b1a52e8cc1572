"""The Alipay simulator, driven only through the unmodified ``python-alipay-sdk`` client.

Every ``api_*`` call below goes over loopback HTTP to a real uvicorn server and the SDK checks
the response signature over the exact bytes of the inner object (it raises
``AliPayValidationError`` otherwise), so each assertion on a response also proves the
signature. Notifications and return URLs are checked with ``client.verify(params, sign)``.
Failure injection is in test_alipay_faults.py, bills in test_alipay_bill.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException
from fastapi import FastAPI

from paydesk.simulators.alipay import create_simulator, generate_test_credentials, signing
from paydesk.simulators.alipay.config import AppRegistration, SimulatorConfig
from tests.simulators.alipay_support import Env, new_no, running_env, sdk, sdk_verifies
from tests.support.server import serving


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


# -- precreate, query, pay, notification ------------------------------------------------------
def test_precreated_trade_exists_once_scanned_and_repeats_idempotently(
    client: AliPay, env: Env
) -> None:
    out_trade_no, created = env.precreate(client, "10.50")
    assert created["msg"] == "Success" and created["out_trade_no"] == out_trade_no
    assert created["qr_code"].startswith(f"{env.base}/qr/")

    before_scan = client.api_alipay_trade_query(out_trade_no=out_trade_no)
    assert (before_scan["code"], before_scan["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")

    page = httpx.get(created["qr_code"])
    assert page.status_code == 200 and "¥ 10.50" in page.text and "<script" not in page.text
    assert re.search(r'<form method="post" action="[^"]+/cashier/[^"]+/pay"', page.text)

    waiting = client.api_alipay_trade_query(out_trade_no=out_trade_no)
    assert waiting["trade_status"] == "WAIT_BUYER_PAY" and waiting["total_amount"] == "10.50"
    assert re.fullmatch(r"\d{8}22001\d{15}", waiting["trade_no"])

    again = client.api_alipay_trade_precreate("沙箱商品", out_trade_no, "10.50")
    assert again["qr_code"] == created["qr_code"]
    changed = client.api_alipay_trade_precreate("沙箱商品", out_trade_no, "11.00")
    assert changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"


def test_paying_sends_a_notification_the_sdk_verifies(client: AliPay, env: Env) -> None:
    merchant = env.merchant
    out_trade_no, _ = env.precreate(client, "10.50", body="两件", passback_params="ctx1")
    merchant.delays_s[out_trade_no] = 1.0  # a slow merchant must not slow the payer down

    started = time.monotonic()
    paid = env.pay(out_trade_no)
    assert paid.status_code == 200 and paid.json()["trade_status"] == "TRADE_SUCCESS"
    assert time.monotonic() - started < 0.8

    (form,) = merchant.wait_for(out_trade_no)
    assert form["sign_type"] == "RSA2" and sdk_verifies(client, form)
    assert form["notify_type"] == "trade_status_sync" and form["trade_status"] == "TRADE_SUCCESS"
    assert form["app_id"] == client.appid and form["charset"] == "utf-8"
    assert form["version"] == "1.0" and form["notify_id"] and form["notify_time"]
    for amount in ("total_amount", "receipt_amount", "buyer_pay_amount", "invoice_amount"):
        assert form[amount] == "10.50"
    assert form["gmt_create"] and form["gmt_payment"] and form["buyer_id"].startswith("2088")
    assert (form["body"], form["passback_params"], form["subject"]) == ("两件", "ctx1", "沙箱商品")

    query = client.api_alipay_trade_query(trade_no=form["trade_no"])
    assert query["trade_status"] == "TRADE_SUCCESS" and query["buyer_pay_amount"] == "10.50"
    assert query["out_trade_no"] == out_trade_no and query["send_pay_date"]
    assert query["fund_bill_list"] == [{"amount": "10.50", "fund_channel": "ALIPAYACCOUNT"}]
    assert env.pay(out_trade_no).status_code == 409


def test_close_waiting_trade_and_close_before_scan(client: AliPay, env: Env) -> None:
    merchant = env.merchant
    out_trade_no, created = env.precreate(client)
    httpx.get(created["qr_code"])
    closed = client.api_alipay_trade_close(out_trade_no=out_trade_no)
    assert closed["code"] == "10000" and closed["out_trade_no"] == out_trade_no
    assert closed["trade_no"]
    query = client.api_alipay_trade_query(out_trade_no=out_trade_no)
    assert query["trade_status"] == "TRADE_CLOSED"
    (form,) = merchant.wait_for(out_trade_no)
    assert form["trade_status"] == "TRADE_CLOSED" and form["gmt_close"]
    assert sdk_verifies(client, form)
    assert env.pay(out_trade_no).json()["code"] == "trade_has_close"
    again = client.api_alipay_trade_close(out_trade_no=out_trade_no)
    assert again["sub_code"] == "ACQ.TRADE_STATUS_ERROR"

    # Before the scan the gateway does not admit the trade exists, yet the code dies.
    unscanned, created = env.precreate(client)
    refused = client.api_alipay_trade_close(out_trade_no=unscanned)
    assert refused["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    assert "交易已关闭" in httpx.get(created["qr_code"]).text
    assert env.pay(unscanned).status_code == 409


def test_trade_times_out(client: AliPay, env: Env) -> None:
    out_trade_no, created = env.precreate(client, timeout_express="5m")
    httpx.get(created["qr_code"])
    env.clock.offset = timedelta(minutes=6)
    assert client.api_alipay_trade_query(out_trade_no)["trade_status"] == "TRADE_CLOSED"
    (form,) = env.merchant.wait_for(out_trade_no)
    assert form["trade_status"] == "TRADE_CLOSED"


# -- refunds -----------------------------------------------------------------------------------
def test_partial_repeated_and_over_refunds(client: AliPay, env: Env) -> None:
    merchant = env.merchant
    out_trade_no, _ = env.precreate(client, "10.00")
    unpaid = client.api_alipay_trade_refund("1.00", out_trade_no, out_request_no="R0")
    assert unpaid["sub_code"] in ("ACQ.TRADE_NOT_EXIST", "ACQ.TRADE_STATUS_ERROR")
    env.pay(out_trade_no)

    partial_without_request_no = client.api_alipay_trade_refund("3.00", out_trade_no)
    assert partial_without_request_no["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"

    first = client.api_alipay_trade_refund("3.00", out_trade_no, out_request_no="R1")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "3.00")
    assert first["gmt_refund_pay"] and first["buyer_logon_id"]
    replay = client.api_alipay_trade_refund("3.00", out_trade_no, out_request_no="R1")
    assert (replay["fund_change"], replay["refund_fee"]) == ("N", "3.00")
    assert replay["gmt_refund_pay"] == first["gmt_refund_pay"]
    changed = client.api_alipay_trade_refund("4.00", out_trade_no, out_request_no="R1")
    assert changed["sub_code"] == "ACQ.INVALID_PARAMETER"

    over = client.api_alipay_trade_refund("7.01", out_trade_no, out_request_no="R2")
    assert (over["code"], over["sub_code"]) == ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR")
    assert over["refund_fee"] == "0.00"
    rest = client.api_alipay_trade_refund("7.00", out_trade_no, out_request_no="R2")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "10.00")
    assert client.api_alipay_trade_query(out_trade_no)["trade_status"] == "TRADE_CLOSED"
    closed = client.api_alipay_trade_refund("0.01", out_trade_no, out_request_no="R3")
    assert closed["sub_code"] == "ACQ.TRADE_HAS_CLOSE"

    forms = merchant.wait_for(out_trade_no, 3)
    assert all(sdk_verifies(client, form) for form in forms)
    by_request = {form.get("out_biz_no"): form for form in forms}
    assert by_request["R1"]["refund_fee"] == "3.00"
    assert by_request["R1"]["trade_status"] == "TRADE_SUCCESS"
    assert by_request["R2"]["refund_fee"] == "10.00"
    assert by_request["R2"]["trade_status"] == "TRADE_CLOSED"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", by_request["R2"]["gmt_refund"])


def test_refund_query(client: AliPay, env: Env) -> None:
    out_trade_no, _ = env.precreate(client, "8.88")
    env.pay(out_trade_no)
    client.api_alipay_trade_refund("1.11", out_trade_no, out_request_no="Q1")
    found = client.api_alipay_trade_fastpay_refund_query("Q1", out_trade_no=out_trade_no)
    assert found["refund_status"] == "REFUND_SUCCESS" and found["refund_amount"] == "1.11"
    assert found["total_amount"] == "8.88" and found["out_request_no"] == "Q1"
    unknown = client.api_alipay_trade_fastpay_refund_query("Q9", out_trade_no=out_trade_no)
    assert unknown["code"] == "10000" and "refund_status" not in unknown
    no_trade = client.api_alipay_trade_fastpay_refund_query("Q1", out_trade_no="nope")
    assert no_trade["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_finished_trade_refuses_refunds(client: AliPay, env: Env) -> None:
    out_trade_no, _ = env.precreate(client)
    env.pay(out_trade_no)
    finished = httpx.post(f"{env.base}/simulator/finish", json={"out_trade_no": out_trade_no})
    assert finished.status_code == 200
    assert client.api_alipay_trade_query(out_trade_no)["trade_status"] == "TRADE_FINISHED"
    refused = client.api_alipay_trade_refund("1.00", out_trade_no, out_request_no="F1")
    assert refused["sub_code"] == "ACQ.TRADE_HAS_FINISHED"
    forms = env.merchant.wait_for(out_trade_no, 2)
    assert [form["trade_status"] for form in forms] == ["TRADE_SUCCESS", "TRADE_FINISHED"]


# -- page and wap pay -----------------------------------------------------------------------------
def test_page_pay_url_opens_the_pay_page_and_returns_signed(client: AliPay, env: Env) -> None:
    merchant, merchant_base = env.merchant, env.merchant_base
    out_trade_no = new_no("P")
    return_url = f"{merchant_base}/shop/return?from=alipay"
    order = client.api_alipay_trade_page_pay(
        "网页商品",
        out_trade_no,
        "66.60",
        return_url=return_url,
        notify_url=f"{merchant_base}/notify/{out_trade_no}",
    )
    page = httpx.get(f"{client._gateway}?{order}")
    assert page.status_code == 200 and "¥ 66.60" in page.text and "网页商品" in page.text
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    assert client.api_alipay_trade_query(out_trade_no)["trade_status"] == "WAIT_BUYER_PAY"

    paid = httpx.post(action.group(1))
    assert paid.status_code == 303
    location = paid.headers["location"]
    assert location.startswith(f"{return_url}&")
    returned = dict(parse_qsl(urlsplit(location).query))
    returned.pop("from")
    assert sdk_verifies(client, returned)
    assert returned["method"] == "alipay.trade.page.pay.return"
    assert (returned["out_trade_no"], returned["total_amount"]) == (out_trade_no, "66.60")
    (form,) = merchant.wait_for(out_trade_no)
    assert form["trade_status"] == "TRADE_SUCCESS" and sdk_verifies(client, form)


def test_wap_pay_and_a_tampered_url(client: AliPay) -> None:
    out_trade_no = new_no("W")
    order = client.api_alipay_trade_wap_pay("手机商品", out_trade_no, "5.00")
    page = httpx.get(f"{client._gateway}?{order}")
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    done = httpx.post(action.group(1))
    assert done.status_code == 200 and "支付成功" in done.text
    assert client.api_alipay_trade_query(out_trade_no)["trade_status"] == "TRADE_SUCCESS"

    other = new_no("W")
    tampered = client.api_alipay_trade_wap_pay("手机商品", other, "5.00").replace("5.00", "0.01")
    refused = httpx.get(f"{client._gateway}?{tampered}")
    assert "isv.invalid-signature" in refused.text and "cashier" not in refused.text
    assert client.api_alipay_trade_query(other)["sub_code"] == "ACQ.TRADE_NOT_EXIST"


# -- protocol -------------------------------------------------------------------------------------
def test_bad_signature_unknown_app_and_unknown_method(env: Env) -> None:
    creds, gateway = env.creds, env.gateway
    wrong_key = env.client(private_key_pem=env.creds_b.app_private_key_pem)
    refused = wrong_key.api_alipay_trade_query(out_trade_no="anything")
    assert (refused["code"], refused["sub_code"]) == ("40002", "isv.invalid-signature")
    assert refused["msg"] == "Invalid Arguments"

    stranger = sdk(
        generate_test_credentials(
            app_id="2021999999999999", platform_private_key_pem=creds.platform_private_key_pem
        ),
        gateway,
    )
    assert stranger.api_alipay_trade_query(out_trade_no="x")["sub_code"] == "isv.invalid-app-id"

    with pytest.raises(AliPayException, match=r"isv\.invalid-method"):
        sdk(creds, gateway).server_api("alipay.trade.no.such.method", {"a": "b"})


def test_official_sdk_style_form_post(client: AliPay, env: Env) -> None:
    """Java-SDK style: common parameters in the query string, biz_content in a form body."""
    out_trade_no, _ = env.precreate(client)
    data = client.build_body("alipay.trade.query", {"out_trade_no": out_trade_no})
    signed = dict(parse_qsl(client.sign_data(data)))
    biz_content = signed.pop("biz_content")
    raw = httpx.post(client._gateway, params=signed, data={"biz_content": biz_content})
    assert raw.headers["content-type"].startswith("application/json")
    verified = client._verify_and_return_sync_response(raw.text, "alipay_trade_query_response")
    assert verified["sub_code"] == "ACQ.TRADE_NOT_EXIST"


def test_mounted_under_a_prefix(env: Env) -> None:
    outer = FastAPI()
    outer.mount("/sandbox/alipay", create_simulator(env.creds.simulator_config()))
    with serving(outer) as url:
        mounted = sdk(env.creds, f"{url}/sandbox/alipay/gateway.do")
        created = mounted.api_alipay_trade_precreate("x", new_no(), "1.00")
        assert created["qr_code"].startswith(f"{url}/sandbox/alipay/qr/")
        assert httpx.get(created["qr_code"]).status_code == 200


def test_response_braces_inside_strings_keep_the_sdk_signature_check_working(
    client: AliPay, env: Env
) -> None:
    # The SDK finds the signed object by counting braces, strings included.
    sim = env.sim
    inner = {"code": "10000", "sub_msg": "a } and a {", "nested": {"list": ["}{"]}}
    raw = signing.signed_response(sim.platform_key, "x_y_response", inner).decode()
    assert client._verify_and_return_sync_response(raw, "x_y_response") == inner


def test_config_rejects_an_app_registered_under_another_id(env: Env) -> None:
    creds = env.creds
    app = AppRegistration("2021000000000009", creds.app_public_key_pem, creds.seller_id)
    with pytest.raises(ValueError, match="registered as"):
        SimulatorConfig(creds.platform_private_key_pem, {"2021000000000001": app})
