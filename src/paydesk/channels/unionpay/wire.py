# ruff: noqa: RUF002 - UnionPay's own Chinese, full-width punctuation
"""The gateway's wire formats: answers, amounts, times, order numbers and locators. Pure.

- **Requests** are form POSTs (``application/x-www-form-urlencoded``, UTF-8), as the SDK's
  ``AcpService.post`` sends them.
- **Answers** are *not* URL-encoded: the body is ``name=value&name=value`` with raw values, read
  by the SDK's ``parseQString``: a value runs to the next ``&`` that is not inside ``{...}`` or
  ``[...]`` (nested fields such as ``reqReserved={a=b&c=d}``), and ``signPubKeyCert`` carries
  its PEM line breaks as they are. :func:`parse_answer` reads them the same way.
- **Amounts** (``txnAmt``, ``settleAmt``) are integers of fen without a decimal point; the
  currency is ``currencyCode`` 156 (CNY, ISO 4217 numeric).
- **Times** are Beijing time: ``txnTime`` and ``payTimeout`` ``yyyyMMddHHmmss``.
- **Order numbers** (``orderId``): 8 to 40 letters and digits, no ``-`` or ``_`` (the API
  pages of queryTrans and the consume: "商户订单号，不能含“-”或“_”"). Paydesk's numbers
  (``pat_01...``) have an underscore, so :func:`order_id` escapes: ``Z`` is the escape letter,
  ``_`` is written ``Z0``, ``-`` ``Z1`` and a ``Z`` itself ``ZZ``; :func:`out_trade_no` undoes
  it. Other characters are refused.
- **Locators**: UnionPay finds a transaction by ``orderId`` *and* ``txnTime``, or by its
  ``queryId``; the connector is stateless, so the payment's ``channel_trade_no`` carries what a
  later query needs: ``txnTime=<yyyyMMddHHmmss>&payTimeout=<yyyyMMddHHmmss>`` from
  ``create_payment`` on, UnionPay's ``queryId`` once UnionPay reports it. A refund's
  ``channel_refund_no`` is its ``queryId`` (or ``txnTime=...`` when the answer had none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y%m%d%H%M%S"
TRACE_TIME_LENGTH = 10
"""``traceTime``: ``MMDDhhmmss``."""
CNY_NUMERIC = "156"
ANSWER_FIELDS_MAX = 200
ORDER_ID_MIN = 8
ORDER_ID_MAX = 40
AMOUNT_DIGITS_MAX = 12
ESCAPE = "Z"
_ESCAPES = {"_": "Z0", "-": "Z1", "Z": "ZZ"}
_UNESCAPES = {"0": "_", "1": "-", "Z": "Z"}
_OUT_NO = re.compile(r"[0-9A-Za-z_-]+")
_ORDER_ID = re.compile(r"[0-9A-Za-z]+")
_AMOUNT = re.compile(r"[0-9]{1,12}")
_TIME = re.compile(r"[0-9]{14}")
_QUERY_ID = re.compile(r"[0-9A-Za-z]{1,64}")
_OPENERS = {"{": "}", "[": "]"}


class WireError(ValueError):
    """A value that is not in the gateway's format."""


# --- answers -------------------------------------------------------------------------------------
def parse_answer(text: str) -> dict[str, str]:
    """A gateway answer (``a=1&b={x=y&z=w}&c=...``) as its fields, values raw."""
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    fields: dict[str, str] = {}
    start = 0
    closers: list[str] = []
    in_value = False
    for index, char in enumerate(text):
        if not in_value:
            if char == "=":
                in_value = True
            elif char == "&":
                raise WireError("a field without '='")
            continue
        if char in _OPENERS:
            closers.append(_OPENERS[char])
        elif closers and char == closers[-1]:
            closers.pop()
        elif char == "&" and not closers:
            _add_pair(fields, text[start:index])
            start, in_value = index + 1, False
    if start < len(text) or text.endswith("&"):
        _add_pair(fields, text[start:])
    return fields


def _add_pair(fields: dict[str, str], pair: str) -> None:
    name, equals, value = pair.partition("=")
    if not name or not equals:
        raise WireError("a field without a name or '='")
    if name in fields:
        raise WireError(f"the field {name} is repeated")
    if len(fields) >= ANSWER_FIELDS_MAX:
        raise WireError(f"more than {ANSWER_FIELDS_MAX} fields")
    fields[name] = value


def encode_answer(fields: dict[str, str]) -> str:
    """The inverse of :func:`parse_answer` for values without a bare ``&``."""
    return "&".join(f"{name}={value}" for name, value in fields.items())


def read_form(body: bytes, fields_max: int = ANSWER_FIELDS_MAX) -> dict[str, str]:
    """A URL-encoded UTF-8 form without repeated fields; WireError otherwise."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=fields_max,
        )
    except (UnicodeDecodeError, ValueError):
        raise WireError("not a UTF-8 form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise WireError("a field is repeated")
    return form


def encode_form(fields: dict[str, str]) -> str:
    return urlencode(fields)


# --- amounts and times ---------------------------------------------------------------------------
def parse_fen(text: object, name: str) -> int:
    """``"1050"`` → 1050; WireError for anything but 1 to 12 digits."""
    if not isinstance(text, str) or not _AMOUNT.fullmatch(text):
        raise WireError(f"{name} is not an amount in fen: {text!r}")
    return int(text)


def format_fen(fen: int) -> str:
    if isinstance(fen, bool) or not isinstance(fen, int) or not 0 < fen < 10**AMOUNT_DIGITS_MAX:
        raise WireError(f"not a positive amount of at most {AMOUNT_DIGITS_MAX} digits: {fen!r}")
    return str(fen)


def format_time(moment: datetime) -> str:
    """An aware datetime as Beijing ``yyyyMMddHHmmss``."""
    if moment.tzinfo is None:
        raise WireError("the time must be timezone-aware")
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_time(text: object, name: str) -> datetime:
    """Beijing ``yyyyMMddHHmmss`` as an aware UTC datetime."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise WireError(f"{name} is not a time yyyyMMddHHmmss: {text!r}")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=BEIJING).astimezone(UTC)
    except ValueError:
        raise WireError(f"{name} is not a time: {text!r}") from None


# --- order numbers -------------------------------------------------------------------------------
def order_id(out_no: str) -> str:
    """Our number as an ``orderId`` (escaped as the module docstring says)."""
    if not _OUT_NO.fullmatch(out_no):
        raise WireError("UnionPay order numbers take letters, digits, '_' and '-' only")
    encoded = "".join(_ESCAPES.get(char, char) for char in out_no)
    if not ORDER_ID_MIN <= len(encoded) <= ORDER_ID_MAX:
        raise WireError(
            f"the UnionPay orderId of {out_no!r} would be {len(encoded)} characters, "
            f"not {ORDER_ID_MIN} to {ORDER_ID_MAX}"
        )
    return encoded


def out_trade_no(order: str) -> str:
    """The number :func:`order_id` made ``order`` from; WireError if it made none."""
    if not _ORDER_ID.fullmatch(order):
        raise WireError(f"orderId {order!r} is not letters and digits")
    chars: list[str] = []
    escaped = False
    for char in order:
        if escaped:
            if char not in _UNESCAPES:
                raise WireError(f"orderId {order!r} was not made by this connector")
            chars.append(_UNESCAPES[char])
            escaped = False
        elif char == ESCAPE:
            escaped = True
        else:
            chars.append(char)
    if escaped:
        raise WireError(f"orderId {order!r} was not made by this connector")
    return "".join(chars)


# --- locators ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Locator:
    """How to find one transaction again: its ``queryId``, or its ``txnTime`` (with the
    ``orderId`` the caller knows) and, for a payment, its ``payTimeout``."""

    query_id: str | None = None
    txn_time: str | None = None
    pay_timeout: str | None = None

    def __str__(self) -> str:
        if self.query_id is not None:
            return self.query_id
        fields = {"txnTime": self.txn_time or ""}
        if self.pay_timeout:
            fields["payTimeout"] = self.pay_timeout
        return urlencode(fields)

    def pay_timeout_at(self) -> datetime | None:
        return parse_time(self.pay_timeout, "payTimeout") if self.pay_timeout else None


def parse_locator(text: str) -> Locator:
    """A ``channel_trade_no`` / ``channel_refund_no`` written by this connector."""
    if text.startswith("txnTime="):
        fields = dict(parse_qsl(text, keep_blank_values=True))
        txn_time = fields.get("txnTime", "")
        pay_timeout = fields.get("payTimeout") or None
        if not _TIME.fullmatch(txn_time) or (
            pay_timeout is not None and not _TIME.fullmatch(pay_timeout)
        ):
            raise WireError(f"{text!r} is not a UnionPay locator")
        return Locator(txn_time=txn_time, pay_timeout=pay_timeout)
    if not _QUERY_ID.fullmatch(text):
        raise WireError(f"{text!r} is neither a UnionPay queryId nor a locator")
    return Locator(query_id=text)
