"""WeChat Pay API v3 wire formats and their mapping to Paydesk's channel types: pure functions.

Nothing here talks to the network or the SDK; the connector hands these functions plain values
(decoded JSON, a signer, a timestamp) and gets our types back. Rules followed:

- **Methods** (base.py ``Method``): WECHAT_NATIVE → ``/v3/pay/transactions/native`` answering
  ``code_url`` (a QR code); WECHAT_JSAPI → ``jsapi`` answering ``prepay_id``, turned into the
  JS bridge's ``appId, timeStamp, nonceStr, package="prepay_id=...", signType="RSA",
  paySign``, where ``paySign`` signs ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``;
  WECHAT_APP → ``app`` answering ``prepay_id``, turned into the app SDK's ``appid, partnerid,
  prepayid, package="Sign=WXPay", noncestr, timestamp, sign``, where ``sign`` signs
  ``appid\\ntimestamp\\nnoncestr\\nprepayid\\n``; WECHAT_H5 → ``h5`` answering ``h5_url`` (a
  redirect; ``return_url`` is appended as ``redirect_url``, as WeChat documents). Any other
  method raises :class:`UnsupportedFlow` (STYLE.md: an unsupported flow fails loudly).
- **Money**: the wire's ``amount.total`` / ``amount.refund`` are integer fen, which *are* CNY
  minor units (ISO 4217 exponent 2), so no conversion happens. Domestic v3 takes CNY only: a
  request in another currency raises :class:`UnsupportedFlow` before any call. An answer's
  currency is ``amount.currency`` when the wire carries it (queries, refunds), else CNY (refund
  notifications carry none). The echoed amount is ``amount.total`` (the order amount, not the
  payer's share after coupons), returned as-is for the caller to check (STYLE.md).
- **Payment statuses** (``trade_state``), exhaustively: SUCCESS → SUCCEEDED; NOTPAY,
  USERPAYING → PENDING; CLOSED, REVOKED → CLOSED; PAYERROR → FAILED; REFUND → REFUNDED.
  Anything else is a :class:`ChannelError`, never a guess (base.py).
- **Refund statuses** (``status`` in answers, ``refund_status`` in notifications): PROCESSING
  → PENDING; SUCCESS → SUCCEEDED; CLOSED, ABNORMAL → FAILED.
- **Notifications** (after the SDK verified and decrypted them): ``TRANSACTION.SUCCESS`` → a
  payment; ``REFUND.SUCCESS|ABNORMAL|CLOSED`` → a refund; the body's ``id`` is the
  notification id.
- A missing or ill-typed field in an answer is a :class:`ChannelError` naming the field;
  field access and the error answers' mapping are in :mod:`.wire`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelRejected,
    Method,
    Notification,
    PaymentAction,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.wechatpay import wire

JsonObject = wire.JsonObject
Signer = Callable[[Sequence[str]], str]
"""Signs the lines of a bridge message (``line\\n`` each) with the merchant key, base64."""

CURRENCY = wire.CURRENCY
DESCRIPTION_CHARS_MAX = 127
H5_SCENE_TYPE = "Wap"
APP_PACKAGE = "Sign=WXPay"
JSAPI_SIGN_TYPE = "RSA"
STATEMENT_HASH_TYPE = "SHA1"


class TradeType(StrEnum):
    """WeChat's prepay APIs, by the last segment of ``/v3/pay/transactions/{...}``."""

    NATIVE = "native"
    JSAPI = "jsapi"
    APP = "app"
    H5 = "h5"


TRADE_TYPES: Mapping[Method, TradeType] = {
    Method.WECHAT_NATIVE: TradeType.NATIVE,
    Method.WECHAT_JSAPI: TradeType.JSAPI,
    Method.WECHAT_APP: TradeType.APP,
    Method.WECHAT_H5: TradeType.H5,
}

TRADE_STATES: Mapping[str, PaymentStatus] = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
    "CLOSED": PaymentStatus.CLOSED,
    "REVOKED": PaymentStatus.CLOSED,
    "PAYERROR": PaymentStatus.FAILED,
    "REFUND": PaymentStatus.REFUNDED,
}
"""Every ``trade_state`` WeChat Pay v3 documents."""

REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "PROCESSING": RefundStatus.PENDING,
    "SUCCESS": RefundStatus.SUCCEEDED,
    "CLOSED": RefundStatus.FAILED,
    "ABNORMAL": RefundStatus.FAILED,
}
"""Every refund ``status`` WeChat Pay v3 documents."""

PAYMENT_EVENTS = frozenset({"TRANSACTION.SUCCESS"})
REFUND_EVENTS = frozenset({"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"})


@dataclass(frozen=True, slots=True)
class PrepayOrder:
    """A prepay call: which API, and the SDK's ``pay()`` keyword arguments."""

    trade_type: TradeType
    fields: JsonObject


@dataclass(frozen=True, slots=True)
class StatementLocation:
    """A trade bill's answer: where to download it and the digest of the plain file."""

    hash_type: str
    hash_value: str
    download_url: str


# --- payments -----------------------------------------------------------------------------------
def trade_type_for(method: Method) -> TradeType:
    """The prepay API of ``method``; :class:`UnsupportedFlow` for a non-WeChat method."""
    try:
        return TRADE_TYPES[method]
    except KeyError:
        raise UnsupportedFlow(f"WeChat Pay does not offer the method {method.value}") from None


def check_cny(currency: str, amount_minor: int, param: str) -> None:
    """Domestic v3 takes positive CNY amounts only."""
    if currency != CURRENCY:
        raise UnsupportedFlow(f"WeChat Pay (domestic API v3) takes {CURRENCY} only, not {currency}")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ChannelRejected(f"{param} must be a positive number of fen", param=param)


def prepay_order(request: PaymentRequest) -> PrepayOrder:
    """The prepay call for ``request`` (SDK ``pay()`` keywords, ``pay_type`` excepted)."""
    trade_type = trade_type_for(request.method)
    check_cny(request.currency, request.amount_minor, "amount_minor")
    if not request.subject.strip() or len(request.subject) > DESCRIPTION_CHARS_MAX:
        raise ChannelRejected(
            f"subject must be 1 to {DESCRIPTION_CHARS_MAX} characters", param="subject"
        )
    fields: JsonObject = {
        "description": request.subject,
        "out_trade_no": request.out_trade_no,
        "amount": {"total": request.amount_minor, "currency": CURRENCY},
        "notify_url": request.notify_url,
        "time_expire": wire.rfc3339_beijing(request.expires_at),
    }
    if trade_type is TradeType.JSAPI:
        if not request.payer_id:
            raise ChannelRejected("WECHAT_JSAPI needs payer_id (the openid)", param="payer_id")
        fields["payer"] = {"openid": request.payer_id}
    scene: JsonObject = {}
    if request.client_ip:
        scene["payer_client_ip"] = request.client_ip
    if trade_type is TradeType.H5:
        if not request.client_ip:
            raise ChannelRejected("WECHAT_H5 needs client_ip", param="client_ip")
        scene["h5_info"] = {"type": H5_SCENE_TYPE}
    if scene:
        fields["scene_info"] = scene
    return PrepayOrder(trade_type, fields)


def jsapi_bridge_params(
    appid: str, prepay_id: str, timestamp: str, nonce: str, sign: Signer
) -> dict[str, str]:
    """The JS bridge's ``getBrandWCPayRequest`` (or mini program ``wx.requestPayment``)."""
    package = f"prepay_id={prepay_id}"
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": JSAPI_SIGN_TYPE,
        "paySign": sign([appid, timestamp, nonce, package]),
    }


def app_sdk_params(
    appid: str, mchid: str, prepay_id: str, timestamp: str, nonce: str, sign: Signer
) -> dict[str, str]:
    """The parameters of the app SDK's ``PayReq``."""
    return {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": prepay_id,
        "package": APP_PACKAGE,
        "noncestr": nonce,
        "timestamp": timestamp,
        "sign": sign([appid, timestamp, nonce, prepay_id]),
    }


def with_redirect(h5_url: str, return_url: str | None) -> str:
    """``h5_url`` with ``redirect_url`` appended, as WeChat documents for H5."""
    if not return_url:
        return h5_url
    joiner = "&" if "?" in h5_url else "?"
    return f"{h5_url}{joiner}redirect_url={quote(return_url, safe='')}"


def payment_action(
    trade_type: TradeType,
    answer: Mapping[str, Any],
    *,
    appid: str,
    mchid: str,
    timestamp: str,
    nonce: str,
    sign: Signer,
    return_url: str | None = None,
) -> PaymentAction:
    """What the payer needs, from a prepay answer."""
    where = f"{trade_type.value} prepay"
    if trade_type is TradeType.NATIVE:
        return PaymentAction(ActionKind.QR_CODE, qr_code=wire.text(answer, "code_url", where))
    if trade_type is TradeType.H5:
        url = with_redirect(wire.text(answer, "h5_url", where), return_url)
        return PaymentAction(ActionKind.REDIRECT, redirect_url=url)
    prepay_id = wire.text(answer, "prepay_id", where)
    if trade_type is TradeType.JSAPI:
        params = jsapi_bridge_params(appid, prepay_id, timestamp, nonce, sign)
    else:
        params = app_sdk_params(appid, mchid, prepay_id, timestamp, nonce, sign)
    return PaymentAction(ActionKind.SDK_PARAMS, sdk_params=params)


def payment_status(trade_state: str) -> PaymentStatus:
    """Our status for a ``trade_state``; :class:`ChannelError` for an undocumented one."""
    if trade_state not in TRADE_STATES:
        raise ChannelError(f"WeChat Pay reported an unknown trade_state {trade_state!r}")
    return TRADE_STATES[trade_state]


def channel_payment(transaction: Mapping[str, Any]) -> ChannelPayment:
    """A transaction (query answer or ``TRANSACTION.SUCCESS`` resource) as our payment."""
    where = "transaction"
    raw_status = wire.text(transaction, "trade_state", where)
    amount = wire.json_object(transaction, "amount", where)
    payer = transaction.get("payer")
    return ChannelPayment(
        out_trade_no=wire.text(transaction, "out_trade_no", where),
        status=payment_status(raw_status),
        amount_minor=wire.fen(amount, "total", where),
        currency=wire.currency_of(amount),
        channel_trade_no=wire.optional_text(transaction, "transaction_id"),
        paid_at=wire.moment_of(transaction, "success_time", where),
        payer_id=wire.optional_text(payer, "openid") if isinstance(payer, dict) else None,
        raw_status=raw_status,
    )


# --- refunds ------------------------------------------------------------------------------------
def refund_fields(request: RefundRequest) -> JsonObject:
    """The SDK ``refund()`` keywords for ``request``."""
    check_cny(request.currency, request.refund_minor, "refund_minor")
    check_cny(request.currency, request.total_minor, "total_minor")
    fields: JsonObject = {
        "out_refund_no": request.out_refund_no,
        "out_trade_no": request.out_trade_no,
        "amount": {
            "refund": request.refund_minor,
            "total": request.total_minor,
            "currency": CURRENCY,
        },
    }
    if request.reason:
        fields["reason"] = request.reason
    if request.notify_url:
        fields["notify_url"] = request.notify_url
    return fields


def refund_status(raw: str) -> RefundStatus:
    """Our status for a refund ``status``; :class:`ChannelError` for an undocumented one."""
    if raw not in REFUND_STATUSES:
        raise ChannelError(f"WeChat Pay reported an unknown refund status {raw!r}")
    return REFUND_STATUSES[raw]


def channel_refund(refund: Mapping[str, Any]) -> ChannelRefund:
    """A refund (refund or refund-query answer, or ``REFUND.*`` resource) as our refund."""
    where = "refund"
    status_name = "status" if "status" in refund else "refund_status"
    raw_status = wire.text(refund, status_name, where)
    amount = wire.json_object(refund, "amount", where)
    return ChannelRefund(
        out_refund_no=wire.text(refund, "out_refund_no", where),
        status=refund_status(raw_status),
        refund_minor=wire.fen(amount, "refund", where),
        currency=wire.currency_of(amount),
        out_trade_no=wire.optional_text(refund, "out_trade_no"),
        channel_refund_no=wire.optional_text(refund, "refund_id"),
        succeeded_at=wire.moment_of(refund, "success_time", where),
        raw_status=raw_status,
    )


# --- notifications ------------------------------------------------------------------------------
def notification(event: Mapping[str, Any], mchid: str) -> Notification:
    """A notification the SDK verified and decrypted (``resource`` is the plaintext object)."""
    where = "notification"
    event_type = wire.text(event, "event_type", where)
    resource = wire.json_object(event, "resource", where)
    owner = resource.get("mchid")
    if owner is not None and owner != mchid:
        raise ChannelError(f"WeChat Pay {where}: it is for merchant {owner}, not {mchid}")
    notification_id = wire.optional_text(event, "id")
    if event_type in PAYMENT_EVENTS:
        return Notification(payment=channel_payment(resource), notification_id=notification_id)
    if event_type in REFUND_EVENTS:
        return Notification(refund=channel_refund(resource), notification_id=notification_id)
    raise ChannelError(f"WeChat Pay {where}: unknown event_type {event_type!r}")


# --- statements and errors ----------------------------------------------------------------------
def statement_location(answer: Mapping[str, Any]) -> StatementLocation:
    """A trade bill answer; only SHA1 digests are documented (and checked)."""
    where = "trade bill"
    hash_type = wire.text(answer, "hash_type", where)
    if hash_type != STATEMENT_HASH_TYPE:
        raise ChannelError(f"WeChat Pay {where}: unknown hash_type {hash_type!r}")
    return StatementLocation(
        hash_type=hash_type,
        hash_value=wire.text(answer, "hash_value", where).lower(),
        download_url=wire.text(answer, "download_url", where),
    )
