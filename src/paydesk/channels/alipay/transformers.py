"""Alipay open-platform wire formats and their mapping to Paydesk's channel types: pure functions.

Nothing here talks to the network or the SDK; the connector hands these functions our requests
and the SDK's verified answers (dicts), and gets the wire fields or our types back.
Rules followed (CHANNELS.md "Alipay open platform", STYLE.md, base.py):

- **Methods**: ALIPAY_QR → ``alipay.trade.precreate`` (a ``qr_code``); ALIPAY_PAGE →
  ``alipay.trade.page.pay`` and ALIPAY_WAP → ``alipay.trade.wap.pay`` (URLs the client signs,
  opened at the gateway); ALIPAY_APP → ``alipay.trade.app.pay`` (an order string for the app
  SDK). Any other method is :class:`UnsupportedFlow` (an unsupported flow fails loudly).
- **Money**: the wire writes yuan as decimal strings (``"10.00"``); we hold integer fen (CNY's
  ISO 4217 exponent is 2). Conversion is integer arithmetic on the digits, never a float; a
  string with more than two decimals, a sign, an exponent, spaces or non-ASCII digits, or a
  JSON number instead of a string, is a :class:`ChannelError`. Only CNY is served (the
  domestic products; cross-border ``trans_currency`` is not): another currency in a request is
  :class:`UnsupportedFlow` before any call, and an answer naming one is a ChannelError.
- **Expiry**: ``expires_at`` becomes ``timeout_express``, whole minutes from now rounded down
  (hours from 10,000 minutes on), so the trade never outlives our payment; 1 minute to 15 days.
- **Trade statuses** (``trade_status``), exhaustively: WAIT_BUYER_PAY → PENDING;
  TRADE_SUCCESS → SUCCEEDED; TRADE_FINISHED → SUCCEEDED (paid, refund window over;
  ``raw_status`` keeps the word); TRADE_CLOSED → CLOSED, or REFUNDED when the trade had been
  paid (a query showing ``send_pay_date`` or a non-zero ``buyer_pay_amount``; a notification
  with ``gmt_payment`` or refund fields): Alipay documents TRADE_CLOSED as closed unpaid, or
  fully refunded after payment. A partly refunded trade stays TRADE_SUCCESS → SUCCEEDED.
  Anything else is a ChannelError. ACQ.TRADE_NOT_EXIST to a query is PENDING: a precreated or
  page-pay trade exists at Alipay only once the buyer scans or opens it; the amount is then 0
  (not stated).
- **Refunds**: ``out_request_no`` is our ``out_refund_no`` (Alipay has no refund id of its
  own). ``fund_change=Y`` → SUCCEEDED for the amount we asked; ``refund_fee`` is the trade's
  cumulative refunded total, only checked to cover it. ``fund_change=N`` (a repeat, or a
  refund still under way) is answered by a refund query. Refund query ``refund_status``:
  REFUND_SUCCESS → SUCCEEDED with ``refund_amount``; absent → PENDING (documented: 10000
  alone does not mean refunded), amount 0; any other value → ChannelError.
- **Answers**: ``code`` 10000 is success; 20000 (service unavailable) or the sub_code
  ACQ.SYSTEM_ERROR (Alipay: "retry with the same numbers") → :class:`ChannelUnavailable`;
  20001, 40001, 40002, 40004, 40006 → :class:`AlipayRejected` (a :class:`ChannelRejected`
  carrying ``code``, ``sub_code``, ``sub_msg``), ``isp.bill_not_exist`` included; any other
  code → ChannelError.

Notification forms are read in ``notifications.py``, statements in ``statement.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from paydesk.channels.base import (
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelRejected,
    ChannelUnavailable,
    Method,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)

CURRENCY = "CNY"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Alipay writes every time as Beijing time without an offset."""
SUCCESS_CODE = "10000"
TRADE_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
TRADE_HAS_CLOSE = "ACQ.TRADE_HAS_CLOSE"
TRADE_STATUS_ERROR = "ACQ.TRADE_STATUS_ERROR"
WAP_PRODUCT_CODE = "QUICK_WAP_WAY"
"""The documented product code of wap.pay (the SDK sends ``QUICK_WAP_PAY``)."""
SUBJECT_CHARS_MAX = 256
REASON_CHARS_MAX = 256
MESSAGE_CHARS_MAX = 300
TIMEOUT_MINUTES_MIN = 1
TIMEOUT_MINUTES_MAX = 15 * 24 * 60
_TIMEOUT_MINUTES_DIGITS_MAX = 9_999
_YUAN = re.compile(r"(0|[1-9][0-9]{0,12})(?:\.([0-9]{1,2}))?")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


class ApiMethod(StrEnum):
    """The gateway methods a payment is created with."""

    PRECREATE = "alipay.trade.precreate"
    PAGE_PAY = "alipay.trade.page.pay"
    WAP_PAY = "alipay.trade.wap.pay"
    APP_PAY = "alipay.trade.app.pay"


API_METHODS: Mapping[Method, ApiMethod] = {
    Method.ALIPAY_QR: ApiMethod.PRECREATE,
    Method.ALIPAY_PAGE: ApiMethod.PAGE_PAY,
    Method.ALIPAY_WAP: ApiMethod.WAP_PAY,
    Method.ALIPAY_APP: ApiMethod.APP_PAY,
}

TRADE_STATUSES: Mapping[str, PaymentStatus] = {
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_SUCCESS": PaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": PaymentStatus.SUCCEEDED,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
}
"""Every ``trade_status`` Alipay documents."""

REFUND_STATUSES: Mapping[str, RefundStatus] = {"REFUND_SUCCESS": RefundStatus.SUCCEEDED}
"""Every ``refund_status`` the refund query documents (absent means not refunded yet)."""

TRANSIENT_CODES = frozenset({"20000"})
REJECTION_CODES = frozenset({"20001", "40001", "40002", "40004", "40006"})
TRANSIENT_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR"})


class AlipayRejected(ChannelRejected):
    """Alipay refused the request; its own codes are kept for operators."""

    def __init__(self, message: str, *, alipay_code: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(message)
        self.alipay_code = alipay_code
        self.sub_code = sub_code
        self.sub_msg = sub_msg


# --- reading fields -----------------------------------------------------------------------------
def _text(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ChannelError(f"Alipay {where}: {name} is missing or not a string")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def fen_from_yuan(text: object, name: str = "amount") -> int:
    """``"12.34"`` → 1234, exactly; anything but a plain yuan string is a ChannelError."""
    match = _YUAN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ChannelError(f"Alipay {name} is not an amount in yuan: {text!r}")
    cents = (match.group(2) or "").ljust(2, "0")
    return int(match.group(1)) * 100 + int(cents)


def yuan_from_fen(fen: int) -> str:
    """1234 → ``"12.34"``: the wire's two-decimal yuan, for a non-negative number of fen."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError(f"not a non-negative number of fen: {fen!r}")
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def _fen(data: Mapping[str, Any], name: str, where: str) -> int:
    return fen_from_yuan(data.get(name), f"{where} {name}")


def parse_time(text: str | None, name: str = "time") -> datetime | None:
    """A Beijing ``yyyy-MM-dd HH:mm:ss[.SSS]`` as an aware UTC datetime; None if absent."""
    if not text:
        return None
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=BEIJING).astimezone(UTC)
        except ValueError:
            continue
    raise ChannelError(f"Alipay {name} is not a time: {text!r}")


def _check_currency(data: Mapping[str, Any], where: str) -> None:
    for name in ("trans_currency", "settle_currency"):
        value = data.get(name)
        if value not in (None, "", CURRENCY):
            raise ChannelError(f"Alipay {where}: {name} {value!r} (only {CURRENCY} is served)")


def _check_echo(data: Mapping[str, Any], name: str, expected: str, where: str) -> None:
    echoed = data.get(name)
    if echoed not in (None, "", expected):
        raise ChannelError(f"Alipay {where}: answered for {name} {echoed!r}, not {expected!r}")


# --- answers ------------------------------------------------------------------------------------
def succeeded(answer: Mapping[str, Any]) -> bool:
    return answer.get("code") == SUCCESS_CODE


def sub_code(answer: Mapping[str, Any]) -> str:
    return str(answer.get("sub_code") or "")


def failure(api: str, answer: Mapping[str, Any]) -> ChannelError:
    """The error for an answer whose ``code`` is not 10000."""
    code = str(answer.get("code") or "")
    sub = sub_code(answer)
    sub_msg = str(answer.get("sub_msg") or answer.get("msg") or "")[:MESSAGE_CHARS_MAX]
    message = f"Alipay {api}: {code or '(no code)'} {sub or '(no sub_code)'} {sub_msg}".strip()
    if code in TRANSIENT_CODES or sub in TRANSIENT_SUB_CODES:
        return ChannelUnavailable(message)
    if code in REJECTION_CODES:
        return AlipayRejected(message, alipay_code=code, sub_code=sub, sub_msg=sub_msg)
    return ChannelError(message)


# --- payments -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderFields:
    """What every create method sends (the SDK's positional arguments and keywords)."""

    api: ApiMethod
    subject: str
    out_trade_no: str
    total_amount: str
    notify_url: str
    return_url: str | None
    timeout_express: str


def api_method(method: Method) -> ApiMethod:
    try:
        return API_METHODS[method]
    except KeyError:
        raise UnsupportedFlow(f"Alipay does not offer the method {method.value}") from None


def check_cny(currency: str, amount_minor: int, param: str) -> None:
    """Only positive CNY amounts are served."""
    if currency != CURRENCY:
        raise UnsupportedFlow(f"the Alipay connector serves {CURRENCY} only, not {currency}")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ChannelRejected(f"{param} must be a positive number of fen", param=param)


def timeout_express(expires_at: datetime, now: datetime) -> str:
    """``expires_at`` as a relative ``timeout_express``, never later than it."""
    if expires_at.tzinfo is None:
        raise ChannelRejected("expires_at must be timezone-aware", param="expires_at")
    minutes = int((expires_at - now).total_seconds() // 60)
    if not TIMEOUT_MINUTES_MIN <= minutes <= TIMEOUT_MINUTES_MAX:
        raise ChannelRejected(
            "Alipay trades expire 1 minute to 15 days after creation", param="expires_at"
        )
    if minutes > _TIMEOUT_MINUTES_DIGITS_MAX:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def order_fields(request: PaymentRequest, now: datetime) -> OrderFields:
    """The create call for ``request``; checks everything before any call is made."""
    api = api_method(request.method)
    check_cny(request.currency, request.amount_minor, "amount_minor")
    if not request.subject.strip() or len(request.subject) > SUBJECT_CHARS_MAX:
        raise ChannelRejected(
            f"subject must be 1 to {SUBJECT_CHARS_MAX} characters", param="subject"
        )
    return OrderFields(
        api=api,
        subject=request.subject,
        out_trade_no=request.out_trade_no,
        total_amount=yuan_from_fen(request.amount_minor),
        notify_url=request.notify_url,
        return_url=request.return_url,
        timeout_express=timeout_express(request.expires_at, now),
    )


def qr_code(answer: Mapping[str, Any], out_trade_no: str) -> str:
    """The ``qr_code`` of a successful precreate."""
    _check_echo(answer, "out_trade_no", out_trade_no, "precreate")
    return _text(answer, "qr_code", "precreate")


def payment_status(trade_status: str, *, paid: bool) -> PaymentStatus:
    """The mapping above; ``paid``: the trade had been paid (decides CLOSED vs REFUNDED)."""
    try:
        status = TRADE_STATUSES[trade_status]
    except KeyError:
        raise ChannelError(f"Alipay reported an unknown trade_status {trade_status!r}") from None
    if status is PaymentStatus.CLOSED and paid:
        return PaymentStatus.REFUNDED
    return status


def payment_from_query(answer: Mapping[str, Any], out_trade_no: str) -> ChannelPayment:
    """A successful ``alipay.trade.query`` answer as our payment."""
    where = "trade.query"
    _check_echo(answer, "out_trade_no", out_trade_no, where)
    _check_currency(answer, where)
    raw_status = _text(answer, "trade_status", where)
    paid_at = parse_time(_optional_text(answer, "send_pay_date"), "send_pay_date")
    buyer_paid = answer.get("buyer_pay_amount")
    paid = paid_at is not None or (buyer_paid is not None and fen_from_yuan(buyer_paid) > 0)
    return ChannelPayment(
        out_trade_no=out_trade_no,
        status=payment_status(raw_status, paid=paid),
        amount_minor=_fen(answer, "total_amount", where),
        currency=CURRENCY,
        channel_trade_no=_optional_text(answer, "trade_no"),
        paid_at=paid_at,
        payer_id=_optional_text(answer, "buyer_user_id") or _optional_text(answer, "buyer_open_id"),
        raw_status=raw_status,
    )


def payment_not_yet_visible(out_trade_no: str) -> ChannelPayment:
    """ACQ.TRADE_NOT_EXIST to a query: created by us, not yet scanned or opened (PENDING)."""
    return ChannelPayment(
        out_trade_no=out_trade_no,
        status=PaymentStatus.PENDING,
        amount_minor=0,
        currency=CURRENCY,
        raw_status=TRADE_NOT_EXIST,
    )


# --- refunds ------------------------------------------------------------------------------------
def refund_fields(request: RefundRequest) -> dict[str, str]:
    """The ``alipay.trade.refund`` business fields (SDK keywords) for ``request``."""
    check_cny(request.currency, request.refund_minor, "refund_minor")
    if len(request.reason) > REASON_CHARS_MAX:
        raise ChannelRejected(f"reason is over {REASON_CHARS_MAX} characters", param="reason")
    fields = {
        "refund_amount": yuan_from_fen(request.refund_minor),
        "out_trade_no": request.out_trade_no,
        "out_request_no": request.out_refund_no,
    }
    if request.reason:
        fields["refund_reason"] = request.reason
    return fields


def refund_moved_money(answer: Mapping[str, Any], request: RefundRequest) -> ChannelRefund | None:
    """A successful refund answer: the refund if this call moved the money (``fund_change=Y``),
    None when it did not (``N``: a repeat, or still under way; ask the refund query)."""
    where = "trade.refund"
    _check_echo(answer, "out_trade_no", request.out_trade_no, where)
    fund_change = answer.get("fund_change")
    if fund_change == "N":
        return None
    if fund_change != "Y":
        raise ChannelError(f"Alipay {where}: fund_change is {fund_change!r}, not Y or N")
    refunded_total = _fen(answer, "refund_fee", where)
    if refunded_total < request.refund_minor:
        raise ChannelError(
            f"Alipay {where}: refund_fee {refunded_total} fen (the trade's total refunded) is "
            f"less than this refund's {request.refund_minor}"
        )
    return ChannelRefund(
        out_refund_no=request.out_refund_no,
        status=RefundStatus.SUCCEEDED,
        refund_minor=request.refund_minor,
        currency=CURRENCY,
        out_trade_no=request.out_trade_no,
        succeeded_at=parse_time(_optional_text(answer, "gmt_refund_pay"), "gmt_refund_pay"),
        raw_status="fund_change=Y",
    )


def refund_from_query(
    answer: Mapping[str, Any], out_refund_no: str, out_trade_no: str
) -> ChannelRefund:
    """A successful ``alipay.trade.fastpay.refund.query`` answer as our refund."""
    where = "fastpay.refund.query"
    raw_status = _optional_text(answer, "refund_status")
    if raw_status is None:
        return ChannelRefund(
            out_refund_no=out_refund_no,
            status=RefundStatus.PENDING,
            refund_minor=0,
            currency=CURRENCY,
            out_trade_no=out_trade_no,
        )
    try:
        status = REFUND_STATUSES[raw_status]
    except KeyError:
        raise ChannelError(f"Alipay reported an unknown refund_status {raw_status!r}") from None
    _check_echo(answer, "out_request_no", out_refund_no, where)
    _check_echo(answer, "out_trade_no", out_trade_no, where)
    return ChannelRefund(
        out_refund_no=out_refund_no,
        status=status,
        refund_minor=_fen(answer, "refund_amount", where),
        currency=CURRENCY,
        out_trade_no=out_trade_no,
        succeeded_at=parse_time(_optional_text(answer, "gmt_refund_pay"), "gmt_refund_pay"),
        raw_status=raw_status,
    )
