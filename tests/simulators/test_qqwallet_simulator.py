"""The QQ Wallet simulator, driven by a plain merchant client over loopback HTTP.

The client (tests/simulators/qqwallet_support.py) builds and signs XML with its own few lines,
held to WeChat Pay v2's published signature vectors, which QQ Wallet's signature page repeats;
the receiver checks every notification's sign the same way. Payers act through the pay page or
the control API. The connector's own end-to-end tests are in
tests/channels/test_qqwallet_connector.py.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from paydesk.simulators.qqwallet import FaultBook
from paydesk.simulators.qqwallet.bill import COLUMNS, TOTALS_COLUMNS
from paydesk.simulators.qqwallet.faults import FaultError
from paydesk.simulators.qqwallet.wire import sign as simulator_sign
from tests.simulators.qqwallet_support import (
    CLOSE_ORDER,
    ORDER_QUERY,
    REFUND,
    REFUND_QUERY,
    STATEMENT,
    UNIFIED_ORDER,
    WAIT_S,
    Harness,
    beijing_day,
    control,
    deliveries,
    new_number,
    parse,
    pay,
    sign,
    to_xml,
    verified,
    wait_until,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[Harness]:
    with Harness.running() as harness:
        yield harness


@pytest.fixture
def h(sim: Harness) -> Iterator[Harness]:
    sim.reset()
    key = sim.creds.api_key

    def judge(body: bytes) -> tuple[bool, Any]:
        fields = parse(body)
        return verified(fields, key, fields.get("sign_type", "MD5")), fields

    sim.receiver.judge = judge
    yield sim
    sim.reset()


def assert_signed(fields: dict[str, str], h: Harness, sign_type: str = "HMAC-SHA256") -> None:
    assert fields["return_code"] == "SUCCESS"
    assert verified(fields, h.creds.api_key, sign_type), fields


def refusal(body: bytes) -> dict[str, str]:
    """An unsigned ``return_code`` FAIL answer."""
    fields = parse(body)
    assert fields["return_code"] == "FAIL" and "sign" not in fields, fields
    return fields


def operator(h: Harness) -> dict[str, str]:
    password_md5 = hashlib.md5(h.creds.op_user_password.encode()).hexdigest()
    return {"op_user_id": h.creds.op_user_id, "op_user_passwd": password_md5}


# --- signatures ---------------------------------------------------------------------------------
def test_signatures_agree_with_the_published_vectors() -> None:
    fields = {
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "device_info": "1000",
        "body": "test",
        "nonce_str": "ibuaiVcKdpRxkhJA",
    }
    key = "192006250b4c09247ec02edce69f6a2d"
    md5, hmac = (
        "9A0A8659F005D6984697E2CA0A9CF3B7",
        ("6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"),
    )
    assert sign(fields, key, "MD5") == simulator_sign(fields, key, "MD5") == md5
    assert sign(fields, key, "HMAC-SHA256") == simulator_sign(fields, key, "HMAC-SHA256") == hmac
    # Sorted by field name, not by "name=value" text (refund_fee_1 before refund_fee_10).
    many = {f"refund_fee_{n}": str(n) for n in range(12)}
    assert simulator_sign(many, key, "MD5") == sign(many, key, "MD5")


# --- payments -----------------------------------------------------------------------------------
def test_native_order_paid_on_the_page_is_notified_and_queried(h: Harness) -> None:
    number, answer = h.order(total_fee="1234", attach="cart-7")
    assert_signed(answer, h)
    assert (answer["result_code"], answer["trade_type"], answer["sign_type"]) == (
        "SUCCESS",
        "NATIVE",
        "HMAC-SHA256",
    )
    code_url = answer["code_url"]
    assert code_url == f"{h.gateway}/pay/{answer['prepay_id']}"

    unpaid = h.api(ORDER_QUERY, {"out_trade_no": number})
    assert_signed(unpaid, h)
    assert (unpaid["trade_state"], unpaid["total_fee"], unpaid["fee_type"]) == (
        "NOTPAY",
        "1234",
        "CNY",
    )
    assert "transaction_id" not in unpaid and "time_end" not in unpaid

    page = httpx.get(code_url, trust_env=False)
    assert page.status_code == 200 and "12.34" in page.text and "Gems 宝石 100" in page.text
    assert (
        "<script" not in page.text
        and "default-src 'none'" in page.headers["content-security-policy"]
    )
    done = httpx.post(code_url, data={"outcome": "SUCCESS", "openid": "PAYER1"}, trust_env=False)
    assert done.status_code == 200 and "SUCCESS" in done.text

    (note,) = h.receiver.wait_for(number)
    assert note.accepted, "the notification's sign does not verify"
    sent = note.result
    assert (sent["trade_state"], sent["total_fee"], sent["openid"]) == ("SUCCESS", "1234", "PAYER1")
    assert sent["mch_id"] == h.creds.mch_id and sent["attach"] == "cart-7"
    assert sent["sign_type"] == "HMAC-SHA256" and len(sent["time_end"]) == 14
    paid = h.api(ORDER_QUERY, {"transaction_id": sent["transaction_id"]})
    assert_signed(paid, h)
    assert paid["trade_state"] == "SUCCESS" and paid["out_trade_no"] == number
    assert paid["time_end"] == sent["time_end"] and paid["cash_fee"] == "1234"
    again = httpx.get(code_url, trust_env=False)
    assert "SUCCESS" in again.text and "<form" not in again.text


def test_md5_is_the_default_sign_type(h: Harness) -> None:
    number, answer = h.order(sign_type=None)
    assert "sign_type" not in answer and len(answer["sign"]) == 32
    assert verified(answer, h.creds.api_key, "MD5")
    pay(h.gateway, number)
    (note,) = h.receiver.wait_for(number)
    assert note.accepted and "sign_type" not in note.result and len(note.result["sign"]) == 32


def test_jsapi_and_app_orders_and_a_failed_payment(h: Harness) -> None:
    number, jsapi = h.order(trade_type="JSAPI")
    assert jsapi["prepay_id"] and "code_url" not in jsapi
    _, app = h.order(trade_type="APP", appid=h.creds.appid)
    assert app["prepay_id"] and app["appid"] == h.creds.appid
    _, no_app = h.order(trade_type="APP")
    assert (no_app["result_code"], no_app["err_code"]) == ("FAIL", "LACK_PARAMS")
    failed = control(h.gateway, "POST", f"/simulator/trades/{number}/fail")
    assert failed.status_code == 200 and failed.json()["trade_state"] == "PAYERROR"
    assert h.api(ORDER_QUERY, {"out_trade_no": number})["trade_state"] == "PAYERROR"
    time.sleep(0.2)
    assert h.receiver.about(number) == []  # only successes are notified


def test_order_numbers_replays_and_close(h: Harness) -> None:
    number, first = h.order()
    _, replay = h.order(number)
    assert replay["prepay_id"] == first["prepay_id"]
    _, reused = h.order(number, total_fee="999")
    assert (reused["result_code"], reused["err_code"]) == ("FAIL", "OUT_TRADE_NO_USED")
    assert_signed(reused, h)
    closed = h.api(CLOSE_ORDER, {"out_trade_no": number})
    assert_signed(closed, h)
    assert closed["result_code"] == "SUCCESS"
    assert h.api(ORDER_QUERY, {"out_trade_no": number})["trade_state"] == "CLOSED"
    assert h.api(CLOSE_ORDER, {"out_trade_no": number})["err_code"] == "ORDERCLOSED"
    assert h.order(number)[1]["err_code"] == "ORDERCLOSED"
    paid_number, _ = h.order()
    pay(h.gateway, paid_number)
    assert h.api(CLOSE_ORDER, {"out_trade_no": paid_number})["err_code"] == "ORDERPAID"
    missing = h.api(ORDER_QUERY, {"out_trade_no": "NO_SUCH_ORDER"})
    assert_signed(missing, h)
    assert (missing["result_code"], missing["err_code"]) == ("FAIL", "ORDERNOTEXIST")


def test_an_expired_order_closes(h: Harness) -> None:
    started = time.time()
    expire = beijing_day(started) + timedelta(minutes=1)
    past = h.order(time_expire=(expire - timedelta(minutes=2)).strftime("%Y%m%d%H%M%S"))[1]
    assert past["err_code"] == "PARAM_ERROR"
    number, _ = h.order(time_expire=expire.strftime("%Y%m%d%H%M%S"))
    h.config.clock = lambda: time.time() + 120
    try:
        assert h.api(ORDER_QUERY, {"out_trade_no": number})["trade_state"] == "CLOSED"
        assert control(h.gateway, "POST", f"/simulator/trades/{number}/pay").status_code == 409
    finally:
        h.config.clock = time.time


# --- what the edge refuses ----------------------------------------------------------------------
def test_requests_that_are_refused(h: Harness) -> None:
    number = new_number()
    fields = {"out_trade_no": number}
    assert "SIGNERROR" in refusal(h.call(ORDER_QUERY, fields, key="K" * 32)[1])["return_msg"]
    body = h.call(ORDER_QUERY, fields, sign_type="SHA1")[1]
    assert "SIGNERROR" in refusal(body)["return_msg"]
    # MD5-signed but naming HMAC-SHA256: the sign does not hold.
    signed = {"mch_id": h.creds.mch_id, "nonce_str": "n1", "sign_type": "HMAC-SHA256", **fields}
    signed["sign"] = sign(signed, h.creds.api_key, "MD5")
    assert "SIGNERROR" in refusal(h.call(ORDER_QUERY, {}, raw=to_xml(signed))[1])["return_msg"]
    stranger = {"mch_id": "1900000109", "nonce_str": "n", **fields}
    stranger["sign"] = sign(stranger, h.creds.api_key)
    assert (
        "MCHID_NOT_EXIST" in refusal(h.call(ORDER_QUERY, {}, raw=to_xml(stranger))[1])["return_msg"]
    )
    entity = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY n "x">]><xml><mch_id>&n;</mch_id></xml>'
    for raw in (entity, b"<!DOCTYPE xml><xml></xml>", b"not xml", b"<xml><a><b/></a></xml>"):
        assert "XML_FORMAT_ERROR" in refusal(h.call(ORDER_QUERY, {}, raw=raw)[1])["return_msg"]
    huge = to_xml({"mch_id": h.creds.mch_id, "attach": "x" * 70_000})
    assert "XML_FORMAT_ERROR" in refusal(h.call(ORDER_QUERY, {}, raw=huge)[1])["return_msg"]

    lacking = h.api(ORDER_QUERY, {})
    assert_signed(lacking, h)
    assert lacking["err_code"] == "LACK_PARAMS"
    assert h.order(fee_type="USD")[1]["err_code"] == "PARAM_ERROR"
    assert h.order(total_fee="12.5")[1]["err_code"] == "PARAM_ERROR"
    assert h.order(spbill_create_ip="somewhere")[1]["err_code"] == "PARAM_ERROR"
    assert h.order(appid="1100000000")[1]["err_code"] == "PARAM_ERROR"


# --- refunds ------------------------------------------------------------------------------------
def test_refunds_pending_then_succeeded(h: Harness) -> None:
    number, _ = h.order(total_fee="1000")
    unpaid_refund = h.api(
        REFUND,
        {
            "out_trade_no": number,
            "out_refund_no": new_number("R"),
            "refund_fee": "1",
            **operator(h),
        },
    )
    assert unpaid_refund["err_code"] == "TRADE_STATE_ERROR"
    pay(h.gateway, number)

    h.config.faults.set(hold_refunds=True)
    first_no = new_number("R")
    refund = {"out_trade_no": number, "out_refund_no": first_no, "refund_fee": "300"}
    wrong = h.api(REFUND, {**refund, "op_user_id": h.creds.op_user_id, "op_user_passwd": "0" * 32})
    assert wrong["err_code"] == "PARAM_ERROR"
    accepted = h.api(REFUND, {**refund, **operator(h)})
    assert_signed(accepted, h)
    assert (accepted["result_code"], accepted["refund_fee"], accepted["total_fee"]) == (
        "SUCCESS",
        "300",
        "1000",
    )
    assert accepted["out_refund_no"] == first_no and accepted["refund_id"]
    assert h.api(REFUND, {**refund, **operator(h)})["refund_id"] == accepted["refund_id"]
    pending = h.api(REFUND_QUERY, {"out_refund_no": first_no})
    assert_signed(pending, h)
    assert (pending["refund_status_0"], pending["refund_fee_0"]) == ("PROCESSING", "300")
    assert h.api(ORDER_QUERY, {"out_trade_no": number})["trade_state"] == "REFUND"
    over = h.api(
        REFUND, {**refund, "out_refund_no": new_number("R"), "refund_fee": "701", **operator(h)}
    )
    assert over["err_code"] == "PARAM_ERROR"

    done = control(h.gateway, "POST", f"/simulator/refunds/{first_no}/complete")
    assert done.status_code == 200 and done.json()["refund_status"] == "SUCCESS"
    h.config.faults.set(hold_refunds=False)
    second_no = new_number("R")
    h.api(REFUND, {**refund, "out_refund_no": second_no, "refund_fee": "700", **operator(h)})
    both = h.api(REFUND_QUERY, {"out_trade_no": number})
    assert both["refund_count"] == "2"
    assert [both["out_refund_no_0"], both["out_refund_no_1"]] == [first_no, second_no]
    assert [both["refund_status_0"], both["refund_status_1"]] == ["SUCCESS", "SUCCESS"]
    by_id = h.api(REFUND_QUERY, {"refund_id": accepted["refund_id"]})
    assert by_id["out_refund_no_0"] == first_no
    assert h.api(REFUND_QUERY, {"out_refund_no": "NO_SUCH"})["err_code"] == "REFUNDNOTEXIST"


def test_refund_by_transaction_id_and_a_delayed_refund(h: Harness) -> None:
    number, _ = h.order(total_fee="500")
    transaction_id = pay(h.gateway, number)["transaction_id"]
    h.config.faults.set(refund_delay_s=0.2)
    refund_no = new_number("R")
    h.api(
        REFUND,
        {
            "transaction_id": transaction_id,
            "out_refund_no": refund_no,
            "refund_fee": "500",
            **operator(h),
        },
    )
    status = h.api(REFUND_QUERY, {"out_refund_no": refund_no})["refund_status_0"]
    assert status == "PROCESSING"
    later = wait_until(
        lambda: h.api(REFUND_QUERY, {"out_refund_no": refund_no})["refund_status_0"],
        lambda value: value == "SUCCESS",
        WAIT_S,
    )
    assert later == "SUCCESS"


# --- notifications ------------------------------------------------------------------------------
def test_notifications_are_retried_until_acknowledged(h: Harness) -> None:
    h.receiver.fail_next = 2
    number, _ = h.order()
    pay(h.gateway, number)
    arrivals = h.receiver.wait_for(number, count=3)
    assert len(arrivals) == 3 and len({a.body for a in arrivals}) == 1
    entry = wait_until(
        lambda: [e for e in deliveries(h.gateway) if e["out_trade_no"] == number],
        lambda found: bool(found) and found[0]["outcome"] == "delivered",
        WAIT_S,
    )
    assert entry[0]["attempts"] == [200, 200, 200]  # a FAIL body is not an acknowledgement

    h.receiver.answer_for = lambda ok: (200, b"success")  # not QQ Wallet's acknowledgement
    given_up, _ = h.order()
    pay(h.gateway, given_up)
    failed = wait_until(
        lambda: [e for e in deliveries(h.gateway) if e["out_trade_no"] == given_up],
        lambda found: bool(found) and found[0]["outcome"] == "failed",
        WAIT_S,
    )
    assert len(failed[0]["attempts"]) == 4  # the first try and one per retry wait


def test_notification_faults(h: Harness) -> None:
    h.config.faults.set(drop_notifications=1)
    dropped, _ = h.order()
    pay(h.gateway, dropped)
    h.config.faults.set(duplicate_notifications=1)
    twice, _ = h.order()
    pay(h.gateway, twice)
    assert len(h.receiver.wait_for(twice, count=2)) == 2
    assert h.receiver.about(dropped) == []
    assert [e["outcome"] for e in deliveries(h.gateway) if e["out_trade_no"] == dropped] == [
        "dropped"
    ]

    h.config.faults.set(reorder=1)
    first, _ = h.order()
    pay(h.gateway, first)
    second, _ = h.order()
    pay(h.gateway, second)
    h.receiver.wait_for(first)
    bodies = [a.body for a in h.receiver.arrivals()]
    arrived = [n for body in bodies for n in (first, second) if n.encode() in body]
    assert arrived == [second, first]  # the later payment reached the merchant first

    h.config.faults.set(reorder=1)
    held, _ = h.order()
    pay(h.gateway, held)
    time.sleep(0.2)
    assert h.receiver.about(held) == []
    released = control(h.gateway, "POST", "/simulator/notifications/release", {})
    assert released.json() == {"released": 1}
    assert h.receiver.wait_for(held)

    h.config.faults.set(forge_notification=1)
    forged_number, _ = h.order()
    pay(h.gateway, forged_number)
    arrivals = h.receiver.wait_for(forged_number, count=2)
    assert [a.accepted for a in arrivals] == [False, True]
    forged_entry = [
        e
        for e in deliveries(h.gateway)
        if e["out_trade_no"] == forged_number and e["kind"] == "forged"
    ]
    assert forged_entry[0]["outcome"] == "failed" and forged_entry[0]["attempts"] == [500]


# --- call faults --------------------------------------------------------------------------------
def test_call_faults(h: Harness) -> None:
    h.config.faults.set(h.creds.mch_id, fail_next_n=1)
    number = new_number()
    _, failed = h.order(number)
    assert_signed(failed, h)
    assert (failed["result_code"], failed["err_code"]) == ("FAIL", "SYSTEMERROR")
    assert h.api(ORDER_QUERY, {"out_trade_no": number})["err_code"] == "ORDERNOTEXIST"

    h.config.faults.set(forge_answer=1)
    forged = h.api(ORDER_QUERY, {"out_trade_no": number})
    assert forged["return_code"] == "SUCCESS"
    assert not verified(forged, h.creds.api_key, "HMAC-SHA256")

    h.config.faults.set(timeout_next_n=1)
    held = new_number()
    with pytest.raises(httpx.ReadTimeout):
        h.call(UNIFIED_ORDER, _order_fields(h, held), timeout_s=0.3)
    assert h.api(ORDER_QUERY, {"out_trade_no": held})["trade_state"] == "NOTPAY"

    h.config.faults.set(delay_s=0.3)
    started = time.monotonic()
    h.api(ORDER_QUERY, {"out_trade_no": held})
    assert time.monotonic() - started >= 0.3


def _order_fields(h: Harness, number: str) -> dict[str, str]:
    return {
        "body": "Gems",
        "out_trade_no": number,
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "trade_type": "NATIVE",
        "notify_url": h.notify_url,
    }


def test_fault_book_checks_its_settings() -> None:
    book = FaultBook()
    with pytest.raises(FaultError):
        book.set(unknown=1)
    with pytest.raises(FaultError):
        book.set(delay_s=-1)
    book.set("1900000109", fail_next_n=1)
    book.set(fail_next_n=1)
    assert book.take("1900000109", "fail_next_n") and book.take("1900000109", "fail_next_n")
    assert not book.take("1900000109", "fail_next_n")


# --- statements ---------------------------------------------------------------------------------
def test_statement(sim: Harness) -> None:
    frozen = time.time()  # one Beijing day for the whole test, even across midnight
    day = beijing_day(frozen)
    bill_date = day.strftime("%Y%m%d")
    with Harness.running(sim.creds, clock=lambda: frozen) as h:
        none = h.call(STATEMENT, {"bill_date": bill_date, "bill_type": "ALL"})[1]
        assert refusal(none)["return_msg"] == "No Bill Exist"
        tomorrow = (day + timedelta(days=1)).strftime("%Y%m%d")
        assert h.api(STATEMENT, {"bill_date": tomorrow})["err_code"] == "PARAM_ERROR"
        paid = []
        for amount in ("1000", "2345"):
            number, _ = h.order(total_fee=amount, body='Gems, 宝石 "100"')
            pay(h.gateway, number, openid="PAYER1")
            paid.append(number)
        refund = {"out_trade_no": paid[1], "out_refund_no": new_number("R"), "refund_fee": "345"}
        h.api(REFUND, {**refund, **operator(h)})

        status, content = h.call(STATEMENT, {"bill_date": bill_date, "bill_type": "ALL"})
        assert status == 200 and content.endswith(b"\r\n")
        header, *rows, totals_header, totals = csv.reader(io.StringIO(content.decode()))
        assert tuple(header) == COLUMNS and tuple(totals_header) == TOTALS_COLUMNS
        assert len(rows) == 3 and all(len(row) == len(COLUMNS) for row in rows)
        assert {row[20] for row in rows} == {'`Gems, 宝石 "100"'}
        payments = [row for row in rows if row[9] == "`SUCCESS"]
        assert sorted(row[12] for row in payments) == ["`10.00", "`23.45"]
        (refund_row,) = [row for row in rows if row[9] == "`REFUND"]
        assert (refund_row[6], refund_row[16], refund_row[22]) == (f"`{paid[1]}", "`3.45", "`-0.02")
        assert totals == ["`3", "`33.45", "`3.45", "`0.00", "`0.18"]

        refunds_only = h.call(
            STATEMENT, {"bill_date": bill_date, "bill_type": "REFUND", "tar_type": "GZIP"}
        )[1]
        lines = gzip.decompress(refunds_only).decode().splitlines()
        assert len(lines) == 4 and "`REFUND" in lines[1]


# --- the control API ----------------------------------------------------------------------------
def test_control_api_refusals(h: Harness) -> None:
    assert control(h.gateway, "POST", "/simulator/trades/NOPE/pay").status_code == 404
    number, _ = h.order()
    pay(h.gateway, number)
    again = control(h.gateway, "POST", f"/simulator/trades/{number}/pay")
    assert again.status_code == 409 and again.json()["code"] == "ORDERPAID"
    assert control(h.gateway, "POST", "/simulator/faults", {"nope": 1}).status_code == 400
    assert control(h.gateway, "POST", "/simulator/refunds/NOPE/complete").status_code == 404
    set_faults = control(
        h.gateway, "POST", "/simulator/faults", {"mch_id": h.creds.mch_id, "delay_s": 0.1}
    )
    assert set_faults.json()["merchants"][h.creds.mch_id]["delay_s"] == 0.1
    assert control(h.gateway, "DELETE", "/simulator/faults").json()["merchants"] == {}
    assert httpx.get(f"{h.gateway}/pay/unknown", trust_env=False).status_code == 404
