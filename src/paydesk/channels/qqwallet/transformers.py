"""QQ Wallet's fields and their mapping onto Paydesk's channel types: pure functions.

Nothing here talks to the network; the connector hands these functions plain values (the
verified fields of an answer or a notification, a nonce, a timestamp) and gets our types back.

- **Methods**: QQ_NATIVE → ``trade_type=NATIVE``, answering ``code_url`` → ``QR_CODE``;
  QQ_JSAPI → ``JSAPI``, answering ``prepay_id`` → ``SDK_PARAMS`` for the QQ JS bridge
  ``mqq.tenpay.pay``: ``tokenId`` (the prepay id) and, when the account has an appid,
  ``appInfo`` ``appid#<appid>|bargainor_id#<mch_id>|channel#wallet``; the bridge takes no
  signature (the prepay id is the proof). QQ_APP → ``APP``, answering ``prepay_id`` →
  ``SDK_PARAMS`` for the QQ app SDK's ``PayApi``: ``appId, bargainorId, tokenId, nonce,
  timeStamp, pubAcc="", sigType="HMAC-SHA1", sig`` (:func:`.signing.app_sig`, keyed with the
  open-platform AppKey, so QQ_APP needs ``appid`` and ``app_key``: without them it is
  :class:`UnsupportedFlow` before any call). Any other method is :class:`UnsupportedFlow`.
- **Money**: ``total_fee`` / ``refund_fee`` are integer fen, CNY minor units; only CNY is
  served (``fee_type=CNY``): another currency, or an amount that is not a positive integer, is
  :class:`ChannelRejected` before any call. An answer's ``fee_type`` is its currency (CNY when
  absent); the echoed ``total_fee`` is returned as-is for the caller to check.
- **Payment statuses** (``trade_state``), exhaustively: SUCCESS → SUCCEEDED; NOTPAY,
  USERPAYING → PENDING; CLOSED, REVOKED → CLOSED; PAYERROR → FAILED; REFUND → REFUNDED.
  Anything else is a :class:`ChannelError`, never a guess.
- **Refund statuses** (``refund_status_$n``): PROCESSING → PENDING; SUCCESS → SUCCEEDED; FAIL
  → FAILED; CHANGE (the card was void: the money went back to the merchant and needs a manual
  transfer; the payer did not get it) → FAILED; NOTSURE (QQ Wallet asks for the refund to be
  sent again with the same ``out_refund_no``) → PENDING: never FAILED, as the refund may still
  go through and a new refund number could refund twice. A refund's own answer has no status:
  it was accepted, so PENDING until the refund query says more.
- **Notifications** are payment results only (``trade_state`` SUCCESS in practice); the
  ``transaction_id`` is the notification id (retries repeat it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

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
from paydesk.channels.qqwallet import signing, wire

CURRENCY = wire.CURRENCY
BODY_CHARS_MAX = 128
APP_CHANNEL = "wallet"
REFUND_QUERY_ENTRIES_MAX = 100
"""The most ``_$n`` refund entries read from one refund-query answer."""


class TradeType(StrEnum):
    NATIVE = "NATIVE"
    """A QR code the payer scans with QQ."""
    JSAPI = "JSAPI"
    """A page inside QQ calls the JS bridge."""
    APP = "APP"
    """The merchant's app calls the QQ app SDK."""


TRADE_TYPES: Mapping[Method, TradeType] = {
    Method.QQ_NATIVE: TradeType.NATIVE,
    Method.QQ_JSAPI: TradeType.JSAPI,
    Method.QQ_APP: TradeType.APP,
}

TRADE_STATES: Mapping[str, PaymentStatus] = {
    "SUCCESS": PaymentStatus.SUCCEEDED,
    "REFUND": PaymentStatus.REFUNDED,
    "NOTPAY": PaymentStatus.PENDING,
    "USERPAYING": PaymentStatus.PENDING,
    "CLOSED": PaymentStatus.CLOSED,
    "REVOKED": PaymentStatus.CLOSED,
    "PAYERROR": PaymentStatus.FAILED,
}
"""Every ``trade_state`` QQ Wallet's order query documents."""

REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "PROCESSING": RefundStatus.PENDING,
    "NOTSURE": RefundStatus.PENDING,
    "SUCCESS": RefundStatus.SUCCEEDED,
    "FAIL": RefundStatus.FAILED,
    "CHANGE": RefundStatus.FAILED,
}
"""Every ``refund_status_$n`` the refund query documents."""


# --- payments -----------------------------------------------------------------------------------
def trade_type_for(method: Method) -> TradeType:
    try:
        return TRADE_TYPES[method]
    except KeyError:
        raise UnsupportedFlow(f"QQ Wallet does not offer the method {method.value}") from None


def check_cny(currency: str, amount_minor: int, param: str) -> None:
    """QQ Wallet takes positive CNY amounts only."""
    if currency != CURRENCY:
        raise ChannelRejected(f"QQ Wallet takes {CURRENCY} only, not {currency}", param="currency")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ChannelRejected(f"{param} must be a positive number of fen", param=param)


def order_fields(
    request: PaymentRequest, now: datetime, *, appid: str | None, app_key: str | None
) -> tuple[TradeType, dict[str, str]]:
    """The unified order's business fields for ``request`` (``mch_id``, ``nonce_str``,
    ``sign_type`` and ``sign`` are added by the connector); checks everything first."""
    trade_type = trade_type_for(request.method)
    if trade_type is TradeType.APP and not (appid and app_key):
        raise UnsupportedFlow(
            "QQ_APP needs the account's appid and its open-platform app_key to sign the "
            "app SDK's parameters"
        )
    check_cny(request.currency, request.amount_minor, "amount_minor")
    wire.checked_number(request.out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
    if not request.subject.strip() or len(request.subject) > BODY_CHARS_MAX:
        raise ChannelRejected(f"subject must be 1 to {BODY_CHARS_MAX} characters", param="subject")
    if not request.client_ip:
        raise ChannelRejected("QQ Wallet needs the payer's client_ip", param="client_ip")
    try:
        ipaddress.ip_address(request.client_ip)
    except ValueError:
        raise ChannelRejected("client_ip is not an IP address", param="client_ip") from None
    if not request.notify_url.startswith(("https://", "http://")):
        raise ChannelRejected("notify_url must be an http(s) URL", param="notify_url")
    time_start, time_expire = wire.beijing(now), wire.beijing(request.expires_at)
    if time_expire <= time_start:
        raise ChannelRejected("expires_at must be in the future", param="expires_at")
    fields = {
        "body": request.subject,
        "out_trade_no": request.out_trade_no,
        "fee_type": CURRENCY,
        "total_fee": str(request.amount_minor),
        "spbill_create_ip": request.client_ip,
        "time_start": time_start,
        "time_expire": time_expire,
        "trade_type": trade_type.value,
        "notify_url": request.notify_url,
    }
    return trade_type, fields


def payment_action(
    trade_type: TradeType,
    answer: Mapping[str, str],
    *,
    mch_id: str,
    appid: str | None,
    app_key: str | None,
    nonce: str,
    timestamp: str,
) -> PaymentAction:
    """What the payer needs, from a unified order's verified answer."""
    where = f"{trade_type.value} unified order"
    answered = answer.get("trade_type")
    if answered and answered != trade_type.value:
        raise ChannelError(f"QQ Wallet {where}: answered trade_type {answered[:20]!r}")
    if trade_type is TradeType.NATIVE:
        return PaymentAction(ActionKind.QR_CODE, qr_code=wire.text(answer, "code_url", where))
    prepay_id = wire.text(answer, "prepay_id", where)
    if trade_type is TradeType.JSAPI:
        params = {"tokenId": prepay_id}
        if appid:
            params["appInfo"] = f"appid#{appid}|bargainor_id#{mch_id}|channel#{APP_CHANNEL}"
        return PaymentAction(ActionKind.SDK_PARAMS, sdk_params=params)
    assert appid and app_key  # order_fields refused QQ_APP without them
    sig = signing.app_sig(appid, mch_id, nonce, prepay_id, app_key)
    params = {
        "appId": appid,
        "bargainorId": mch_id,
        "tokenId": prepay_id,
        "nonce": nonce,
        "timeStamp": timestamp,
        "pubAcc": "",
        "sigType": signing.APP_SIG_TYPE,
        "sig": sig,
    }
    return PaymentAction(ActionKind.SDK_PARAMS, sdk_params=params)


def payment_status(trade_state: str) -> PaymentStatus:
    try:
        return TRADE_STATES[trade_state]
    except KeyError:
        raise ChannelError(
            f"QQ Wallet reported an unknown trade_state {trade_state[:40]!r}"
        ) from None


def channel_payment(fields: Mapping[str, str], where: str) -> ChannelPayment:
    """An order (query answer or payment notification) as our payment."""
    raw_status = wire.text(fields, "trade_state", where)
    return ChannelPayment(
        out_trade_no=wire.text(fields, "out_trade_no", where),
        status=payment_status(raw_status),
        amount_minor=wire.fen(fields, "total_fee", where),
        currency=fields.get("fee_type") or CURRENCY,
        channel_trade_no=wire.optional_text(fields, "transaction_id"),
        paid_at=wire.moment(fields, "time_end", where),
        payer_id=wire.optional_text(fields, "openid"),
        raw_status=raw_status,
    )


# --- refunds ------------------------------------------------------------------------------------
def refund_fields(request: RefundRequest) -> dict[str, str]:
    """The refund's business fields (the operator's are added by the connector)."""
    check_cny(request.currency, request.refund_minor, "refund_minor")
    check_cny(request.currency, request.total_minor, "total_minor")
    wire.checked_number(request.out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
    wire.checked_number(request.out_refund_no, wire.OUT_REFUND_NO, "out_refund_no")
    if request.refund_minor > request.total_minor:
        raise ChannelRejected("refund_minor is more than total_minor", param="refund_minor")
    fields = {
        "out_trade_no": request.out_trade_no,
        "out_refund_no": request.out_refund_no,
        "refund_fee": str(request.refund_minor),
    }
    if request.channel_trade_no:
        fields["transaction_id"] = request.channel_trade_no
    return fields


def accepted_refund(answer: Mapping[str, str], request: RefundRequest) -> ChannelRefund:
    """A refund's verified answer: accepted, so PENDING, for the amount QQ Wallet echoes."""
    where = "refund"
    if wire.text(answer, "out_refund_no", where) != request.out_refund_no:
        raise ChannelError(f"QQ Wallet {where}: answered another out_refund_no")
    out_trade_no = wire.optional_text(answer, "out_trade_no")
    if out_trade_no not in (None, request.out_trade_no):
        raise ChannelError(f"QQ Wallet {where}: answered another out_trade_no")
    total = answer.get("total_fee")
    if total and wire.fen(answer, "total_fee", where) != request.total_minor:
        raise ChannelError(
            f"QQ Wallet {where}: the order's total_fee is {total}, not {request.total_minor}"
        )
    return ChannelRefund(
        out_refund_no=request.out_refund_no,
        status=RefundStatus.PENDING,
        refund_minor=wire.fen(answer, "refund_fee", where),
        currency=CURRENCY,
        out_trade_no=request.out_trade_no,
        channel_refund_no=wire.optional_text(answer, "refund_id"),
        raw_status="",
    )


def refund_status(raw: str) -> RefundStatus:
    try:
        return REFUND_STATUSES[raw]
    except KeyError:
        raise ChannelError(f"QQ Wallet reported an unknown refund_status {raw[:40]!r}") from None


def queried_refund(
    answer: Mapping[str, str], out_refund_no: str, out_trade_no: str
) -> ChannelRefund:
    """Our refund among the ``_$n`` entries of a refund query's verified answer."""
    where = "refund query"
    answered_trade = wire.optional_text(answer, "out_trade_no")
    if answered_trade not in (None, out_trade_no):
        raise ChannelError(
            f"QQ Wallet {where}: refund {out_refund_no!r} is of payment "
            f"{answered_trade[:40]!r}, not {out_trade_no!r}"
        )
    for n in range(REFUND_QUERY_ENTRIES_MAX):
        number = answer.get(f"out_refund_no_{n}")
        if number is None:
            break
        if number != out_refund_no:
            continue
        raw_status = wire.text(answer, f"refund_status_{n}", where)
        return ChannelRefund(
            out_refund_no=out_refund_no,
            status=refund_status(raw_status),
            refund_minor=wire.fen(answer, f"refund_fee_{n}", where),
            currency=answer.get("fee_type") or CURRENCY,
            out_trade_no=out_trade_no,
            channel_refund_no=wire.optional_text(answer, f"refund_id_{n}"),
            raw_status=raw_status,
        )
    raise ChannelError(f"QQ Wallet {where}: the answer does not list refund {out_refund_no!r}")


# --- notifications ------------------------------------------------------------------------------
def notification(fields: Mapping[str, str], mch_id: str, appid: str | None) -> Notification:
    """A verified payment notification as ours; :class:`ChannelError` when it is not for this
    account or cannot be read."""
    where = "notification"
    owner = wire.text(fields, "mch_id", where)
    if owner != mch_id:
        raise ChannelError(f"QQ Wallet {where}: it is for merchant {owner[:32]}, not {mch_id}")
    named_app = wire.optional_text(fields, "appid")
    if appid and named_app not in (None, appid):
        raise ChannelError(f"QQ Wallet {where}: it is for app {named_app[:32]}, not {appid}")
    payment = channel_payment(fields, where)
    return Notification(payment=payment, notification_id=payment.channel_trade_no)
