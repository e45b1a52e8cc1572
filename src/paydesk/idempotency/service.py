"""Idempotency of mutating API requests.

The record of a key is inserted at the start of the request's own transaction and completed
with the response before it commits, so the record exists exactly when the effect does:

* a replay (same key, same method, path and body) returns the stored response;
* the same key with a different request fails with ``idempotency_key_reused``;
* two concurrent requests with one key: on PostgreSQL the second insert waits on the unique
  index until the first commits, then fails, and the caller replays the stored response; on
  SQLite ``BEGIN IMMEDIATE`` runs them one after the other. Either way, one effect.
* a request that fails rolls back, record included, so retrying it runs it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.idempotency.models import IdempotencyRecord

KEY_LENGTH_MAX = 255
_KEY_PATTERN = re.compile(rf"^[\x21-\x7e]{{1,{KEY_LENGTH_MAX}}}$")
IN_PROGRESS = 0


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    transient = True


class InvalidIdempotencyKey(InvalidRequest):
    code = "invalid_idempotency_key"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: str


def check_key(key: str) -> str:
    if not _KEY_PATTERN.match(key):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {KEY_LENGTH_MAX} printable ASCII characters",
            param="Idempotency-Key",
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 over the method, the path and the body in canonical JSON form (key order and
    whitespace do not make two requests different)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    digest.update(method.upper().encode() + b"\n" + path.encode() + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def replay(record: IdempotencyRecord, request_hash: str) -> StoredResponse:
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request",
            param="Idempotency-Key",
        )
    if record.status_code == IN_PROGRESS:
        raise IdempotencyKeyInUse(
            "a request with this Idempotency-Key is still running; retry in a moment",
            param="Idempotency-Key",
        )
    return StoredResponse(status_code=record.status_code, body=record.response_body)


def find(session: Session, merchant_id: str, key: str) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (merchant_id, key))


def begin(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    request_hash: str,
    method: str,
    path: str,
    ttl: timedelta,
) -> StoredResponse | None:
    """The stored response for a replay, or ``None`` after claiming the key for this request.

    Raises ``sqlalchemy.exc.IntegrityError`` when a concurrent request claimed it first: the
    caller rolls back and calls :func:`find` in a new transaction.
    """
    existing = find(session, merchant_id, key)
    if existing is not None and existing.status_code != IN_PROGRESS:
        return replay(existing, request_hash)
    now = clock.now()
    session.execute(
        sa.insert(IdempotencyRecord).values(
            merchant_id=merchant_id,
            key=key,
            request_hash=request_hash,
            method=method.upper(),
            path=path[:500],
            status_code=IN_PROGRESS,
            response_body="",
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return None


def release(session: Session, merchant_id: str, key: str) -> None:
    """Drop an in-progress claim whose request failed after committing part of its work."""
    session.execute(
        sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.merchant_id == merchant_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.status_code == IN_PROGRESS,
        )
    )


def complete(session: Session, *, merchant_id: str, key: str, status_code: int, body: str) -> None:
    session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.merchant_id == merchant_id, IdempotencyRecord.key == key)
        .values(status_code=status_code, response_body=body)
    )
