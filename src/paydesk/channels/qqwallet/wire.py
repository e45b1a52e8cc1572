"""Reading and writing QQ Wallet's wire: flat XML bodies, typed fields, Beijing times, and the
meaning of an answer's ``return_code`` / ``result_code``. Pure functions.

**XML.** A body is ``<xml><name>value</name>...</xml>``: one level of elements, each a field.
Bodies we write escape ``&``, ``<`` and ``>`` in values. Bodies we read come from the network
and are parsed with ``defusedxml`` with DTDs, entity declarations and external references all
forbidden (an untrusted ``<!DOCTYPE`` is refused outright, never expanded); a body over
:data:`XML_BYTES_MAX`, a root other than ``xml``, a nested element, a repeated field or more
than :data:`FIELDS_MAX` fields is refused too (:class:`XmlRefused`). CDATA sections read as
their text.

**Answers.** ``return_code`` says whether the call was received and understood: ``FAIL``
(with ``return_msg``; a bad request signature, malformed XML) is not signed, so it is read as a
refusal of our request and changes nothing on our side (:class:`ChannelRejected`). With
``return_code`` ``SUCCESS`` the answer is signed and the connector verifies it first; then
``result_code`` says whether the business call succeeded: ``FAIL`` carries ``err_code`` and
``err_code_des``. ``SYSTEMERROR`` (系统错误: query, or retry with the same numbers) is
:class:`ChannelUnavailable`; ``ORDERNOTEXIST`` is :class:`PaymentNotFound`; any other code is
:class:`QQWalletRejected` (a :class:`ChannelRejected`) carrying it as ``err_code``. The
channel's codes and messages go into ours, cut to a bounded size (they never carry our
secrets).

**Fields.** A missing or malformed required field is a :class:`ChannelError` naming it; fen
are decimal digits (no sign, no decimals); times are ``yyyyMMddHHmmss`` in Beijing time
(UTC+8), read as aware UTC datetimes; a naive datetime we send is taken as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree

from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    ChannelUnavailable,
    PaymentNotFound,
)

XML_BYTES_MAX = 64 * 1024
FIELDS_MAX = 200
MESSAGE_CHARS_MAX = 300
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y%m%d%H%M%S"
CURRENCY = "CNY"
SUCCESS = "SUCCESS"
SYSTEM_ERROR = "SYSTEMERROR"
ORDER_NOT_EXIST = "ORDERNOTEXIST"
TRANSIENT_CODES = frozenset({SYSTEM_ERROR})
OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,32}")
OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,32}")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_FEN = re.compile(r"0|[1-9][0-9]{0,15}")

Fields = dict[str, str]


class XmlRefused(ValueError):
    """A body that is not a flat QQ Wallet XML document we are willing to read."""


class QQWalletRejected(ChannelRejected):
    """QQ Wallet refused the request (``result_code`` FAIL); its ``err_code`` is kept."""

    def __init__(self, message: str, *, err_code: str) -> None:
        super().__init__(message)
        self.err_code = err_code


# --- XML ----------------------------------------------------------------------------------------
def to_xml(fields: Mapping[str, str]) -> bytes:
    """``<xml><name>value</name>...</xml>`` in UTF-8, values escaped."""
    for name in fields:
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"not a field name: {name!r}")
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f"<xml>{inner}</xml>".encode()


def from_xml(body: bytes) -> Fields:
    """The fields of a flat XML body; :class:`XmlRefused` for anything else (see above)."""
    if len(body) > XML_BYTES_MAX:
        raise XmlRefused(f"the body is over {XML_BYTES_MAX} bytes")
    try:
        root = defusedxml.ElementTree.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise XmlRefused(f"the XML declares a DTD or entities ({type(exc).__name__})") from None
    except (ParseError, ValueError, UnicodeError):
        raise XmlRefused("the body is not well-formed XML") from None
    if root.tag != "xml" or (root.text or "").strip():
        raise XmlRefused("the root element must be <xml> holding fields only")
    fields: Fields = {}
    for element in root:
        name = element.tag
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name) or len(element):
            raise XmlRefused("a field is not a plain element")
        if name in fields:
            raise XmlRefused(f"the field {name} is repeated")
        if (element.tail or "").strip():
            raise XmlRefused("text between fields")
        fields[name] = element.text or ""
        if len(fields) > FIELDS_MAX:
            raise XmlRefused(f"more than {FIELDS_MAX} fields")
    return fields


# --- fields -------------------------------------------------------------------------------------
def text(fields: Mapping[str, str], name: str, where: str) -> str:
    """A required non-empty field."""
    value = fields.get(name, "")
    if not value:
        raise ChannelError(f"QQ Wallet {where}: {name} is missing")
    return value


def optional_text(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name, "")
    return value or None


def fen(fields: Mapping[str, str], name: str, where: str) -> int:
    """A required amount in fen: decimal digits."""
    value = text(fields, name, where)
    if not _FEN.fullmatch(value):
        raise ChannelError(f"QQ Wallet {where}: {name} is not a number of fen: {value[:40]!r}")
    return int(value)


def moment(fields: Mapping[str, str], name: str, where: str) -> datetime | None:
    """An optional ``yyyyMMddHHmmss`` Beijing time as aware UTC."""
    value = fields.get(name, "")
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise ChannelError(f"QQ Wallet {where}: {name} is not yyyyMMddHHmmss") from None
    return parsed.replace(tzinfo=BEIJING).astimezone(UTC)


def beijing(moment_: datetime) -> str:
    """``yyyyMMddHHmmss`` in Beijing time; a naive time is taken as UTC."""
    aware = moment_ if moment_.tzinfo is not None else moment_.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime(TIME_FORMAT)


def checked_number(value: str, pattern: re.Pattern[str], param: str) -> str:
    """``value`` when it has QQ Wallet's shape for ``param``; :class:`ChannelRejected`."""
    if not pattern.fullmatch(value):
        raise ChannelRejected(f"{param} {value!r} is not a valid QQ Wallet number", param=param)
    return value


# --- answers ------------------------------------------------------------------------------------
def _cut(value: str) -> str:
    return value.strip()[:MESSAGE_CHARS_MAX]


def received(answer: Mapping[str, str]) -> bool:
    """``return_code`` is SUCCESS: the answer is signed and its ``result_code`` counts."""
    return answer.get("return_code") == SUCCESS


def communication_failure(operation: str, answer: Mapping[str, str]) -> ChannelError:
    """The error for a ``return_code`` other than SUCCESS (unsigned, so never trusted to say
    more than "refused")."""
    code = answer.get("return_code", "")
    if not code:
        return ChannelError(f"QQ Wallet {operation}: the answer has no return_code")
    detail = _cut(answer.get("return_msg", "") or answer.get("retmsg", ""))
    retcode = answer.get("retcode", "")
    suffix = f" (retcode {retcode[:20]})" if retcode else ""
    return ChannelRejected(f"QQ Wallet {operation}: {code[:20]}: {detail}{suffix}")


def business_failure(operation: str, answer: Mapping[str, str]) -> ChannelError | None:
    """None when ``result_code`` is SUCCESS; else the error its ``err_code`` means."""
    result = answer.get("result_code", "")
    if result == SUCCESS:
        return None
    if not result:
        return ChannelError(f"QQ Wallet {operation}: the answer has no result_code")
    code = answer.get("err_code", "")[:40]
    summary = (
        f"QQ Wallet {operation}: {code or '(no err_code)'}: {_cut(answer.get('err_code_des', ''))}"
    )
    if code in TRANSIENT_CODES:
        return ChannelUnavailable(summary)
    if code == ORDER_NOT_EXIST:
        return PaymentNotFound(summary)
    return QQWalletRejected(summary, err_code=code)
