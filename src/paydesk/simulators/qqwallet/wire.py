"""The simulator's side of QQ Wallet's wire: signatures, flat XML, field checks. Pure.

Written apart from the connector's modules on purpose: the simulator is the second
implementation the connector is tested against, and the published signature vectors pin both.

- ``sign``: every field but ``sign`` with a value that is not blank, sorted by name,
  ``name=value`` joined by ``&``, then ``&key=<API key>``; MD5 (upper-case hex) or
  HMAC-SHA256 keyed with the API key (upper-case hex), as ``sign_type`` says; no
  ``sign_type``: MD5.
- XML is read with ``defusedxml``, DTDs, entities and external references forbidden; one level
  of fields under ``<xml>``; at most :data:`BODY_BYTES_MAX` bytes. Values are written escaped.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree

from paydesk.simulators.qqwallet.errors import LackParams, ParamError, XmlFormatError

BODY_BYTES_MAX = 64 * 1024
FIELDS_MAX = 200
MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)
BLANK = " \t\r\n\x0b\x0c\x00"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y%m%d%H%M%S"
NUMBER = re.compile(r"[A-Za-z0-9_\-|*@]{1,32}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_FEN = re.compile(r"[1-9][0-9]{0,11}")

Fields = dict[str, str]


# --- signatures ---------------------------------------------------------------------------------
def sign(fields: Mapping[str, str], api_key: str, sign_type: str) -> str:
    names = sorted(name for name, value in fields.items() if name != "sign" and value.strip(BLANK))
    text = ("&".join(f"{name}={fields[name]}" for name in names) + "&key=" + api_key).encode()
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text, usedforsecurity=False).hexdigest().upper()


def sign_holds(fields: Mapping[str, str], api_key: str, sign_type: str) -> bool:
    given = fields.get("sign", "").upper()
    return bool(given) and hmac.compare_digest(
        given.encode(), sign(fields, api_key, sign_type).encode()
    )


def signed(
    fields: Mapping[str, str], api_key: str, sign_type: str, *, forge: bool = False
) -> Fields:
    """``fields`` with their ``sign``; ``forge``: signed with a random key instead."""
    key = secrets.token_hex(16) if forge else api_key
    return {**fields, "sign": sign(fields, key, sign_type)}


def password_md5(password: str) -> str:
    return hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()


# --- XML ----------------------------------------------------------------------------------------
def to_xml(fields: Mapping[str, str]) -> bytes:
    inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return f"<xml>{inner}</xml>".encode()


def from_xml(body: bytes) -> Fields:
    """The fields of a request body; :class:`XmlFormatError` for anything else."""
    if len(body) > BODY_BYTES_MAX:
        raise XmlFormatError(f"the body must be at most {BODY_BYTES_MAX} bytes")
    try:
        root = defusedxml.ElementTree.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise XmlFormatError("DTDs and entities are not accepted") from None
    except (ParseError, ValueError, UnicodeError):
        raise XmlFormatError("the body is not well-formed XML") from None
    if root.tag != "xml":
        raise XmlFormatError("the root element must be <xml>")
    fields: Fields = {}
    for element in root:
        if not isinstance(element.tag, str) or not _NAME.fullmatch(element.tag) or len(element):
            raise XmlFormatError("every field must be a plain element under <xml>")
        if element.tag in fields:
            raise XmlFormatError(f"the field {element.tag} is repeated")
        fields[element.tag] = element.text or ""
        if len(fields) > FIELDS_MAX:
            raise XmlFormatError(f"at most {FIELDS_MAX} fields")
    return fields


# --- fields -------------------------------------------------------------------------------------
def required(fields: Mapping[str, str], name: str, chars_max: int = 256) -> str:
    value = fields.get(name, "")
    if not value.strip(BLANK):
        raise LackParams(f"缺少参数 {name} (required)")
    if len(value) > chars_max:
        raise ParamError(f"{name} is longer than {chars_max} characters")
    return value


def optional(fields: Mapping[str, str], name: str, chars_max: int = 256) -> str | None:
    value = fields.get(name, "")
    if not value.strip(BLANK):
        return None
    if len(value) > chars_max:
        raise ParamError(f"{name} is longer than {chars_max} characters")
    return value


def number(fields: Mapping[str, str], name: str) -> str:
    value = required(fields, name)
    if not NUMBER.fullmatch(value):
        raise ParamError(f"{name} must be 1 to 32 of A-Z a-z 0-9 _ - | * @")
    return value


def fen(fields: Mapping[str, str], name: str) -> int:
    value = required(fields, name)
    if not _FEN.fullmatch(value):
        raise ParamError(f"{name} must be a positive whole number of fen")
    return int(value)


def beijing_time(fields: Mapping[str, str], name: str) -> datetime | None:
    value = optional(fields, name)
    if value is None:
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise ParamError(f"{name} must be yyyyMMddHHmmss") from None


def beijing_now(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(int(epoch_s), UTC).astimezone(BEIJING)


def beijing_text(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)
