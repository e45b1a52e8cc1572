# ruff: noqa: RUF001 - messages in the gateway's own Chinese, full-width punctuation
"""Wire formats of the open platform: amounts, times, identifiers and ``timeout_express``.

- Amounts are yuan with at most two decimals on the way in (``"88.88"``; a JSON number is
  accepted as its decimal text) and always two decimals on the way out. Inside the simulator
  an amount is an ``int`` of fen, never a float.
- Times are Beijing time, ``yyyy-MM-dd HH:mm:ss``; ``gmt_refund`` in notifications carries
  milliseconds (``yyyy-MM-dd HH:mm:ss.SSS``).
- ``trade_no`` looks like the real one: 28 digits, the date then ``22001`` then 15 digits.
- ``timeout_express`` is ``<n>m|h|d`` or ``1c`` (until the end of the day), 1m to 15d.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from paydesk.simulators.alipay.errors import InvalidParameter

FEN_PER_YUAN = 100
AMOUNT_FEN_MIN = 1  # 0.01 yuan
AMOUNT_FEN_MAX = 100_000_000 * FEN_PER_YUAN  # the gateway's ceiling: 100,000,000.00 yuan
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_TIMEOUT_PATTERN = re.compile(r"^(\d{1,4})([mhd])$")
_TIMEOUT_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
TIMEOUT_S_MIN = 60
TIMEOUT_S_MAX = 15 * 86400


def parse_amount_fen(value: object, name: str) -> int:
    """An amount in yuan (string or JSON number) as fen; refuses more than two decimals."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidParameter(f"{name} 格式错误")
    try:
        yuan = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidParameter(f"{name} 格式错误") from None
    fen = yuan * FEN_PER_YUAN
    if not yuan.is_finite() or fen != fen.to_integral_value():
        raise InvalidParameter(f"{name} 格式错误")
    if not AMOUNT_FEN_MIN <= fen <= AMOUNT_FEN_MAX:
        raise InvalidParameter(f"{name} 超出范围 [0.01, 100000000]")
    return int(fen)


def format_yuan(fen: int) -> str:
    """Fen as yuan with two decimals, minus sign included (``-0.01``)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def format_time(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss``."""
    return moment.strftime(TIME_FORMAT)


def format_time_ms(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSS``, as ``gmt_refund`` is written."""
    return f"{moment.strftime(TIME_FORMAT)}.{moment.microsecond // 1000:03d}"


def parse_time(text: str) -> datetime | None:
    """A naive datetime from ``yyyy-MM-dd HH:mm:ss``, or None if the text is not one."""
    try:
        return datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        return None


def check_merchant_id(value: object, name: str) -> str:
    """A merchant-chosen number (``out_trade_no``, ``out_request_no``): letters, digits and
    underscores, at most 64 characters."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InvalidParameter(f"{name} 只能由字母、数字、下划线组成，且不超过64位")
    return value


def new_trade_no(moment: datetime) -> str:
    """A 28-digit trade number like the gateway's."""
    return f"{moment:%Y%m%d}22001{secrets.randbelow(10**15):015d}"


def new_buyer_user_id() -> str:
    """A 16-digit buyer id (``2088...``)."""
    return f"2088{secrets.randbelow(10**12):012d}"


def new_notify_id() -> str:
    """A notification id; retries and duplicates of one notification share it."""
    return secrets.token_hex(17)


def timeout_s(value: object, *, default_s: int) -> int:
    """Seconds from a ``timeout_express`` (``90m``, ``2h``, ``1d``); ``1c`` is read as one
    day. None or empty means ``default_s``."""
    if value is None or value == "":
        return default_s
    if value == "1c":
        return 86400
    match = _TIMEOUT_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter("timeout_express 格式错误")
    seconds = int(match.group(1)) * _TIMEOUT_UNIT_S[match.group(2)]
    if not TIMEOUT_S_MIN <= seconds <= TIMEOUT_S_MAX:
        raise InvalidParameter("timeout_express 取值范围 1m～15d")
    return seconds


def share_fen(amount_fen: int, bps: int) -> int:
    """``amount_fen * bps / 10000`` rounded half up (fees are never negative here)."""
    return (amount_fen * bps * 2 + 10_000) // 20_000


def elapsed(start: datetime, seconds: float) -> datetime:
    """``start`` plus ``seconds``."""
    return start + timedelta(seconds=seconds)
