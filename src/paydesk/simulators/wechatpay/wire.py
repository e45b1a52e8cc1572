"""WeChat Pay v3 wire formats: request bodies in, response and notification objects out.

Inbound, checked in field order and answered ``PARAM_ERROR`` naming the first bad field:

- prepay (``/v3/pay/transactions/{native,jsapi,app,h5}``): ``appid``, ``mchid`` (the signer),
  ``description`` (1-127 characters), ``out_trade_no`` (6-32 of ``[A-Za-z0-9_-|*]``),
  ``notify_url`` (http or https; WeChat itself wants https, loopback tests use http),
  ``amount.total`` (integer fen > 0), ``amount.currency`` (default and only value ``CNY``);
  JSAPI needs ``payer.openid``; H5 needs ``scene_info.payer_client_ip`` and
  ``scene_info.h5_info.type``; ``attach`` and ``time_expire`` (RFC 3339) are optional.
- refund (``/v3/refund/domestic/refunds``): ``out_refund_no``, ``transaction_id`` or
  ``out_trade_no``, ``amount.refund`` and ``amount.total`` (integer fen > 0, refund <= total),
  ``amount.currency`` (``CNY``); ``reason`` and ``notify_url`` optional.

Outbound, the field sets WeChat answers: a transaction (query answers and the
``TRANSACTION.SUCCESS`` resource) shows ``transaction_id``, ``trade_type``, ``bank_type``,
``payer`` and ``success_time`` only once a payment was attempted, as WeChat does for ``NOTPAY``
orders. Times are RFC 3339 in Beijing time (``2024-05-20T13:29:35+08:00``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from paydesk.simulators.wechatpay.errors import ParamError
from paydesk.simulators.wechatpay.state import (
    TRADE_STATE_DESC,
    Order,
    OrderRequest,
    Refund,
    RefundRequest,
    RefundStatus,
    TradeType,
)

CURRENCY = "CNY"
DESCRIPTION_CHARS_MAX = 127
ATTACH_CHARS_MAX = 128
URL_CHARS_MAX = 256
REASON_CHARS_MAX = 80
OPENID_CHARS_MAX = 128
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")

TRADE_TYPES = {
    "native": TradeType.NATIVE,
    "jsapi": TradeType.JSAPI,
    "app": TradeType.APP,
    "h5": TradeType.MWEB,
}

JsonObject = dict[str, Any]


def rfc3339(moment: datetime) -> str:
    """``2024-05-20T13:29:35+08:00``."""
    return moment.isoformat(timespec="seconds")


def canonical(kind: str, data: JsonObject) -> str:
    """A request's content in one spelling, to tell a replay from a conflicting reuse."""
    return kind + ":" + json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_object(body: bytes) -> JsonObject:
    """The request body as a JSON object."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParamError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParamError("the body must be a JSON object")
    return data


def _text(data: JsonObject, name: str, chars_max: int, *, where: str = "") -> str:
    value = data.get(name)
    label = where + name
    if not isinstance(value, str) or not value.strip():
        raise ParamError(f"{label} is required (a string)")
    if len(value) > chars_max:
        raise ParamError(f"{label} is longer than {chars_max} characters")
    return value


def _optional_text(data: JsonObject, name: str, chars_max: int) -> str | None:
    if data.get(name) is None:
        return None
    return _text(data, name, chars_max)


def _object(data: JsonObject, name: str) -> JsonObject:
    value = data.get(name)
    if not isinstance(value, dict):
        raise ParamError(f"{name} is required (an object)")
    return value


def _fen(data: JsonObject, name: str, where: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParamError(f"{where}{name} must be a positive integer (fen)")
    return value


def _currency(amount: JsonObject, *, required: bool) -> str:
    currency = amount.get("currency", None if required else CURRENCY)
    if currency != CURRENCY:
        raise ParamError(f"amount.currency must be {CURRENCY}")
    return CURRENCY


def _url(data: JsonObject, name: str) -> str:
    url = _text(data, name, URL_CHARS_MAX)
    if not url.startswith(("https://", "http://")):
        raise ParamError(f"{name} must be an http(s) URL")
    return url


def parse_order_request(kind: str, body: bytes, signer: str) -> OrderRequest:
    """A prepay request of ``kind`` (native, jsapi, app, h5) from merchant ``signer``."""
    trade_type = TRADE_TYPES[kind]
    data = json_object(body)
    appid = _text(data, "appid", 32)
    if _text(data, "mchid", 32) != signer:
        raise ParamError("mchid is not the merchant that signed the request")
    description = _text(data, "description", DESCRIPTION_CHARS_MAX)
    out_trade_no = _text(data, "out_trade_no", 32)
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise ParamError("out_trade_no must be 6 to 32 of A-Z a-z 0-9 _ - | *")
    notify_url = _url(data, "notify_url")
    amount = _object(data, "amount")
    total = _fen(amount, "total", "amount.")
    currency = _currency(amount, required=False)
    openid = None
    if trade_type is TradeType.JSAPI:
        openid = _text(_object(data, "payer"), "openid", OPENID_CHARS_MAX, where="payer.")
    if trade_type is TradeType.MWEB:
        scene = _object(data, "scene_info")
        _text(scene, "payer_client_ip", 45, where="scene_info.")
        h5_info = scene.get("h5_info")
        if not isinstance(h5_info, dict):
            raise ParamError("scene_info.h5_info is required (an object)")
        _text(h5_info, "type", 32, where="scene_info.h5_info.")
    time_expire = None
    if data.get("time_expire") is not None:
        raw = _text(data, "time_expire", 64)
        try:
            time_expire = datetime.fromisoformat(raw)
        except ValueError:
            raise ParamError(
                "time_expire must be RFC 3339, e.g. 2024-06-08T10:34:56+08:00"
            ) from None
        if time_expire.tzinfo is None:
            raise ParamError("time_expire needs a time zone offset")
    return OrderRequest(
        trade_type=trade_type,
        appid=appid,
        mchid=signer,
        description=description,
        out_trade_no=out_trade_no,
        notify_url=notify_url,
        amount_total=total,
        currency=currency,
        payer_openid=openid,
        attach=_optional_text(data, "attach", ATTACH_CHARS_MAX),
        time_expire=time_expire,
        fingerprint=canonical(kind, data),
    )


def parse_refund_request(body: bytes) -> RefundRequest:
    """A refund request (the merchant is the signer; v3 refunds carry no ``mchid``)."""
    data = json_object(body)
    out_refund_no = _text(data, "out_refund_no", 64)
    if not _OUT_REFUND_NO.fullmatch(out_refund_no):
        raise ParamError("out_refund_no must be 1 to 64 of A-Z a-z 0-9 _ - | * @")
    transaction_id = _optional_text(data, "transaction_id", 32)
    out_trade_no = None if transaction_id else _optional_text(data, "out_trade_no", 32)
    if transaction_id is None and out_trade_no is None:
        raise ParamError("transaction_id or out_trade_no is required")
    amount = _object(data, "amount")
    refund = _fen(amount, "refund", "amount.")
    total = _fen(amount, "total", "amount.")
    if refund > total:
        raise ParamError("amount.refund is more than amount.total")
    currency = _currency(amount, required=True)
    notify_url = _url(data, "notify_url") if data.get("notify_url") is not None else None
    return RefundRequest(
        out_refund_no=out_refund_no,
        out_trade_no=out_trade_no,
        transaction_id=transaction_id,
        amount_refund=refund,
        amount_total=total,
        currency=currency,
        reason=_optional_text(data, "reason", REASON_CHARS_MAX),
        notify_url=notify_url,
        fingerprint=canonical("refund", data),
    )


def transaction_view(order: Order) -> JsonObject:
    """A transaction as queries answer it and ``TRANSACTION.SUCCESS`` carries it."""
    request = order.request
    amount: JsonObject = {
        "total": request.amount_total,
        "currency": request.currency,
        "payer_currency": request.currency,
    }
    view: JsonObject = {
        "appid": request.appid,
        "mchid": request.mchid,
        "out_trade_no": request.out_trade_no,
        "trade_state": str(order.trade_state),
        "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
        "amount": amount,
        "promotion_detail": [],
    }
    if request.attach is not None:
        view["attach"] = request.attach
    if order.payer_openid is not None:
        view["payer"] = {"openid": order.payer_openid}
    if order.transaction_id is not None:
        view["transaction_id"] = order.transaction_id
        view["trade_type"] = str(request.trade_type)
        view["bank_type"] = order.bank_type
        amount["payer_total"] = request.amount_total
    if order.success_time is not None:
        view["success_time"] = rfc3339(order.success_time)
    return view


def _refund_amount(refund: Refund) -> JsonObject:
    request = refund.request
    return {
        "total": request.amount_total,
        "refund": request.amount_refund,
        "payer_total": request.amount_total,
        "payer_refund": request.amount_refund,
    }


def refund_view(refund: Refund) -> JsonObject:
    """A refund as the refund and refund-query calls answer it."""
    request = refund.request
    amount = _refund_amount(refund) | {
        "settlement_total": request.amount_total,
        "settlement_refund": request.amount_refund,
        "discount_refund": 0,
        "refund_fee": 0,
        "currency": request.currency,
    }
    view: JsonObject = {
        "refund_id": refund.refund_id,
        "out_refund_no": request.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(refund.create_time),
        "status": str(refund.status),
        "funds_account": "AVAILABLE",
        "amount": amount,
        "promotion_detail": [],
    }
    if refund.success_time is not None:
        view["success_time"] = rfc3339(refund.success_time)
    return view


def refund_resource(refund: Refund) -> JsonObject:
    """The decrypted resource of a ``REFUND.*`` notification."""
    resource: JsonObject = {
        "mchid": refund.mchid,
        "out_trade_no": refund.out_trade_no,
        "transaction_id": refund.transaction_id,
        "out_refund_no": refund.request.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": str(refund.status),
        "user_received_account": "支付用户零钱",
        "amount": _refund_amount(refund),
    }
    if refund.success_time is not None:
        resource["success_time"] = rfc3339(refund.success_time)
    return resource


REFUND_EVENTS = {
    RefundStatus.SUCCESS: ("REFUND.SUCCESS", "退款成功"),
    RefundStatus.CLOSED: ("REFUND.CLOSED", "退款关闭"),
    RefundStatus.ABNORMAL: ("REFUND.ABNORMAL", "退款异常"),
}
"""Each final refund status, as the event type and summary of its notification."""
