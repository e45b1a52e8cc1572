"""The WeChat Pay transformers, table-tested: wire dicts in, our channel types out, and back."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelRejected,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.wechatpay import WeChatPayConfig, transformers, wire
from paydesk.channels.wechatpay.transformers import TradeType

TRANSACTION: dict[str, Any] = {
    "appid": "wxd678efh567hg6787",
    "mchid": "1230000109",
    "out_trade_no": "P1217752501201407033233368018",
    "transaction_id": "1217752501201407033233368018",
    "trade_type": "NATIVE",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "CMC",
    "success_time": "2024-05-20T13:29:35+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1234, "payer_total": 1200, "currency": "CNY", "payer_currency": "CNY"},
}
REFUND: dict[str, Any] = {
    "refund_id": "50000000382019052709732678859",
    "out_refund_no": "R1217752501201407033233368018",
    "transaction_id": "1217752501201407033233368018",
    "out_trade_no": "P1217752501201407033233368018",
    "status": "SUCCESS",
    "success_time": "2024-05-20T13:40:00+08:00",
    "amount": {"total": 1234, "refund": 300, "payer_refund": 300, "currency": "CNY"},
}


def request(method: Method = Method.WECHAT_NATIVE, **changes: Any) -> PaymentRequest:
    base = PaymentRequest(
        out_trade_no="P20240520000001",
        amount_minor=1234,
        currency="CNY",
        subject="Gems 宝石 100",
        method=method,
        notify_url="https://shop.example/notify",
        expires_at=datetime(2024, 5, 20, 6, 0, tzinfo=UTC),
        payer_id="o_payer" if method is Method.WECHAT_JSAPI else None,
        client_ip="203.0.113.7",
    )
    return replace(base, **changes)


def without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


# --- statuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("trade_state", "status"),
    [
        ("SUCCESS", PaymentStatus.SUCCEEDED),
        ("NOTPAY", PaymentStatus.PENDING),
        ("USERPAYING", PaymentStatus.PENDING),
        ("CLOSED", PaymentStatus.CLOSED),
        ("REVOKED", PaymentStatus.CLOSED),
        ("PAYERROR", PaymentStatus.FAILED),
        ("REFUND", PaymentStatus.REFUNDED),
    ],
)
def test_every_trade_state(trade_state: str, status: PaymentStatus) -> None:
    payment = transformers.channel_payment({**TRANSACTION, "trade_state": trade_state})
    assert (payment.status, payment.raw_status) == (status, trade_state)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("PROCESSING", RefundStatus.PENDING),
        ("SUCCESS", RefundStatus.SUCCEEDED),
        ("CLOSED", RefundStatus.FAILED),
        ("ABNORMAL", RefundStatus.FAILED),
    ],
)
def test_every_refund_status(raw: str, status: RefundStatus) -> None:
    refund = transformers.channel_refund({**REFUND, "status": raw})
    assert (refund.status, refund.raw_status) == (status, raw)


def test_the_tables_cover_what_wechat_documents() -> None:
    documented = {"SUCCESS", "NOTPAY", "USERPAYING", "CLOSED", "REVOKED", "PAYERROR", "REFUND"}
    assert set(transformers.TRADE_STATES) == documented
    assert set(transformers.REFUND_STATUSES) == {"PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"}


@pytest.mark.parametrize("raw", ["", "success", "ACCEPT", "REFUNDED"])
def test_unknown_statuses_are_errors(raw: str) -> None:
    with pytest.raises(ChannelError):
        transformers.channel_payment({**TRANSACTION, "trade_state": raw})
    with pytest.raises(ChannelError):
        transformers.channel_refund({**REFUND, "status": raw})


# --- payments from the wire ---------------------------------------------------------------------
def test_a_transaction_as_our_payment() -> None:
    payment = transformers.channel_payment(TRANSACTION)
    assert payment.out_trade_no == TRANSACTION["out_trade_no"]
    assert (payment.amount_minor, payment.currency) == (1234, "CNY")  # the order total
    assert payment.channel_trade_no == TRANSACTION["transaction_id"]
    assert payment.payer_id == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    assert payment.paid_at == datetime(2024, 5, 20, 5, 29, 35, tzinfo=UTC)


def test_an_unpaid_transaction_has_no_payer_or_time() -> None:
    unpaid = {k: v for k, v in TRANSACTION.items() if k not in {"transaction_id", "payer"}}
    unpaid = {**without(unpaid, "success_time"), "trade_state": "NOTPAY"}
    payment = transformers.channel_payment(unpaid)
    assert (payment.channel_trade_no, payment.payer_id, payment.paid_at) == (None, None, None)


def test_the_echoed_currency_is_returned_as_is() -> None:
    usd = {**TRANSACTION, "amount": {"total": 99, "currency": "USD"}}
    assert transformers.channel_payment(usd).currency == "USD"
    no_currency = {**TRANSACTION, "amount": {"total": 99}}
    assert transformers.channel_payment(no_currency).currency == "CNY"


@pytest.mark.parametrize(
    "broken",
    [
        without(TRANSACTION, "trade_state"),
        without(TRANSACTION, "out_trade_no"),
        without(TRANSACTION, "amount"),
        without(TRANSACTION, "amount", "total"),
        {**TRANSACTION, "amount": {"total": "1234"}},
        {**TRANSACTION, "amount": {"total": 12.34}},
        {**TRANSACTION, "amount": {"total": True}},
        {**TRANSACTION, "amount": {"total": -1}},
        {**TRANSACTION, "amount": {"total": 1, "currency": 156}},
        {**TRANSACTION, "success_time": "yesterday"},
        {**TRANSACTION, "success_time": "2024-05-20T13:29:35"},
        {**TRANSACTION, "trade_state": 1},
    ],
)
def test_broken_transactions_are_errors(broken: dict[str, Any]) -> None:
    with pytest.raises(ChannelError):
        transformers.channel_payment(broken)


@pytest.mark.parametrize(
    "broken",
    [
        without(REFUND, "status"),
        without(REFUND, "out_refund_no"),
        without(REFUND, "amount"),
        without(REFUND, "amount", "refund"),
        {**REFUND, "amount": {"refund": "300"}},
    ],
)
def test_broken_refunds_are_errors(broken: dict[str, Any]) -> None:
    with pytest.raises(ChannelError):
        transformers.channel_refund(broken)


def test_a_refund_as_our_refund() -> None:
    refund = transformers.channel_refund(REFUND)
    assert (refund.out_refund_no, refund.out_trade_no) == (
        REFUND["out_refund_no"],
        REFUND["out_trade_no"],
    )
    assert (refund.refund_minor, refund.currency) == (300, "CNY")
    assert refund.channel_refund_no == REFUND["refund_id"]
    assert refund.succeeded_at == datetime(2024, 5, 20, 5, 40, tzinfo=UTC)


# --- payments to the wire -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "trade_type"),
    [
        (Method.WECHAT_NATIVE, TradeType.NATIVE),
        (Method.WECHAT_JSAPI, TradeType.JSAPI),
        (Method.WECHAT_APP, TradeType.APP),
        (Method.WECHAT_H5, TradeType.H5),
    ],
)
def test_prepay_orders(method: Method, trade_type: TradeType) -> None:
    order = transformers.prepay_order(request(method))
    assert order.trade_type is trade_type
    fields = order.fields
    assert fields["amount"] == {"total": 1234, "currency": "CNY"}
    assert fields["time_expire"] == "2024-05-20T14:00:00+08:00"
    assert (fields["description"], fields["notify_url"]) == (
        "Gems 宝石 100",
        "https://shop.example/notify",
    )
    assert fields["scene_info"]["payer_client_ip"] == "203.0.113.7"
    assert ("payer" in fields) is (method is Method.WECHAT_JSAPI)
    assert ("h5_info" in fields["scene_info"]) is (method is Method.WECHAT_H5)


def test_a_naive_expiry_is_utc() -> None:
    naive = request(expires_at=datetime(2024, 5, 20, 6, 0))
    assert transformers.prepay_order(naive).fields["time_expire"] == "2024-05-20T14:00:00+08:00"


@pytest.mark.parametrize("method", [m for m in Method if not m.name.startswith("WECHAT_")])
def test_other_methods_are_unsupported(method: Method) -> None:
    with pytest.raises(UnsupportedFlow):
        transformers.prepay_order(request(method))


@pytest.mark.parametrize(
    ("changes", "error", "param"),
    [
        ({"currency": "USD"}, UnsupportedFlow, None),
        ({"amount_minor": 0}, ChannelRejected, "amount_minor"),
        ({"amount_minor": -5}, ChannelRejected, "amount_minor"),
        ({"subject": " "}, ChannelRejected, "subject"),
        ({"subject": "x" * 128}, ChannelRejected, "subject"),
        ({"method": Method.WECHAT_JSAPI, "payer_id": None}, ChannelRejected, "payer_id"),
        ({"method": Method.WECHAT_H5, "client_ip": None}, ChannelRejected, "client_ip"),
    ],
)
def test_requests_wechat_would_refuse(
    changes: dict[str, Any], error: type[ChannelError], param: str | None
) -> None:
    with pytest.raises(error) as refused:
        transformers.prepay_order(request(**changes))
    assert refused.value.param == param


def test_refund_fields() -> None:
    refund = RefundRequest("P1", "R1", 300, 1234, "CNY", reason="", notify_url=None)
    assert transformers.refund_fields(refund) == {
        "out_refund_no": "R1",
        "out_trade_no": "P1",
        "amount": {"refund": 300, "total": 1234, "currency": "CNY"},
    }
    full = replace(refund, reason="broken", notify_url="https://shop.example/n")
    fields = transformers.refund_fields(full)
    assert (fields["reason"], fields["notify_url"]) == ("broken", "https://shop.example/n")
    with pytest.raises(UnsupportedFlow):
        transformers.refund_fields(replace(refund, currency="HKD"))
    with pytest.raises(ChannelRejected):
        transformers.refund_fields(replace(refund, refund_minor=0))


# --- what the payer gets ------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.signed: list[list[str]] = []

    def __call__(self, lines: Sequence[str]) -> str:
        self.signed.append(list(lines))
        return "SIG"


def action(trade_type: TradeType, answer: dict[str, str], sign: Recorder, **extra: Any) -> Any:
    identity = {"appid": "wxAPP", "mchid": "1900", "timestamp": "1700000000", "nonce": "N" * 32}
    return transformers.payment_action(trade_type, answer, sign=sign, **identity, **extra)


def test_payment_actions() -> None:
    sign = Recorder()
    native = action(TradeType.NATIVE, {"code_url": "weixin://wxpay/bizpayurl?pr=abc"}, sign)
    assert (native.kind, native.qr_code) == (ActionKind.QR_CODE, "weixin://wxpay/bizpayurl?pr=abc")
    h5_url = {"h5_url": "https://wx.tenpay.com/x?prepay_id=wx1"}
    h5 = action(TradeType.H5, h5_url, sign, return_url="https://shop.example/done")
    assert h5.kind is ActionKind.REDIRECT
    assert h5.redirect_url == (
        "https://wx.tenpay.com/x?prepay_id=wx1&redirect_url=https%3A%2F%2Fshop.example%2Fdone"
    )
    jsapi = action(TradeType.JSAPI, {"prepay_id": "wx42"}, sign)
    assert jsapi.kind is ActionKind.SDK_PARAMS
    assert dict(jsapi.sdk_params) == {
        "appId": "wxAPP",
        "timeStamp": "1700000000",
        "nonceStr": "N" * 32,
        "package": "prepay_id=wx42",
        "signType": "RSA",
        "paySign": "SIG",
    }
    app = action(TradeType.APP, {"prepay_id": "wx43"}, sign)
    assert dict(app.sdk_params) == {
        "appid": "wxAPP",
        "partnerid": "1900",
        "prepayid": "wx43",
        "package": "Sign=WXPay",
        "noncestr": "N" * 32,
        "timestamp": "1700000000",
        "sign": "SIG",
    }
    assert sign.signed == [
        ["wxAPP", "1700000000", "N" * 32, "prepay_id=wx42"],
        ["wxAPP", "1700000000", "N" * 32, "wx43"],
    ]


@pytest.mark.parametrize(
    ("trade_type", "answer"),
    [
        (TradeType.NATIVE, {}),
        (TradeType.H5, {"code_url": "x"}),
        (TradeType.JSAPI, {"prepay_id": ""}),
        (TradeType.APP, {"h5_url": "x"}),
    ],
)
def test_prepay_answers_missing_their_field_are_errors(
    trade_type: TradeType, answer: dict[str, str]
) -> None:
    with pytest.raises(ChannelError):
        action(trade_type, answer, Recorder())


# --- notifications ------------------------------------------------------------------------------
def test_notifications() -> None:
    paid = {"id": "EV-1", "event_type": "TRANSACTION.SUCCESS", "resource": TRANSACTION}
    note = transformers.notification(paid, "1230000109")
    assert note.notification_id == "EV-1" and note.refund is None
    assert note.payment == transformers.channel_payment(TRANSACTION)

    resource = {k: v for k, v in REFUND.items() if k != "status"}
    resource |= {"mchid": "1230000109", "refund_status": "ABNORMAL"}
    resource["amount"] = {"total": 1234, "refund": 300, "payer_total": 1234, "payer_refund": 300}
    refunded = {"id": "EV-2", "event_type": "REFUND.ABNORMAL", "resource": resource}
    note = transformers.notification(refunded, "1230000109")
    assert note.payment is None and note.refund is not None
    assert (note.refund.status, note.refund.currency) == (RefundStatus.FAILED, "CNY")


@pytest.mark.parametrize(
    "event",
    [
        {"event_type": "TRANSACTION.CLOSED", "resource": TRANSACTION},
        {"event_type": "TRANSACTION.SUCCESS"},
        {"resource": TRANSACTION},
        {"event_type": "TRANSACTION.SUCCESS", "resource": without(TRANSACTION, "amount")},
    ],
)
def test_notifications_we_cannot_read_are_errors(event: dict[str, Any]) -> None:
    with pytest.raises(ChannelError):
        transformers.notification(event, "1230000109")


def test_a_notification_for_another_merchant_is_an_error() -> None:
    event = {"event_type": "TRANSACTION.SUCCESS", "resource": TRANSACTION}
    with pytest.raises(ChannelError, match="merchant"):
        transformers.notification(event, "1900000001")
    assert not issubclass(ChannelError, InvalidNotification)  # the connector narrows it


# --- errors and statements ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status_code", "body", "error", "text"),
    [
        (500, '{"code":"SYSTEM_ERROR","message":"系统错误"}', ChannelUnavailable, "SYSTEM_ERROR"),
        (502, "<html>bad gateway</html>", ChannelUnavailable, "(no code)"),
        (429, '{"code":"FREQUENCY_LIMITED","message":"slow down"}', ChannelUnavailable, "slow"),
        (400, '{"code":"PARAM_ERROR","message":"bad"}', ChannelRejected, "PARAM_ERROR: bad"),
        (404, b'{"code":"ORDER_NOT_EXIST","message":"none"}', PaymentNotFound, "ORDER_NOT_EXIST"),
        (404, '{"code":"RESOURCE_NOT_EXISTS","message":"no"}', ChannelRejected, "RESOURCE_NOT"),
        (401, "", ChannelRejected, "HTTP 401"),
        (302, "", ChannelError, "HTTP 302"),
    ],
)
def test_answer_errors(
    status_code: int, body: str | bytes, error: type[ChannelError], text: str
) -> None:
    mapped = wire.answer_error("query payment", status_code, body)
    assert type(mapped) is error and text in mapped.message
    assert mapped.message.startswith("WeChat Pay query payment: HTTP")


def test_statement_location() -> None:
    answer = {"hash_type": "SHA1", "hash_value": "AB12", "download_url": "https://x/v3/b?t=1"}
    assert transformers.statement_location(answer).hash_value == "ab12"
    for broken in ({**answer, "hash_type": "MD5"}, without(answer, "download_url")):
        with pytest.raises(ChannelError):
            transformers.statement_location(broken)


def test_json_answers_and_numbers() -> None:
    assert wire.json_answer('{"a": 1}', "x") == {"a": 1}
    for bad in ("[1]", "nope", b"\xff"):
        with pytest.raises(ChannelError):
            wire.json_answer(bad, "x")
    assert wire.checked_number("P1234_-|*", wire.OUT_TRADE_NO, "out_trade_no") == "P1234_-|*"
    for number in ("short", "x" * 33, "P12345/../", "P123456?a=1", "P 123456"):
        with pytest.raises(ChannelRejected):
            wire.checked_number(number, wire.OUT_TRADE_NO, "out_trade_no")
    assert wire.checked_number("R@1", wire.OUT_REFUND_NO, "out_refund_no") == "R@1"


# --- the account --------------------------------------------------------------------------------
def test_the_config_never_shows_its_secrets() -> None:
    config = WeChatPayConfig(
        mchid="1900",
        appid="wxAPP",
        merchant_private_key_pem="-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-",
        merchant_cert_serial_no="ABC",
        platform_public_key_pem="-----BEGIN PUBLIC KEY-----\nPUB\n-----END PUBLIC KEY-----",
        public_key_id="PUB_KEY_ID_1",
        apiv3_key="K" * 32,
    )
    for shown in (repr(config), str(config), f"{config}"):
        assert "SECRETKEY" not in shown and "K" * 32 not in shown and "1900" in shown
    assert config.gateway == "https://api.mch.weixin.qq.com"
    for bad in (
        {"apiv3_key": "short"},
        {"timeout_s": 0},
        {"gateway_url": "ftp://x"},
        {"mchid": ""},
    ):
        with pytest.raises(ValueError):
            replace(config, **bad)
