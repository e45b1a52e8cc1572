"""The WeChat Pay v3 simulator, driven by the unmodified ``wechatpayv3`` SDK.

The simulator runs on a loopback port and the SDK client (platform-public-key mode) is pointed
at it, so every 2xx answer below has passed the SDK's own response-signature check, and every
notification the receiver accepts has passed the SDK's ``callback`` (signature, then
AEAD_AES_256_GCM decryption). Payers act through the simulator's test API or its pay page.
Failure injection is in ``test_wechatpay_faults.py``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
from fastapi import FastAPI
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization

from paydesk.simulators.wechatpay import create_simulator, generate_test_credentials
from paydesk.simulators.wechatpay.bill import COLUMNS, TOTALS_COLUMNS, fee_fen, yuan
from paydesk.simulators.wechatpay.signing import parse_authorization
from tests.simulators.wechatpay_support import (
    RETRIES_S,
    Harness,
    beijing_day,
    control,
    create_native,
    error_of,
    new_number,
    pay,
    query,
    refund,
)
from tests.support.server import serving


@pytest.fixture(scope="module")
def sim() -> Iterator[Harness]:
    with Harness.running() as harness:
        yield harness


@pytest.fixture
def client(sim: Harness) -> Iterator[WeChatPay]:
    sim.reset()
    yield sim.client()
    sim.reset()


# --- payments ---------------------------------------------------------------------------------
def test_native_order_is_paid_notified_and_queried(client: WeChatPay, sim: Harness) -> None:
    number = new_number()
    code, text = client.pay(
        description="Gems 宝石 100", out_trade_no=number, amount={"total": 1234}, attach="cart-7"
    )
    assert code == 200
    assert json.loads(text)["code_url"].startswith(f"{sim.gateway}/pay/wx")

    code, unpaid = query(client, out_trade_no=number)
    assert (code, unpaid["trade_state"], unpaid["trade_state_desc"]) == (
        200,
        "NOTPAY",
        "订单未支付",
    )
    assert unpaid["amount"] == {"total": 1234, "currency": "CNY", "payer_currency": "CNY"}
    assert "transaction_id" not in unpaid and "success_time" not in unpaid

    paid = pay(sim.gateway, number, openid="o_payer_1")
    (note,) = sim.notes.wait_for(number)
    assert note.result is not None, "the SDK rejected the payment notification"
    assert (note.result["event_type"], note.result["resource_type"]) == (
        "TRANSACTION.SUCCESS",
        "encrypt-resource",
    )
    sealed = json.loads(note.body)["resource"]  # callback() replaced it with the plaintext
    assert (sealed["algorithm"], sealed["original_type"]) == ("AEAD_AES_256_GCM", "transaction")
    assert note.headers["wechatpay-serial"] == sim.creds.public_key_id
    resource = note.result["resource"]
    assert resource["out_trade_no"] == number and resource["trade_state"] == "SUCCESS"
    assert resource["amount"]["total"] == resource["amount"]["payer_total"] == 1234
    assert resource["payer"] == {"openid": "o_payer_1"} and resource["attach"] == "cart-7"

    code, by_number = query(client, out_trade_no=number)
    code_by_id, by_id = query(client, transaction_id=paid["transaction_id"])
    assert code == code_by_id == 200 and by_number == by_id
    assert by_number["trade_state"] == "SUCCESS" and by_number["trade_type"] == "NATIVE"
    assert by_number["transaction_id"] == resource["transaction_id"] == paid["transaction_id"]
    assert datetime.fromisoformat(by_number["success_time"]).utcoffset() == timedelta(hours=8)
    expected = {"appid", "mchid", "out_trade_no", "transaction_id", "trade_type", "trade_state"}
    expected |= {"trade_state_desc", "bank_type", "success_time", "payer", "amount"}
    assert expected <= set(by_number)


def test_jsapi_app_and_h5_prepays(client: WeChatPay, sim: Harness) -> None:
    jsapi_number = new_number()
    code, text = client.pay(
        description="VIP",
        out_trade_no=jsapi_number,
        amount={"total": 500},
        payer={"openid": "o_jsapi"},
        pay_type=WeChatPayType.JSAPI,
    )
    assert code == 200 and json.loads(text)["prepay_id"].startswith("wx")
    code, text = client.pay(
        description="VIP",
        out_trade_no=new_number(),
        amount={"total": 5},
        pay_type=WeChatPayType.APP,
    )
    assert code == 200 and json.loads(text)["prepay_id"].startswith("wx")
    code, text = client.pay(
        description="VIP",
        out_trade_no=new_number(),
        amount={"total": 5},
        scene_info={"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
        pay_type=WeChatPayType.H5,
    )
    assert code == 200 and json.loads(text)["h5_url"].startswith(f"{sim.gateway}/pay/wx")

    pay(sim.gateway, jsapi_number)
    (note,) = sim.notes.wait_for(jsapi_number)
    assert note.result is not None
    assert note.result["resource"]["payer"]["openid"] == "o_jsapi"
    assert note.result["resource"]["trade_type"] == "JSAPI"


@pytest.mark.parametrize(
    ("fields", "pay_type"),
    [
        ({"amount": {"total": 0}}, WeChatPayType.NATIVE),
        ({"amount": {"total": 100, "currency": "USD"}}, WeChatPayType.NATIVE),
        ({"amount": {"total": 100}, "out_trade_no": "no"}, WeChatPayType.NATIVE),
        ({"amount": {"total": 100}, "payer": {"name": "x"}}, WeChatPayType.JSAPI),
        ({"amount": {"total": 1}, "scene_info": {"payer_client_ip": "1.1.1.1"}}, WeChatPayType.H5),
        ({"amount": {"total": 100}, "mchid": "1900000000"}, WeChatPayType.NATIVE),
    ],
)
def test_bad_prepay_fields_are_param_errors(
    client: WeChatPay, fields: dict[str, Any], pay_type: WeChatPayType
) -> None:
    number = fields.pop("out_trade_no", new_number())
    code, text = client.pay(description="x", out_trade_no=number, pay_type=pay_type, **fields)
    assert (code, error_of(text)) == (400, "PARAM_ERROR"), text


def test_repeated_out_trade_no(client: WeChatPay, sim: Harness) -> None:
    number = new_number()
    first = client.pay(description="Gems", out_trade_no=number, amount={"total": 100})
    again = client.pay(description="Gems", out_trade_no=number, amount={"total": 100})
    assert first == again and first[0] == 200
    code, text = client.pay(description="Gems", out_trade_no=number, amount={"total": 101})
    assert (code, error_of(text)) == (400, "INVALID_REQUEST")
    assert "out_trade_no exists" in json.loads(text)["message"]
    pay(sim.gateway, number)
    code, text = client.pay(description="Gems", out_trade_no=number, amount={"total": 100})
    assert (code, error_of(text)) == (400, "ORDERPAID")


def test_close(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client)
    assert client.close(number) == (204, b"")  # the SDK verified the signed empty body
    assert query(client, out_trade_no=number)[1]["trade_state"] == "CLOSED"
    assert client.close(number)[0] == 204
    refused = control(sim.gateway, "POST", "/simulator/pay", {"out_trade_no": number})
    assert (refused.status_code, refused.json()["code"]) == (400, "ORDER_CLOSED")

    paid_number = create_native(client)
    pay(sim.gateway, paid_number)
    code, text = client.close(paid_number)
    assert (code, error_of(text)) == (400, "ORDERPAID")
    code, text = client.query(out_trade_no="NO_SUCH_ORDER")
    assert (code, error_of(text)) == (404, "ORDER_NOT_EXIST")


def test_pay_page(client: WeChatPay, sim: Harness) -> None:
    number = new_number()
    _, text = client.pay(description="Season <pass>", out_trade_no=number, amount={"total": 2050})
    code_url = json.loads(text)["code_url"]
    page = httpx.get(code_url, trust_env=False)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Season &lt;pass&gt;" in page.text and "20.50" in page.text
    assert "<script" not in page.text and "<form" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    done = httpx.post(code_url, data={"openid": "o_page", "outcome": "SUCCESS"}, trust_env=False)
    assert done.status_code == 200 and "SUCCESS" in done.text
    (note,) = sim.notes.wait_for(number)
    assert note.result is not None and note.result["resource"]["payer"]["openid"] == "o_page"


def test_payerror(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client)
    assert pay(sim.gateway, number, outcome="PAYERROR")["trade_state"] == "PAYERROR"
    assert query(client, out_trade_no=number)[1]["trade_state"] == "PAYERROR"
    assert client.close(number)[0] == 204


# --- refunds ----------------------------------------------------------------------------------
def test_partial_and_repeated_refunds_up_to_the_paid_amount(
    client: WeChatPay, sim: Harness
) -> None:
    number = create_native(client, 1000)
    paid = pay(sim.gateway, number)
    first_no = new_number("R")
    code, first = refund(client, number, first_no, 300)
    assert (code, first["status"]) == (200, "PROCESSING")
    assert first["amount"]["refund"] == 300 and first["transaction_id"] == paid["transaction_id"]
    assert query(client, out_trade_no=number)[1]["trade_state"] == "REFUND"

    code, text = client.query_refund(first_no)
    assert code == 200 and json.loads(text)["status"] == "SUCCESS"
    (note,) = sim.notes.wait_for(first_no)
    assert note.result is not None and note.result["event_type"] == "REFUND.SUCCESS"
    assert note.result["resource"]["refund_status"] == "SUCCESS"
    assert note.result["resource"]["amount"]["refund"] == 300

    assert refund(client, number, first_no, 300)[1]["refund_id"] == first["refund_id"]  # replay
    code, conflict = refund(client, number, first_no, 301)
    assert (code, conflict["code"]) == (400, "INVALID_REQUEST")
    code, over = refund(client, number, new_number("R"), 701)
    assert (code, over["code"]) == (400, "INVALID_REQUEST")
    assert refund(client, number, new_number("R"), 400)[0] == 200
    assert refund(client, number, new_number("R"), 300)[0] == 200  # 1000 refunded in all
    code, exhausted = refund(client, number, new_number("R"), 1)
    assert (code, exhausted["code"]) == (400, "INVALID_REQUEST")

    code, more_than_total = refund(client, create_native(client, 1000), new_number("R"), 1001)
    assert (code, more_than_total["code"]) == (400, "PARAM_ERROR")
    code, unpaid = refund(client, create_native(client, 1000), new_number("R"), 1000)
    assert (code, unpaid["code"]) == (400, "INVALID_REQUEST")


def test_full_refund_by_transaction_id(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client, 880)
    paid = pay(sim.gateway, number)
    code, text = client.refund(
        out_refund_no=new_number("R"),
        amount={"refund": 880, "total": 880, "currency": "CNY"},
        transaction_id=paid["transaction_id"],
    )
    assert code == 200 and json.loads(text)["out_trade_no"] == number
    code, text = client.query_refund("NO_SUCH_REFUND")
    assert (code, error_of(text)) == (404, "RESOURCE_NOT_EXISTS")


# --- the trade bill ---------------------------------------------------------------------------
def test_trade_bill(sim: Harness) -> None:
    frozen = time.time()  # one Beijing day for the whole test, even across midnight
    config = sim.creds.simulator_config(clock=lambda: frozen, retry_schedule_s=RETRIES_S)
    with serving(create_simulator(config)) as gateway:
        client = sim.client(gateway)
        today = beijing_day(frozen)
        code, text = client.trade_bill(bill_date=today)
        assert (code, error_of(text)) == (400, "NO_STATEMENT_EXIST")

        first, second = create_native(client, 1000), create_native(client, 2345, attach="a,b")
        pay(gateway, first)
        pay(gateway, second)
        refund_no = new_number("R")
        assert refund(client, first, refund_no, 300)[0] == 200

        code, text = client.trade_bill(bill_date=today)  # the SDK asks for tar_type=GZIP
        assert code == 200
        answer = json.loads(text)
        assert answer["hash_type"] == "SHA1"
        code, content = client.download_bill(answer["download_url"])
        assert code == 200
        plain = gzip.decompress(content)
        assert hashlib.sha1(plain).hexdigest() == answer["hash_value"]

        header, *rows, totals_header, totals = csv.reader(io.StringIO(plain.decode("utf-8")))
        assert tuple(header) == COLUMNS and len(COLUMNS) == 27
        assert tuple(totals_header) == TOTALS_COLUMNS
        assert all(len(row) == 27 and all(v.startswith("`") for v in row) for row in rows)
        records = [dict(zip(COLUMNS, (v[1:] for v in row), strict=True)) for row in rows]
        by_state = {(r["交易状态"], r["商户订单号"]): r for r in records}
        assert set(by_state) == {("SUCCESS", first), ("SUCCESS", second), ("REFUND", first)}
        assert by_state[("SUCCESS", second)]["应结订单金额"] == "23.45"
        assert by_state[("SUCCESS", second)]["商户数据包"] == "a,b"
        assert by_state[("SUCCESS", first)]["手续费"] == "0.06"
        refund_row = by_state[("REFUND", first)]
        assert (refund_row["商户退款单号"], refund_row["退款金额"]) == (refund_no, "3.00")
        assert refund_row["手续费"] == "-0.02" and refund_row["费率"] == "0.60%"

        assert all(v.startswith("`") for v in totals)
        count, settled, refunded, coupon, fees, ordered, asked = (v[1:] for v in totals)
        assert (count, settled, refunded, coupon) == ("3", "33.45", "3.00", "0.00")
        assert fees == yuan(fee_fen(1000, 60) + fee_fen(2345, 60) - fee_fen(300, 60)) == "0.18"
        assert (ordered, asked) == ("33.45", "3.00")

        code, text = client.trade_bill(bill_date=today, bill_type="SUCCESS")
        code, content = client.download_bill(json.loads(text)["download_url"])
        assert len(gzip.decompress(content).decode().splitlines()) == 1 + 2 + 2


def test_mounted_under_a_prefix(sim: Harness) -> None:
    frozen = time.time()
    simulator = create_simulator(sim.creds.simulator_config(clock=lambda: frozen))
    paydesk = FastAPI()
    paydesk.mount("/sandbox/wechatpay", simulator)
    try:
        with serving(paydesk) as url:
            gateway = f"{url}/sandbox/wechatpay"
            client = sim.client(gateway)
            number = new_number()
            code, text = client.pay(description="Gems", out_trade_no=number, amount={"total": 99})
            code_url = json.loads(text)["code_url"]
            assert code == 200 and code_url.startswith(f"{gateway}/pay/")
            assert httpx.get(code_url, trust_env=False).status_code == 200
            pay(gateway, number)
            sim.notes.wait_for(number)
            assert query(client, out_trade_no=number)[1]["trade_state"] == "SUCCESS"
            code, text = client.trade_bill(bill_date=beijing_day(frozen))
            download_url = json.loads(text)["download_url"]
            assert download_url.startswith(f"{gateway}/v3/billdownload/file?token=")
            code, content = client.download_bill(download_url)
            assert code == 200 and number in gzip.decompress(content).decode()
    finally:
        simulator.state.simulator.close()  # a mounted app gets no lifespan events


# --- signatures -------------------------------------------------------------------------------
def test_bad_request_signature_is_rejected(client: WeChatPay, sim: Harness) -> None:
    number = create_native(client)
    impostor = sim.client(private_key=generate_test_credentials().merchant_private_key_pem)
    code, text = impostor.query(out_trade_no=number)
    assert (code, error_of(text)) == (401, "SIGN_ERROR")
    code, text = impostor.pay(description="x", out_trade_no=new_number(), amount={"total": 1})
    assert (code, error_of(text)) == (401, "SIGN_ERROR")
    assert sim.client(mchid="1900000001").query(out_trade_no=number)[0] == 401

    # The signature covers the query string: the same header on another target fails.
    signed_path = f"/v3/pay/transactions/out-trade-no/{number}?mchid={sim.creds.mchid}"
    core = client._core
    authorization = {
        "Authorization": build_authorization(
            signed_path, "GET", core._mchid, core._cert_serial_no, core._private_key
        )
    }
    good = requests.get(f"{sim.gateway}{signed_path}", headers=authorization, timeout=5)
    assert good.status_code == 200
    tampered = requests.get(f"{sim.gateway}{signed_path}&x=1", headers=authorization, timeout=5)
    assert (tampered.status_code, tampered.json()["code"]) == (401, "SIGN_ERROR")


def test_stale_timestamp_is_rejected(sim: Harness) -> None:
    config = sim.creds.simulator_config(clock=lambda: time.time() + 301)
    with serving(create_simulator(config)) as gateway:
        code, text = sim.client(gateway).query(out_trade_no="ANY_ORDER")
        assert (code, error_of(text)) == (401, "SIGN_ERROR")
        assert "timestamp" in json.loads(text)["message"]


def test_the_sdk_checks_the_response_signature(client: WeChatPay, sim: Harness) -> None:
    # Negative control: holding another platform key, the SDK refuses the simulator's answers.
    sceptic = sim.client(public_key=generate_test_credentials().platform_public_key_pem)
    with pytest.raises(Exception, match="failed to verify the signature"):
        sceptic.pay(description="x", out_trade_no=new_number(), amount={"total": 1})


def test_authorization_values_may_be_unquoted() -> None:
    parsed = parse_authorization(
        "WECHATPAY2-SHA256-RSA2048 mchid=1900,nonce_str=N1,signature=c2ln+/=,"
        "timestamp=1, serial_no=AB"
    )
    assert (parsed.mchid, parsed.signature, parsed.serial_no) == ("1900", "c2ln+/=", "AB")
