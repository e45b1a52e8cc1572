"""The Midas wire format: a request's JSON body turned into a checked :class:`MidasCall`.

Nothing past this module knows Midas field names except the answers the flows build. Every
parameter a client sends is signed, so the call keeps them all (``params``) exactly as sent;
unknown parameters are accepted if they are strings or integers, like the optional
``user_ip``, ``pay_item`` and ``app_remark``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from paydesk.midas.errors import BadParameter
from paydesk.midas.signing import ACCESS_TOKEN, ParamValue

PARAMS_MAX = 32
PARAM_NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
TEXT_LENGTH_MAX = 1024
UINT32_MAX = 2**32 - 1
"""Midas amounts (``amt``, ``present_counts``) are unsigned 32-bit integers."""
TS_SKEW_S_MAX = 600
"""A request's ``ts`` may be this many seconds before or after the server's clock."""

OPENID_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")
ZONE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
"""No ``:`` so that no live zone can be spelled like a ``sandbox:`` one; 32 characters leave
room for that prefix within a wallet zone's 40."""
BILL_NO_PATTERN = re.compile(r"^[\x21-\x25\x27-\x3c\x3e-\x7e]{1,64}$")
"""Printable ASCII without ``&`` and ``=``, which would blur the signed ``k=v&`` text."""


class Action(StrEnum):
    GETBALANCE = "getbalance"
    PAY = "pay"
    CANCELPAY = "cancelpay"
    PRESENT = "present"


_COMMON_TEXT = ("openid", "appid", "offer_id", "zone_id", "pf", "sig", "mp_sig")
_REQUIRED_TEXT: dict[Action, tuple[str, ...]] = {
    Action.GETBALANCE: _COMMON_TEXT,
    Action.PAY: (*_COMMON_TEXT, "bill_no"),
    Action.CANCELPAY: (*_COMMON_TEXT, "bill_no"),
    Action.PRESENT: (*_COMMON_TEXT, "bill_no"),
}
_AMOUNT_FIELD: dict[Action, str | None] = {
    Action.GETBALANCE: None,
    Action.PAY: "amt",
    Action.CANCELPAY: None,
    Action.PRESENT: "present_counts",
}


@dataclass(frozen=True, slots=True)
class MidasCall:
    action: Action
    params: dict[str, ParamValue]
    """Every body parameter as sent, ``sig`` and ``mp_sig`` included: what is signed."""
    openid: str
    appid: str
    offer_id: str
    zone_id: str
    ts: int
    """Unix seconds, when the client signed."""
    sig: str
    mp_sig: str
    bill_no: str | None
    amount: int | None
    """``amt`` of pay or ``present_counts`` of present, in the currency's minor units."""


def _object(body: bytes) -> dict[str, Any]:
    try:
        loaded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadParameter("the body is not valid JSON") from None
    if not isinstance(loaded, dict):
        raise BadParameter("the body must be a JSON object")
    return loaded


def _params(raw: dict[str, Any]) -> dict[str, ParamValue]:
    if len(raw) > PARAMS_MAX:
        raise BadParameter(f"at most {PARAMS_MAX} parameters")
    params: dict[str, ParamValue] = {}
    for name, value in raw.items():
        if not PARAM_NAME_PATTERN.match(name) or name == ACCESS_TOKEN:
            raise BadParameter(f"unexpected parameter {name[:40]!r}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadParameter(f"{name} must be a string or an integer")
        if isinstance(value, str) and len(value) > TEXT_LENGTH_MAX:
            raise BadParameter(f"{name} is longer than {TEXT_LENGTH_MAX} characters")
        params[name] = value
    return params


def _text(params: dict[str, ParamValue], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise BadParameter(f"{name} is required")
    if not isinstance(value, str):
        raise BadParameter(f"{name} must be a string")
    return value


def _integer(params: dict[str, ParamValue], name: str, low: int, high: int) -> int:
    value = params.get(name)
    if value is None:
        raise BadParameter(f"{name} is required")
    if not isinstance(value, int):
        raise BadParameter(f"{name} must be an integer")
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}")
    return value


def parse(action: Action, body: bytes) -> MidasCall:
    """The call a body makes, or :class:`BadParameter` (90018) naming the first problem."""
    params = _params(_object(body))
    text = {name: _text(params, name) for name in _REQUIRED_TEXT[action]}
    ts = _integer(params, "ts", 0, UINT32_MAX)
    if not OPENID_PATTERN.match(text["openid"]):
        raise BadParameter("openid is 1 to 128 printable ASCII characters")
    if not ZONE_ID_PATTERN.match(text["zone_id"]):
        raise BadParameter("zone_id is 1 to 32 of A-Z a-z 0-9 _ . -")
    bill_no = text.get("bill_no")
    if bill_no is not None and not BILL_NO_PATTERN.match(bill_no):
        raise BadParameter("bill_no is 1 to 64 printable ASCII characters, no & or =")
    amount_field = _AMOUNT_FIELD[action]
    amount = _integer(params, amount_field, 1, UINT32_MAX) if amount_field else None
    return MidasCall(
        action=action,
        params=params,
        openid=text["openid"],
        appid=text["appid"],
        offer_id=text["offer_id"],
        zone_id=text["zone_id"],
        ts=ts,
        sig=text["sig"],
        mp_sig=text["mp_sig"],
        bill_no=bill_no,
        amount=amount,
    )


def check_ts(call: MidasCall, now: datetime) -> None:
    """Refuse a call signed too long ago (or in the future): a captured request cannot be
    replayed later, and a client with a wrong clock hears why."""
    if abs(now.timestamp() - call.ts) > TS_SKEW_S_MAX:
        raise BadParameter(f"ts is more than {TS_SKEW_S_MAX} s away from the server's time")
