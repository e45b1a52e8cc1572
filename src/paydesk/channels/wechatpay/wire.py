"""Reading WeChat Pay API v3 answers: typed field access, JSON bodies, error answers, numbers.

Shared by :mod:`.transformers` (the mapping onto our types) and :mod:`.connector`. Rules:

- A missing or ill-typed field is a :class:`ChannelError` naming it (never a default guessed
  for a required field). Amounts are integer fen (``bool`` is not an integer here); times are
  RFC 3339 with an offset, read as aware UTC datetimes.
- An answer outside 2xx is ``{"code", "message"}`` (CHANNELS.md; the SDK does not verify error
  answers). 5xx and 429 (``FREQUENCY_LIMITED``) → :class:`ChannelUnavailable` (transient);
  other 4xx → :class:`ChannelRejected`; anything else → :class:`ChannelError`. The channel's
  code and message go into our message (they never carry our secrets), cut to a bounded size.
- ``out_trade_no`` is 6-32 and ``out_refund_no`` 1-64 of WeChat's documented characters; both
  are checked before a call because the SDK puts them into URL paths unescaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    ChannelUnavailable,
    PaymentNotFound,
)

JsonObject = dict[str, Any]

CURRENCY = "CNY"
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
"""The code of a 404 to a query of a payment the platform never received."""
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
ERROR_MESSAGE_CHARS_MAX = 300
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")


def field(data: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    """``data[name]`` when it is a non-empty ``kind`` (never a ``bool``)."""
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) or value == "":
        raise ChannelError(f"WeChat Pay {where}: {name} is missing or not a {kind.__name__}")
    return value


def text(data: Mapping[str, Any], name: str, where: str) -> str:
    """A required non-empty string."""
    return str(field(data, name, str, where))


def optional_text(data: Mapping[str, Any], name: str) -> str | None:
    """A string when present and non-empty, else None."""
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def json_object(data: Mapping[str, Any], name: str, where: str) -> JsonObject:
    """A required object."""
    return dict(field(data, name, dict, where))


def fen(data: Mapping[str, Any], name: str, where: str) -> int:
    """A required amount in fen: an integer, not negative."""
    value = int(field(data, name, int, f"{where} amount"))
    if value < 0:
        raise ChannelError(f"WeChat Pay {where}: amount.{name} is negative")
    return value


def currency_of(amount: Mapping[str, Any]) -> str:
    """``amount.currency``; CNY where the wire leaves it out (refund notifications)."""
    currency = amount.get("currency", CURRENCY)
    if not isinstance(currency, str) or not currency:
        raise ChannelError("WeChat Pay amount.currency is not a currency code")
    return currency


def moment_of(data: Mapping[str, Any], name: str, where: str) -> datetime | None:
    """An optional RFC 3339 time with an offset, as aware UTC."""
    raw = data.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise ChannelError(f"WeChat Pay {where}: {name} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ChannelError(f"WeChat Pay {where}: {name} has no time zone offset")
    return moment.astimezone(UTC)


def rfc3339_beijing(moment: datetime) -> str:
    """``2024-05-20T13:29:35+08:00``; a naive time is taken as UTC (Paydesk's convention)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).isoformat(timespec="seconds")


def json_answer(body: str | bytes, where: str) -> JsonObject:
    """An answer's body as a JSON object."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ChannelError(f"WeChat Pay {where}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ChannelError(f"WeChat Pay {where}: the answer is not a JSON object")
    return data


def answer_error(operation: str, status_code: int, body: str | bytes) -> ChannelError:
    """The error for a non-2xx answer, carrying the channel's code and message."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    code, message = "", body.strip()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        code, message = str(data.get("code", "")), str(data.get("message", ""))
    message = message[:ERROR_MESSAGE_CHARS_MAX]
    summary = f"WeChat Pay {operation}: HTTP {status_code} {code or '(no code)'}: {message}"
    if status_code >= 500 or status_code == 429:
        return ChannelUnavailable(summary)
    if status_code == 404 and code == ORDER_NOT_EXIST:
        return PaymentNotFound(summary)
    if 400 <= status_code < 500:
        return ChannelRejected(summary)
    return ChannelError(summary)


def checked_number(value: str, pattern: re.Pattern[str], param: str) -> str:
    """``value`` when it has WeChat's shape for ``param``; :class:`ChannelRejected` otherwise."""
    if not pattern.fullmatch(value):
        raise ChannelRejected(f"{param} {value!r} is not a valid WeChat Pay number", param=param)
    return value
