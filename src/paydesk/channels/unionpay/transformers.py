"""The request fields and the mapping of answers onto base.py's types. Pure functions.

Fields (UnionPay's API pages of the online gateway, ACP 5.1.0, and the acp SDK demos):

- Every request: ``version=5.1.0, encoding=UTF-8, signMethod=01, certId, signature, merId,
  accessType=0`` (the merchant connects directly), ``txnTime`` (Beijing ``yyyyMMddHHmmss``).
- Consume (``frontTransReq.do``, the payer's browser posts it): ``txnType=01, txnSubType=01,
  bizType=000201`` (B2C gateway), ``channelType`` 07 (PC, ``UNIONPAY_PAGE``) or 08 (mobile,
  ``UNIONPAY_WAP``), ``orderId, txnAmt`` (fen), ``currencyCode=156``, ``backUrl`` (the
  notification URL), ``frontUrl`` (where the browser returns, when we have one),
  ``payTimeout`` (``expires_at`` in Beijing time: after it UnionPay refuses the order), and
  ``riskRateInfo={commodityName=<subject>}``, the goods' name (characters that would break the
  nested syntax, ``{}[]&=``, and control characters are dropped).
- Query (``queryTrans.do``): ``txnType=00, txnSubType=00, bizType=000000`` and either
  ``orderId`` with the ``txnTime`` of the transaction queried, or its ``queryId``.
- Refund (``backTransReq.do``): ``txnType=04, txnSubType=00, bizType=000201, channelType=07,
  orderId`` (the refund's own number), ``txnAmt, currencyCode, origQryId`` (the payment's
  ``queryId``), ``backUrl``. It is asynchronous: ``respCode`` 00 means accepted.
- Statement (``fileTransfer``): ``txnType=76, txnSubType=01, bizType=000000, fileType=00,
  settleDate=MMDD``.

Codes (《平台接入接口规范-第5部分-附录》, as the SDK demos list them): ``respCode`` says how the
*request* went, ``origRespCode`` (queries) how the *queried transaction* went.

- ``origRespCode`` 00 and A6 (有缺陷的成功) → SUCCEEDED; 03, 04, 05 (timed out, state unknown,
  accepted), 70 (sent to the cardholder, waiting) and 83 (the issuer is processing) → PENDING;
  any other documented code → FAILED (the payment or refund did not happen); an undocumented
  one → ChannelError.
- ``respCode`` 00 → done; 02, 06 (closed, busy), 37 (too many queries) and, to a query, 03,
  04, 05 → ChannelUnavailable (ask again later); 34 (查无此交易) → not found (see the
  connector); other documented codes → :class:`UnionPayRejected` (a ChannelRejected that keeps
  ``resp_code`` and ``resp_msg``); undocumented → ChannelError. To a refund request 03, 04 and
  05 mean the outcome is unknown: the refund is PENDING and is followed with queries; 12
  (重复交易) means our refund number was sent before, so its outcome is unknown too (the
  connector raises ChannelTimeout).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

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
from paydesk.channels.unionpay import wire
from paydesk.channels.unionpay.wire import Locator, WireError

CURRENCY = "CNY"
VERSION = "5.1.0"
ENCODING = "UTF-8"
SIGN_METHOD_RSA = "01"
ACCESS_TYPE_MERCHANT = "0"
BIZ_TYPE_GATEWAY = "000201"
BIZ_TYPE_NONE = "000000"
TXN_CONSUME = "01"
TXN_REFUND = "04"
TXN_QUERY = "00"
TXN_FILE = "76"
FILE_TYPE_STATEMENT = "00"
NOT_FOUND = "34"
DUPLICATE = "12"
SUCCESS = "00"
EXPIRY_MIN = timedelta(minutes=1)
TRACE_SLACK = timedelta(days=1)
"""``traceTime`` may read a little before ``txnTime`` (clocks of two systems)."""
COMMODITY_CHARS_MAX = 64
MESSAGE_CHARS_MAX = 300
_UNSAFE = re.compile(r"[{}\[\]&=\x00-\x1f\x7f]")
"""Dropped from the goods' name: UnionPay's nesting syntax, and control characters (a browser
posting the form would rewrite line breaks, and the signature would no longer match)."""


class Channel(StrEnum):
    PC = "07"
    MOBILE = "08"


CHANNEL_TYPES: Mapping[Method, Channel] = {
    Method.UNIONPAY_PAGE: Channel.PC,
    Method.UNIONPAY_WAP: Channel.MOBILE,
}

SUCCEEDED_CODES = frozenset({"00", "A6"})
PENDING_CODES = frozenset({"03", "04", "05", "70", "83"})
DOCUMENTED_CODES = frozenset(
    {
        "00", "A6", "01", "02", "03", "04", "05", "06",
        *(str(code) for code in range(10, 16)),
        *(str(code) for code in range(30, 49)),
        *(str(code) for code in range(60, 84)),
        *(str(code) for code in range(85, 97)),
        "98", "99",
    }
)  # fmt: skip
"""Every respCode the appendix lists."""
TRANSIENT_CODES = frozenset({"02", "06", "37"})
UNKNOWN_OUTCOME_CODES = frozenset({"03", "04", "05"})


class UnionPayRejected(ChannelRejected):
    """UnionPay refused the request; its code and message are kept for operators."""

    def __init__(self, message: str, *, resp_code: str, resp_msg: str) -> None:
        super().__init__(message)
        self.resp_code = resp_code
        self.resp_msg = resp_msg


def resp_code(answer: Mapping[str, str]) -> str:
    return answer.get("respCode", "")


def failure(api: str, answer: Mapping[str, str], *, query: bool = False) -> ChannelError:
    """The error for an answer whose ``respCode`` is not 00 (nor handled by the caller)."""
    code = resp_code(answer)
    message = answer.get("respMsg", "")[:MESSAGE_CHARS_MAX]
    text = f"UnionPay {api}: respCode {code or '(none)'} {message}".strip()
    if code in TRANSIENT_CODES or (query and code in UNKNOWN_OUTCOME_CODES):
        return ChannelUnavailable(text)
    if code in DOCUMENTED_CODES:
        return UnionPayRejected(text, resp_code=code, resp_msg=message)
    return ChannelError(text)


def _required(answer: Mapping[str, str], name: str, where: str) -> str:
    value = answer.get(name, "")
    if not value:
        raise ChannelError(f"UnionPay {where}: {name} is missing")
    return value


def check_echo(answer: Mapping[str, str], name: str, expected: str, where: str) -> None:
    echoed = answer.get(name)
    if echoed not in (None, "", expected):
        raise ChannelError(f"UnionPay {where}: answered for {name} {echoed!r}, not {expected!r}")


def check_currency(answer: Mapping[str, str], where: str) -> None:
    code = answer.get("currencyCode")
    if code not in (None, "", wire.CNY_NUMERIC):
        raise ChannelError(f"UnionPay {where}: currencyCode {code!r}, not 156 (CNY)")


def fen(answer: Mapping[str, str], name: str, where: str) -> int:
    try:
        return wire.parse_fen(answer.get(name), name)
    except WireError as error:
        raise ChannelError(f"UnionPay {where}: {error}") from None


def status_of(code: str) -> PaymentStatus:
    """An ``origRespCode`` (or a notification's ``respCode``) as a payment status."""
    if code in SUCCEEDED_CODES:
        return PaymentStatus.SUCCEEDED
    if code in PENDING_CODES:
        return PaymentStatus.PENDING
    if code in DOCUMENTED_CODES:
        return PaymentStatus.FAILED
    raise ChannelError(f"UnionPay reported an undocumented code {code!r}")


REFUND_STATUSES: Mapping[PaymentStatus, RefundStatus] = {
    PaymentStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
    PaymentStatus.PENDING: RefundStatus.PENDING,
    PaymentStatus.FAILED: RefundStatus.FAILED,
}


def refund_status_of(code: str) -> RefundStatus:
    return REFUND_STATUSES[status_of(code)]


def paid_at(answer: Mapping[str, str], status: PaymentStatus) -> datetime | None:
    """When a successful transaction completed: ``traceTime`` (Beijing ``MMDDhhmmss``, 交易传输
    时间) in the year that puts it at or after the order's ``txnTime``; None when either is
    missing or malformed (the caller then takes its own clock)."""
    if status is not PaymentStatus.SUCCEEDED:
        return None
    trace, txn_time = answer.get("traceTime", ""), answer.get("txnTime", "")
    try:
        ordered = wire.parse_time(txn_time, "txnTime")
    except WireError:
        return None
    if len(trace) != wire.TRACE_TIME_LENGTH or not trace.isdigit():
        return None
    year = int(txn_time[:4])
    for candidate_year in (year, year + 1):
        try:
            moment = wire.parse_time(f"{candidate_year}{trace}", "traceTime")
        except WireError:
            continue  # 0229 outside a leap year
        if moment >= ordered - TRACE_SLACK:
            return moment
    return None


# --- common fields -------------------------------------------------------------------------------
def common(mer_id: str, cert_id: str, txn_time: str | None) -> dict[str, str]:
    fields = {
        "version": VERSION,
        "encoding": ENCODING,
        "signMethod": SIGN_METHOD_RSA,
        "certId": cert_id,
        "accessType": ACCESS_TYPE_MERCHANT,
        "merId": mer_id,
    }
    if txn_time is not None:
        fields["txnTime"] = txn_time
    return fields


def check_cny(currency: str, amount_minor: int, param: str) -> None:
    """Only positive CNY amounts are served (ChannelRejected before any call)."""
    if currency != CURRENCY:
        raise ChannelRejected(
            f"the UnionPay connector serves {CURRENCY} only, not {currency}", param="currency"
        )
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ChannelRejected(f"{param} must be a positive number of fen", param=param)
    if amount_minor >= 10**wire.AMOUNT_DIGITS_MAX:
        raise ChannelRejected(f"{param} is over {wire.AMOUNT_DIGITS_MAX} digits", param=param)


def checked_order_id(out_no: str, param: str) -> str:
    try:
        return wire.order_id(out_no)
    except WireError as error:
        raise ChannelRejected(str(error), param=param) from None


def _url(value: str | None, param: str) -> str:
    if not value or not value.startswith(("https://", "http://")):
        raise ChannelRejected(f"{param} must be an http(s) URL", param=param)
    return value


def commodity_name(subject: str) -> str:
    return _UNSAFE.sub("", subject).strip()[:COMMODITY_CHARS_MAX]


def consume_fields(
    request: PaymentRequest, *, mer_id: str, cert_id: str, now: datetime
) -> tuple[dict[str, str], Locator]:
    """The unsigned consume form for ``request`` and the payment's locator; everything is
    checked before anything is signed."""
    try:
        channel = CHANNEL_TYPES[request.method]
    except KeyError:
        raise UnsupportedFlow(
            f"UnionPay does not offer the method {request.method.value}"
        ) from None
    check_cny(request.currency, request.amount_minor, "amount_minor")
    order = checked_order_id(request.out_trade_no, "out_trade_no")
    if request.expires_at.tzinfo is None:
        raise ChannelRejected("expires_at must be timezone-aware", param="expires_at")
    if request.expires_at - now < EXPIRY_MIN:
        raise ChannelRejected(
            "the payment must expire a minute or more from now", param="expires_at"
        )
    txn_time = wire.format_time(now)
    pay_timeout = wire.format_time(request.expires_at)
    fields = {
        **common(mer_id, cert_id, txn_time),
        "txnType": TXN_CONSUME,
        "txnSubType": "01",
        "bizType": BIZ_TYPE_GATEWAY,
        "channelType": channel.value,
        "orderId": order,
        "txnAmt": wire.format_fen(request.amount_minor),
        "currencyCode": wire.CNY_NUMERIC,
        "backUrl": _url(request.notify_url, "notify_url"),
        "payTimeout": pay_timeout,
    }
    if request.return_url:
        fields["frontUrl"] = _url(request.return_url, "return_url")
    commodity = commodity_name(request.subject)
    if commodity:
        fields["riskRateInfo"] = "{commodityName=" + commodity + "}"
    return fields, Locator(txn_time=txn_time, pay_timeout=pay_timeout)


def query_fields(*, mer_id: str, cert_id: str, order: str, locator: Locator) -> dict[str, str]:
    """A ``queryTrans`` request for the transaction ``locator`` finds: by ``queryId`` alone,
    or by ``orderId`` (``order``) with the transaction's ``txnTime``."""
    if locator.query_id is not None:
        fields = common(mer_id, cert_id, None)
        fields["queryId"] = locator.query_id
    else:
        assert locator.txn_time is not None
        fields = common(mer_id, cert_id, locator.txn_time)
        fields["orderId"] = order
    fields |= {"txnType": TXN_QUERY, "txnSubType": "00", "bizType": BIZ_TYPE_NONE}
    return fields


def refund_fields(
    request: RefundRequest, *, mer_id: str, cert_id: str, orig_query_id: str, now: datetime
) -> dict[str, str]:
    return {
        **common(mer_id, cert_id, wire.format_time(now)),
        "txnType": TXN_REFUND,
        "txnSubType": "00",
        "bizType": BIZ_TYPE_GATEWAY,
        "channelType": Channel.PC.value,
        "orderId": checked_order_id(request.out_refund_no, "out_refund_no"),
        "txnAmt": wire.format_fen(request.refund_minor),
        "currencyCode": wire.CNY_NUMERIC,
        "origQryId": orig_query_id,
        "backUrl": _url(request.notify_url, "notify_url"),
    }


def check_refund(request: RefundRequest) -> None:
    check_cny(request.currency, request.refund_minor, "refund_minor")
    if request.refund_minor > request.total_minor:
        raise ChannelRejected("refund_minor is over the payment's total", param="refund_minor")
    checked_order_id(request.out_refund_no, "out_refund_no")
    _url(request.notify_url, "notify_url")


def statement_fields(
    *, mer_id: str, cert_id: str, settle_date: str, now: datetime
) -> dict[str, str]:
    return {
        **common(mer_id, cert_id, wire.format_time(now)),
        "txnType": TXN_FILE,
        "txnSubType": "01",
        "bizType": BIZ_TYPE_NONE,
        "fileType": FILE_TYPE_STATEMENT,
        "settleDate": settle_date,
    }


# --- answers -------------------------------------------------------------------------------------
def payment_from_query(answer: Mapping[str, str], out_trade_no: str, order: str) -> ChannelPayment:
    """A ``respCode`` 00 query answer about our payment."""
    where = "queryTrans"
    check_echo(answer, "orderId", order, where)
    check_currency(answer, where)
    raw = _required(answer, "origRespCode", where)
    status = status_of(raw)
    message = answer.get("origRespMsg", "")
    return ChannelPayment(
        out_trade_no=out_trade_no,
        status=status,
        amount_minor=fen(answer, "txnAmt", where),
        currency=CURRENCY,
        channel_trade_no=answer.get("queryId") or None,
        paid_at=paid_at(answer, status),
        raw_status=f"{raw} {message}".strip()[:MESSAGE_CHARS_MAX],
    )


def payment_not_yet_at_unionpay(out_trade_no: str) -> ChannelPayment:
    """respCode 34 before ``payTimeout``: the payer has not posted (or paid) the form yet."""
    return ChannelPayment(
        out_trade_no=out_trade_no,
        status=PaymentStatus.PENDING,
        amount_minor=0,
        currency=CURRENCY,
        raw_status=f"{NOT_FOUND} 查无此交易",
    )


def refund_from_query(
    answer: Mapping[str, str], out_refund_no: str, out_trade_no: str | None, order: str
) -> ChannelRefund:
    where = "queryTrans (refund)"
    check_echo(answer, "orderId", order, where)
    check_currency(answer, where)
    raw = _required(answer, "origRespCode", where)
    status = refund_status_of(raw)
    return ChannelRefund(
        out_refund_no=out_refund_no,
        status=status,
        refund_minor=fen(answer, "txnAmt", where),
        currency=CURRENCY,
        out_trade_no=out_trade_no,
        channel_refund_no=answer.get("queryId") or None,
        succeeded_at=paid_at(answer, PaymentStatus.SUCCEEDED)
        if status is RefundStatus.SUCCEEDED
        else None,
        raw_status=f"{raw} {answer.get('origRespMsg', '')}".strip()[:MESSAGE_CHARS_MAX],
    )
