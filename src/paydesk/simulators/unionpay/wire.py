"""Wire formats of the simulated gateway.

- Requests are URL-encoded forms; answers are ``name=value&...`` with raw values (not
  URL-encoded), as the acp SDK's ``parseQString`` reads them; notifications and return forms
  are URL-encoded forms again.
- Amounts are integers of fen (``txnAmt``, 1 to 12 digits); ``currencyCode`` 156.
- Times are Beijing time, ``yyyyMMddHHmmss``; ``traceTime`` is ``MMDDhhmmss`` and
  ``settleDate`` ``MMDD``.
- ``orderId``: 8 to 40 letters and digits ("不能含“-”或“_”", as UnionPay's API pages say).
- ``queryId``: 21 digits, the time then 7 random digits (the shape of the real ones);
  ``traceNo``: 6 digits.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl

from paydesk.simulators.unionpay.errors import FormatError, MissingField

TIME_FORMAT = "%Y%m%d%H%M%S"
CNY = "156"
BODY_BYTES_MAX = 256 * 1024
_ORDER_ID = re.compile(r"[0-9A-Za-z]{8,40}")
_AMOUNT = re.compile(r"[0-9]{1,12}")
_TIME = re.compile(r"[0-9]{14}")
_SETTLE_DATE = re.compile(r"(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])")


def parse_form(body: bytes) -> dict[str, str]:
    """A URL-encoded UTF-8 form (a repeated field keeps its last value)."""
    if len(body) > BODY_BYTES_MAX:
        raise FormatError("请求过大")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("encoding") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def encode_answer(fields: Mapping[str, str]) -> bytes:
    """``name=value&...`` in name order, raw values."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields)).encode("utf-8")


def require(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise MissingField(name)
    return value


def expect(fields: Mapping[str, str], name: str, *allowed: str) -> str:
    value = require(fields, name)
    if value not in allowed:
        raise FormatError(name)
    return value


def order_id(fields: Mapping[str, str]) -> str:
    value = require(fields, "orderId")
    if not _ORDER_ID.fullmatch(value):
        raise FormatError("orderId")
    return value


def amount(fields: Mapping[str, str], name: str = "txnAmt") -> int:
    value = require(fields, name)
    if not _AMOUNT.fullmatch(value) or int(value) <= 0:
        raise FormatError(name)
    return int(value)


def parse_time(text: str, name: str) -> datetime:
    """A naive Beijing time from ``yyyyMMddHHmmss``."""
    if not _TIME.fullmatch(text):
        raise FormatError(name)
    try:
        return datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        raise FormatError(name) from None


def txn_time(fields: Mapping[str, str], name: str = "txnTime") -> str:
    value = require(fields, name)
    parse_time(value, name)
    return value


def settle_date(fields: Mapping[str, str]) -> str:
    value = require(fields, "settleDate")
    if not _SETTLE_DATE.fullmatch(value):
        raise FormatError("settleDate")
    return value


def url(fields: Mapping[str, str], name: str, *, required: bool) -> str:
    value = fields.get(name, "")
    if not value:
        if required:
            raise MissingField(name)
        return ""
    if not value.startswith(("https://", "http://")):
        raise FormatError(name)
    return value


def format_time(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def trace_time(moment: datetime) -> str:
    return moment.strftime("%m%d%H%M%S")


def format_yuan(fen: int) -> str:
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"


def new_query_id(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}{secrets.randbelow(10**7):07d}"


def new_trace_no() -> str:
    return f"{secrets.randbelow(10**6):06d}"
