"""Issuing prepaid cards: a batch of cards, each with a fresh code and its own ledger account,
all in status ``issued`` and holding nothing until activated (see :mod:`.prepaid`).

A card's code is shown once, in the answer to the issue call; only its SHA-256 and last four
characters are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.money import check_amount
from paydesk.ledger.accounts import AccountSpec, open_accounts
from paydesk.merchants.service import get_app
from paydesk.wallet.accounts import resolve_currency
from paydesk.wallet.models import CardStatus, PrepaidBatch, PrepaidCard
from paydesk.wallet.operations import REFERENCE_LENGTH_MAX

BATCH_COUNT_MAX = 10_000
EXPIRY_MAX = timedelta(days=10 * 366)
"""Cards expire at most about ten years after they are issued."""
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""32 symbols without 0/O and 1/I, which people misread on a printed card."""
CODE_LENGTH = 16
"""16 symbols of 5 bits: 80 random bits, far beyond guessing."""
CODE_GROUP = 4
_CARD_OWNER = "card"
_CARD_KIND = "prepaid"

log = structlog.get_logger(__name__)


class BatchReferenceReused(Conflict):
    code = "batch_reference_reused"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    card_id: str
    code: str
    """The card's secret code, grouped for printing; never stored, never shown again."""


@dataclass(frozen=True, slots=True)
class IssuedBatch:
    batch: PrepaidBatch
    codes: list[IssuedCode]
    """Empty when ``replayed``: codes are shown once."""
    replayed: bool


# --- codes --------------------------------------------------------------------------------


def new_code() -> str:
    """A random card code such as ``7KQM-2HXD-P9RT-WC4E``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalize_code(code: str) -> str:
    """The code as hashed: upper case, without spaces and dashes."""
    return "".join(code.split()).replace("-", "").upper()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def operation_key(operation: str, reference: str) -> str:
    """The idempotency key of a prepaid operation (``batch``, ``redeem``, ``pay``) made with
    the caller's ``reference``; a malformed reference is refused."""
    if not 1 <= len(reference) <= REFERENCE_LENGTH_MAX or not reference.isprintable():
        raise InvalidRequest(
            f"reference is 1 to {REFERENCE_LENGTH_MAX} printable characters", param="reference"
        )
    return f"prepaid.{operation}:{reference}"


# --- issuing ------------------------------------------------------------------------------


def issue_batch(
    session: Session,
    merchant_id: str,
    app_id: str,
    count: int,
    face_value: int,
    currency: str,
    expires_at: datetime,
    idempotency_key: str,
) -> IssuedBatch:
    """Create a batch of ``count`` cards in status ``issued`` (holding nothing) and return
    their codes. The batch id is derived from the merchant and the key, so a repeat, even a
    concurrent one, finds the first batch: it is returned without codes, ``replayed``; a repeat
    with different content is ``batch_reference_reused``."""
    if not 1 <= count <= BATCH_COUNT_MAX:
        raise InvalidRequest(f"count is 1 to {BATCH_COUNT_MAX}", param="count")
    check_amount(face_value, param="face_value")
    operation_key("batch", idempotency_key)
    expires_at = clock.as_utc(expires_at)
    content = (app_id, count, face_value, currency, expires_at)
    digest = hashlib.sha256(f"{merchant_id}\n{idempotency_key}".encode()).hexdigest()
    batch_id = f"ppb_{digest[:32]}"
    if (existing := session.get(PrepaidBatch, batch_id)) is not None:
        return _replayed_batch(existing, content)
    get_app(session, merchant_id, app_id)
    code = resolve_currency(session, app_id, currency).code
    now = clock.now()
    if not now < expires_at <= now + EXPIRY_MAX:
        raise InvalidRequest("expires_at is in the future, within ten years", param="expires_at")
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    shared = {"merchant_id": merchant_id, "app_id": app_id, "face_value": face_value}
    shared |= {"currency": code, "expires_at": expires_at, "created_at": now}
    inserted = session.execute(
        dialect.insert(PrepaidBatch)
        .values(id=batch_id, count=count, idempotency_key=idempotency_key, **shared)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(PrepaidBatch.id)
    ).first()
    if inserted is None:  # a concurrent request with this key committed first
        existing = session.get(PrepaidBatch, batch_id, populate_existing=True)
        assert existing is not None
        return _replayed_batch(existing, content)
    codes = [IssuedCode(new_id("ppc"), new_code()) for _ in range(count)]
    accounts = _open_card_accounts(
        session, merchant_id, app_id, code, [issued.card_id for issued in codes]
    )
    shared |= {"batch_id": batch_id, "status": CardStatus.ISSUED.value, "updated_at": now}
    cards = [
        {
            **shared,
            "id": issued.card_id,
            "code_hash": code_hash(issued.code),
            "code_last4": normalize_code(issued.code)[-4:],
            "account_id": account_id,
        }
        for issued, account_id in zip(codes, accounts, strict=True)
    ]
    session.execute(sa.insert(PrepaidCard), cards)
    batch = session.get(PrepaidBatch, batch_id)
    assert batch is not None
    log.info("prepaid_batch_issued", batch_id=batch_id, count=count, currency=code)
    return IssuedBatch(batch, codes, replayed=False)


def _replayed_batch(existing: PrepaidBatch, content: tuple[Any, ...]) -> IssuedBatch:
    stored = (existing.app_id, existing.count, existing.face_value, existing.currency)
    if (*stored, clock.as_utc(existing.expires_at)) != content:
        raise BatchReferenceReused(
            "this reference was used for a batch with different content", param="reference"
        )
    return IssuedBatch(existing, [], replayed=True)


def _open_card_accounts(
    session: Session, merchant_id: str, app_id: str, currency: str, card_ids: list[str]
) -> list[str]:
    """One ledger account per card (one slot, non-negative floor), opened in bulk: the
    answer to the issue call carries the only copy of the codes, so it must not take long.
    The card ids are new, so no account exists under these keys yet. Returns the account ids
    in the order of ``card_ids``."""
    specs = [
        AccountSpec(merchant_id, _CARD_OWNER, card_id, _CARD_KIND, currency, app_id)
        for card_id in card_ids
    ]
    return open_accounts(session, specs)
