"""Signing webhook deliveries, and verifying them at the receiver. Pure: no database, no web.

A delivery's body is its event as compact JSON with sorted keys, serialized once
(:func:`event_body`); what is signed is exactly what is sent. The signature header is::

    Paydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

The timestamp is part of what is signed, so a captured delivery cannot be replayed later with a
fresh timestamp; :func:`verify` refuses one older (or newer) than its tolerance. A receiver
may see several ``v1=`` values (one per secret, should we ever sign with two during a
rotation); one matching value is enough.

Error hierarchy::

    SignatureError (ValueError)
    ├── SignatureHeaderInvalid    the header is missing, malformed, or has no v1 signature
    ├── SignatureTimestampInvalid the timestamp is outside the tolerance
    └── SignatureMismatch         no v1 signature matches this body and secret
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "Paydesk-Signature"
EVENT_ID_HEADER = "Paydesk-Event-Id"
EVENT_TYPE_HEADER = "Paydesk-Event-Type"
USER_AGENT = "Paydesk-Webhooks/1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_RANDOM_BYTES = 32
"""256 random bits, url-safe base64 (43 characters) after the prefix."""
SECRET_DISPLAY_LENGTH = len(SECRET_PREFIX) + 4
"""How much of a secret lists show to tell secrets apart (``whsec_AbC1``)."""
TOLERANCE_S_DEFAULT = 300
SCHEME = "v1"
HEADER_LENGTH_MAX = 1000


class SignatureError(ValueError):
    """The delivery cannot be trusted; the message says why (never the expected value)."""


class SignatureHeaderInvalid(SignatureError):
    pass


class SignatureTimestampInvalid(SignatureError):
    pass


class SignatureMismatch(SignatureError):
    pass


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + 32 url-safe random bytes."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_RANDOM_BYTES)


def secret_display(secret: str) -> str:
    """The part of a secret that may be shown (``whsec_AbC1``)."""
    return secret[:SECRET_DISPLAY_LENGTH]


def event_body(
    *, event_id: str, event_type: str, created: int, livemode: bool, data: Mapping[str, Any]
) -> bytes:
    """The body of every delivery of an event: compact JSON with sorted keys, UTF-8."""
    document = {
        "id": event_id,
        "type": event_type,
        "created": created,
        "livemode": livemode,
        "data": dict(data),
    }
    text = json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.encode()


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, timestamp: int) -> str:
    """The ``Paydesk-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    if not secret:
        raise ValueError("the signing secret is empty")
    return f"t={int(timestamp)},{SCHEME}={_digest(secret, _as_bytes(body), int(timestamp))}"


def delivery_headers(
    secret: str, body: bytes, *, event_id: str, event_type: str, timestamp: int
) -> dict[str, str]:
    """Every header of a delivery: signature, event id and type, content type, user agent."""
    return {
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} header is missing")
    if len(header) > HEADER_LENGTH_MAX:
        raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} header is malformed")
        if name == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} timestamp is malformed")
            timestamp = int(value)
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} header has no timestamp")
    if not signatures:
        raise SignatureHeaderInvalid(f"the {SIGNATURE_HEADER} header has no {SCHEME} signature")
    return timestamp, signatures


def verify(
    secret: str,
    header: str | None,
    body: bytes | str,
    *,
    tolerance_s: int = TOLERANCE_S_DEFAULT,
    now: float | None = None,
) -> int:
    """Check a delivery's ``Paydesk-Signature`` against its raw ``body``; its timestamp if good.

    ``body`` must be the bytes as received (not re-serialized JSON). The timestamp must lie
    within ``tolerance_s`` seconds of ``now`` (default: the system clock) either way. Raises
    a :class:`SignatureError` subclass otherwise.
    """
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureTimestampInvalid(
            f"the signature timestamp is more than {tolerance_s} s from now"
        )
    expected = _digest(secret, _as_bytes(body), timestamp)
    # Compare with every v1 value, without stopping early, in constant time each.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureMismatch("no signature matches the body and secret")
    return timestamp
