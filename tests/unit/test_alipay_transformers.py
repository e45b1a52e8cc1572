"""The Alipay connector's pure mappings, table by table: amounts, times, statuses, answers,
notification forms and the bill ZIP (paydesk.channels.alipay.transformers, .notifications,
.statement)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paydesk.channels.alipay import notifications, statement, transformers
from paydesk.channels.alipay.transformers import AlipayRejected, ApiMethod
from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)

NOW = datetime(2024, 5, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


# --- amounts ------------------------------------------------------------------------------------
# fmt: off
YUAN_TO_FEN = [
    ("0.01", 1), ("0.10", 10), ("10.00", 1000), ("1234.56", 123456), ("0.00", 0), ("0", 0),
    ("10", 1000), ("10.5", 1050), ("100000000.00", 10_000_000_000),
]
NOT_YUAN = [
    "", " 1.00", "1.00 ", "1.001", "0.005", "-1.00", "+1.00", "1e2", "1,000.00", "NaN",
    "Infinity", ".50", "1.", "01.00", "0x10", "10000000000000.00", None, 1.5, 100,
    "１.００",  # noqa: RUF001 - full-width digits must not pass for ASCII ones
]
# fmt: on


@pytest.mark.parametrize(("yuan", "fen"), YUAN_TO_FEN)
def test_yuan_strings_read_as_exact_fen(yuan: str, fen: int) -> None:
    assert transformers.fen_from_yuan(yuan) == fen


@pytest.mark.parametrize("bad", NOT_YUAN)
def test_anything_but_a_plain_yuan_string_is_refused(bad: object) -> None:
    with pytest.raises(ChannelError, match="not an amount in yuan"):
        transformers.fen_from_yuan(bad)


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [(1, "0.01"), (5, "0.05"), (10, "0.10"), (1000, "10.00"), (123456, "1234.56"), (0, "0.00")],
)
def test_fen_are_written_as_two_decimal_yuan(fen: int, yuan: str) -> None:
    assert transformers.yuan_from_fen(fen) == yuan


@pytest.mark.parametrize("bad", [-1, True, 1.5, "100"])
def test_only_non_negative_integers_are_written(bad: Any) -> None:
    with pytest.raises(ValueError, match="fen"):
        transformers.yuan_from_fen(bad)


@given(st.integers(min_value=0, max_value=10**14))
def test_fen_survive_the_round_trip(fen: int) -> None:
    assert transformers.fen_from_yuan(transformers.yuan_from_fen(fen)) == fen


# --- times and expiry ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-05 10:00:00", datetime(2024, 5, 5, 2, 0, tzinfo=UTC)),
        ("2024-05-05 07:59:59.123", datetime(2024, 5, 4, 23, 59, 59, 123000, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_beijing_times_read_as_utc(text: str | None, expected: datetime | None) -> None:
    assert transformers.parse_time(text) == expected


def test_a_time_in_another_layout_is_refused() -> None:
    with pytest.raises(ChannelError, match="not a time"):
        transformers.parse_time("2024-05-05T10:00:00+08:00")


@pytest.mark.parametrize(
    ("after", "express"),
    [
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=30), "30m"),
        (timedelta(minutes=90, seconds=59), "90m"),  # rounded down: never outlives us
        (timedelta(minutes=9999), "9999m"),
        (timedelta(minutes=10_000), "166h"),
        (timedelta(days=15), "360h"),
    ],
)
def test_expiry_becomes_timeout_express(after: timedelta, express: str) -> None:
    assert transformers.timeout_express(NOW + after, NOW) == express


@pytest.mark.parametrize(
    "expires_at",
    [
        NOW + timedelta(seconds=59),
        NOW - timedelta(minutes=5),
        NOW + timedelta(days=15, minutes=1),
        datetime(2024, 5, 5, 3, 0),  # naive
    ],
)
def test_expiry_outside_alipays_range_is_refused(expires_at: datetime) -> None:
    with pytest.raises(ChannelRejected):
        transformers.timeout_express(expires_at, NOW)


# --- create -------------------------------------------------------------------------------------
def payment_request(method: Method = Method.ALIPAY_QR, **changes: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "out_trade_no": "T1",
        "amount_minor": 1050,
        "currency": "CNY",
        "subject": "商品",
        "method": method,
        "notify_url": "https://shop.example/notify",
        "expires_at": NOW + timedelta(hours=2),
        "return_url": "https://shop.example/back",
    }
    return PaymentRequest(**(fields | changes))


@pytest.mark.parametrize(
    ("method", "api"),
    [
        (Method.ALIPAY_QR, ApiMethod.PRECREATE),
        (Method.ALIPAY_PAGE, ApiMethod.PAGE_PAY),
        (Method.ALIPAY_WAP, ApiMethod.WAP_PAY),
        (Method.ALIPAY_APP, ApiMethod.APP_PAY),
    ],
)
def test_each_alipay_method_has_its_gateway_method(method: Method, api: ApiMethod) -> None:
    order = transformers.order_fields(payment_request(method), NOW)
    assert order.api is api
    assert (order.total_amount, order.timeout_express, order.subject) == ("10.50", "120m", "商品")
    assert order.notify_url == "https://shop.example/notify"


@pytest.mark.parametrize("method", [m for m in Method if not m.value.startswith("alipay_")])
def test_other_methods_are_unsupported(method: Method) -> None:
    with pytest.raises(UnsupportedFlow, match=method.value):
        transformers.order_fields(payment_request(method), NOW)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"currency": "USD"}, UnsupportedFlow),
        ({"currency": "HKD"}, UnsupportedFlow),
        ({"amount_minor": 0}, ChannelRejected),
        ({"amount_minor": -100}, ChannelRejected),
        ({"subject": "  "}, ChannelRejected),
        ({"subject": "x" * 257}, ChannelRejected),
    ],
)
def test_bad_requests_fail_before_any_call(changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        transformers.order_fields(payment_request(**changes), NOW)


def test_qr_code_is_read_from_the_precreate_answer() -> None:
    answer = {"code": "10000", "out_trade_no": "T1", "qr_code": "https://qr.alipay.com/bax1"}
    assert transformers.qr_code(answer, "T1") == "https://qr.alipay.com/bax1"
    with pytest.raises(ChannelError, match="T2"):
        transformers.qr_code(answer, "T2")
    with pytest.raises(ChannelError, match="qr_code"):
        transformers.qr_code({"code": "10000"}, "T1")


# --- statuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("trade_status", "paid", "status"),
    [
        ("WAIT_BUYER_PAY", False, PaymentStatus.PENDING),
        ("TRADE_SUCCESS", True, PaymentStatus.SUCCEEDED),
        ("TRADE_FINISHED", True, PaymentStatus.SUCCEEDED),
        ("TRADE_CLOSED", False, PaymentStatus.CLOSED),
        ("TRADE_CLOSED", True, PaymentStatus.REFUNDED),
    ],
)
def test_every_trade_status_maps(trade_status: str, paid: bool, status: PaymentStatus) -> None:
    assert transformers.payment_status(trade_status, paid=paid) is status


@pytest.mark.parametrize("unknown", ["TRADE_PENDING", "trade_success", "", "SUCCESS"])
def test_an_unknown_trade_status_is_an_error(unknown: str) -> None:
    with pytest.raises(ChannelError, match="unknown trade_status"):
        transformers.payment_status(unknown, paid=False)


QUERY_PAID = {
    "code": "10000",
    "trade_no": "2024050522001400001234567890",
    "out_trade_no": "T1",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "10.50",
    "buyer_pay_amount": "10.50",
    "send_pay_date": "2024-05-05 10:00:00",
    "buyer_user_id": "2088000000000001",
}
QUERY_UNPAID = {
    "code": "10000",
    "out_trade_no": "T1",
    "trade_status": "TRADE_CLOSED",
    "total_amount": "10.50",
    "buyer_pay_amount": "0.00",
}


@pytest.mark.parametrize(
    ("answer", "trade_status", "status"),
    [
        (QUERY_PAID, "TRADE_SUCCESS", PaymentStatus.SUCCEEDED),
        (QUERY_PAID, "TRADE_CLOSED", PaymentStatus.REFUNDED),
        (QUERY_PAID, "TRADE_FINISHED", PaymentStatus.SUCCEEDED),
        (QUERY_UNPAID, "TRADE_CLOSED", PaymentStatus.CLOSED),
        (QUERY_UNPAID, "WAIT_BUYER_PAY", PaymentStatus.PENDING),
    ],
)
def test_query_answers_read_as_payments(
    answer: dict[str, str], trade_status: str, status: PaymentStatus
) -> None:
    payment = transformers.payment_from_query(answer | {"trade_status": trade_status}, "T1")
    assert (payment.status, payment.raw_status) == (status, trade_status)
    assert payment.paid_at == (NOW if answer is QUERY_PAID else None)
    assert (payment.amount_minor, payment.currency, payment.out_trade_no) == (1050, "CNY", "T1")


def test_a_paid_trade_without_send_pay_date_is_known_by_its_buyer_pay_amount() -> None:
    answer = QUERY_UNPAID | {"buyer_pay_amount": "10.50"}
    assert transformers.payment_from_query(answer, "T1").status is PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (QUERY_PAID | {"out_trade_no": "T2"}, "T2"),
        (QUERY_PAID | {"trans_currency": "USD"}, "USD"),
        ({k: v for k, v in QUERY_PAID.items() if k != "total_amount"}, "total_amount"),
        (QUERY_PAID | {"total_amount": "10.505"}, "total_amount"),
        ({k: v for k, v in QUERY_PAID.items() if k != "trade_status"}, "trade_status"),
    ],
)
def test_unreadable_query_answers_are_errors(answer: dict[str, str], match: str) -> None:
    with pytest.raises(ChannelError, match=match):
        transformers.payment_from_query(answer, "T1")


def test_a_trade_not_yet_scanned_is_pending_without_an_amount() -> None:
    payment = transformers.payment_not_yet_visible("T1")
    assert payment.status is PaymentStatus.PENDING and payment.amount_minor == 0
    assert payment.raw_status == "ACQ.TRADE_NOT_EXIST"


# --- refunds ------------------------------------------------------------------------------------
REFUND = RefundRequest("T1", "R1", 300, 1050, "CNY", reason="退货")


def test_refund_fields_use_our_refund_number_as_out_request_no() -> None:
    assert transformers.refund_fields(REFUND) == {
        "refund_amount": "3.00",
        "out_trade_no": "T1",
        "out_request_no": "R1",
        "refund_reason": "退货",
    }
    with pytest.raises(UnsupportedFlow):
        transformers.refund_fields(RefundRequest("T1", "R1", 300, 1050, "EUR"))
    with pytest.raises(ChannelRejected):
        transformers.refund_fields(RefundRequest("T1", "R1", 0, 1050, "CNY"))


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"fund_change": "Y", "refund_fee": "3.00", "gmt_refund_pay": "2024-05-05 10:00:00"}, 300),
        ({"fund_change": "Y", "refund_fee": "10.50"}, 300),  # cumulative: covers this one
        ({"fund_change": "N", "refund_fee": "3.00"}, None),
        ({"fund_change": "N", "refund_fee": "0.00"}, None),
    ],
)
def test_fund_change_says_whether_this_call_moved_money(
    answer: dict[str, str], outcome: int | None
) -> None:
    refund = transformers.refund_moved_money({"code": "10000", **answer}, REFUND)
    if outcome is None:
        assert refund is None
        return
    assert refund is not None and refund.status is RefundStatus.SUCCEEDED
    assert (refund.refund_minor, refund.out_refund_no, refund.currency) == (outcome, "R1", "CNY")


@pytest.mark.parametrize(
    "answer",
    [
        {"fund_change": "maybe", "refund_fee": "3.00"},
        {"refund_fee": "3.00"},
        {"fund_change": "Y", "refund_fee": "2.99"},
        {"fund_change": "Y"},
    ],
)
def test_unreadable_refund_answers_are_errors(answer: dict[str, str]) -> None:
    with pytest.raises(ChannelError):
        transformers.refund_moved_money({"code": "10000", **answer}, REFUND)


def test_refund_query_answers() -> None:
    done = {
        "code": "10000",
        "out_request_no": "R1",
        "out_trade_no": "T1",
        "refund_amount": "3.00",
        "total_amount": "10.50",
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": "2024-05-05 10:00:00",
    }
    refund = transformers.refund_from_query(done, "R1", "T1")
    assert refund.status is RefundStatus.SUCCEEDED and refund.succeeded_at == NOW
    assert refund.refund_minor == 300
    pending = transformers.refund_from_query({"code": "10000", "msg": "Success"}, "R1", "T1")
    assert (pending.status, pending.refund_minor) == (RefundStatus.PENDING, 0)
    with pytest.raises(ChannelError, match="unknown refund_status"):
        transformers.refund_from_query(done | {"refund_status": "REFUND_FAIL"}, "R1", "T1")
    with pytest.raises(ChannelError, match="R2"):
        transformers.refund_from_query(done | {"out_request_no": "R2"}, "R1", "T1")


# --- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "sub_code", "error"),
    [
        ("20000", "ACQ.SYSTEM_ERROR", ChannelUnavailable),
        ("20000", "isp.unknow-error", ChannelUnavailable),
        ("40004", "ACQ.SYSTEM_ERROR", ChannelUnavailable),
        ("40004", "isp.bill_not_exist", AlipayRejected),
        ("40004", "ACQ.TRADE_NOT_EXIST", AlipayRejected),
        ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", AlipayRejected),
        ("40002", "isv.invalid-signature", AlipayRejected),
        ("40001", "isv.missing-method", AlipayRejected),
        ("40006", "isv.insufficient-isv-permissions", AlipayRejected),
        ("20001", "aop.invalid-auth-token", AlipayRejected),
        ("99999", "x", ChannelError),
        ("", "", ChannelError),
    ],
)
def test_failures_map_by_code(code: str, sub_code: str, error: type[ChannelError]) -> None:
    failure = transformers.failure("alipay.trade.x", {"code": code, "sub_code": sub_code})
    assert type(failure) is error
    assert failure.transient is (error is ChannelUnavailable)
    if isinstance(failure, AlipayRejected):
        assert (failure.alipay_code, failure.sub_code) == (code, sub_code)


# --- notification forms -------------------------------------------------------------------------
FORM = {
    "notify_type": "trade_status_sync",
    "notify_id": "n1",
    "app_id": "2021000000000001",
    "seller_id": "2088000000000009",
    "out_trade_no": "T1",
    "trade_no": "2024050522001400001234567890",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "10.50",
    "gmt_payment": "2024-05-05 10:00:00",
    "buyer_id": "2088000000000001",
    "subject": "商品 & 赠品",
    "sign_type": "RSA2",
    "sign": "c2lnbg==",
}


def test_a_form_body_reads_back_exactly() -> None:
    assert notifications.read_form(urlencode(FORM).encode()) == FORM


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=1&a=2",
        b"a=%FF",
        b"\xff=1",
        b"novalue",
        b"x=" + b"1" * notifications.NOTIFICATION_BYTES_MAX,
        "&".join(f"k{i}=v" for i in range(notifications.PARAMETERS_MAX + 1)).encode(),
    ],
)
def test_bodies_that_are_not_one_form_are_invalid(body: bytes) -> None:
    with pytest.raises(InvalidNotification):
        notifications.read_form(body)


def test_the_signature_is_split_off_a_copy() -> None:
    signed = notifications.split_signature(FORM)
    assert signed.signature == "c2lnbg==" and "sign" not in signed.params
    assert signed.params["sign_type"] == "RSA2" and FORM["sign"] == "c2lnbg=="
    with pytest.raises(InvalidNotification, match="no sign"):
        notifications.split_signature(FORM | {"sign": ""})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"app_id": "2021000000000002"}, "app_id"),
        ({"seller_id": "2088000000000008"}, "seller_id"),
        ({"notify_type": "trade_refund_sync"}, "notify_type"),
    ],
)
def test_notifications_for_someone_else_are_invalid(changes: dict[str, str], match: str) -> None:
    notifications.check_recipient(FORM, "2021000000000001", "2088000000000009")
    with pytest.raises(InvalidNotification, match=match):
        notifications.check_recipient(FORM | changes, "2021000000000001", "2088000000000009")


REFUND_FIELDS = {"out_biz_no": "R1", "refund_fee": "3.00", "gmt_refund": "2024-05-05 10:00:00.123"}
UNPAID = {k: v for k, v in FORM.items() if k not in ("gmt_payment", "buyer_id")}


@pytest.mark.parametrize(
    ("form", "status", "refund_no"),
    [
        (FORM, PaymentStatus.SUCCEEDED, None),
        (UNPAID | {"trade_status": "WAIT_BUYER_PAY"}, PaymentStatus.PENDING, None),
        (UNPAID | {"trade_status": "TRADE_CLOSED"}, PaymentStatus.CLOSED, None),
        (FORM | {"trade_status": "TRADE_FINISHED"}, PaymentStatus.SUCCEEDED, None),
        (FORM | REFUND_FIELDS, PaymentStatus.SUCCEEDED, "R1"),  # partly refunded
        (FORM | REFUND_FIELDS | {"trade_status": "TRADE_CLOSED"}, PaymentStatus.REFUNDED, "R1"),
        (UNPAID | REFUND_FIELDS | {"trade_status": "TRADE_CLOSED"}, PaymentStatus.REFUNDED, "R1"),
        (FORM | {"out_biz_no": "R1"}, PaymentStatus.SUCCEEDED, None),  # no refund_fee
    ],
)
def test_notification_forms_read_as_payments_and_refund_references(
    form: dict[str, str], status: PaymentStatus, refund_no: str | None
) -> None:
    payment = notifications.payment(form)
    assert (payment.status, payment.raw_status) == (status, form["trade_status"])
    assert (payment.amount_minor, payment.currency, payment.out_trade_no) == (1050, "CNY", "T1")
    assert notifications.refund_request_no(form) == refund_no
    assert notifications.notification_id(form) == "n1"


def test_a_notification_without_its_trade_fields_is_invalid() -> None:
    with pytest.raises(InvalidNotification, match="trade_status"):
        notifications.payment({k: v for k, v in FORM.items() if k != "trade_status"})
    with pytest.raises(ChannelError, match="total_amount"):
        notifications.payment(FORM | {"total_amount": "ten"})


# --- the bill ZIP -------------------------------------------------------------------------------
class _GbkName(zipfile.ZipInfo):
    """A member name stored as GBK without the UTF-8 flag, as Alipay writes them."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's hook
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


DETAIL = "#支付宝业务明细查询\r\n支付宝交易号,商户订单号\r\n2024\t,T1\t\r\n#交易合计：1笔\r\n"  # noqa: RUF001


def bill(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = _GbkName(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def test_the_detail_file_comes_back_as_utf8() -> None:
    archive = bill(
        {
            "20880000000000090156_20240505_业务明细.csv": DETAIL.encode("gbk"),
            "20880000000000090156_20240505_业务明细(汇总).csv": "合计".encode("gbk"),
        }
    )
    name, content = statement.detail_csv(archive, 10_000)
    assert name == "20880000000000090156_20240505_业务明细.csv"
    assert content == DETAIL.encode("utf-8")


@pytest.mark.parametrize(
    ("archive", "match"),
    [
        (b"not a zip", "not a readable ZIP"),
        (bill({"a_业务明细(汇总).csv": b"x"}), "expected one"),
        (bill({"a_业务明细.csv": b"x", "b_业务明细.csv": b"y"}), "expected one"),
        (bill({"a_业务明细.csv": b"\xff\xff"}), "not GBK"),
        (bill({"a_业务明细.csv": b"0" * 10_001}), "over 10000 bytes"),
    ],
)
def test_bad_bills_are_errors(archive: bytes, match: str) -> None:
    with pytest.raises(ChannelError, match=match):
        statement.detail_csv(archive, 10_000)


def test_bill_fields_ask_for_the_trade_bill_of_the_day() -> None:
    fields = statement.bill_fields(date(2024, 5, 5))
    assert fields == {"bill_type": "trade", "bill_date": "2024-05-05"}
    url = "https://x/y.zip"
    assert statement.bill_download_url({"bill_download_url": url}) == url
    with pytest.raises(ChannelError, match="bill_download_url"):
        statement.bill_download_url({"code": "10000"})
