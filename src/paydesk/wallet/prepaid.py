"""Prepaid cards: issued in batches, activated when sold, redeemed into a wallet or paid with,
expired by a schedule. Each card has its own ledger account (owner ``card``, kind
``prepaid``, floor non-negative); every movement of value is one balanced journal:

=========  ===================================  =====================================
step       debit                                credit
=========  ===================================  =====================================
activate   merchant ``prepaid`` (unbounded)     card, its face value
redeem     card, all it holds                   the user's cash / paid coins / points
pay        card, the amount paid                merchant ``revenue``
expire     card, what it still holds            merchant ``expired``
=========  ===================================  =====================================

A card's code is shown once, in the answer to the issue call; only its SHA-256 and last four
characters are stored. Every operation that takes a card row locks it first, so two
operations on one card run one after the other.
"""

from __future__ import annotations

import hashlib
import json
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
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.jobs.registry import JobContext, job_handler, register_schedule
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.accounts import AccountSpec
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor, JournalKeyReused
from paydesk.ledger.models import AccountStatus, FloorRule, Journal, LedgerAccount, LedgerBalance
from paydesk.ledger.posting import post_journal
from paydesk.merchants.service import get_app
from paydesk.wallet.accounts import (
    Counterpart,
    CurrencyKind,
    Part,
    WalletRef,
    check_ref,
    merchant_account,
    resolve_currency,
    user_account,
)
from paydesk.wallet.errors import CardNotFound, CardNotUsable
from paydesk.wallet.lots import add_lot
from paydesk.wallet.models import CardStatus, PrepaidBatch, PrepaidCard
from paydesk.wallet.operations import REFERENCE_LENGTH_MAX
from paydesk.wallet.settings import get_settings

BATCH_COUNT_MAX = 10_000
EXPIRY_MAX = timedelta(days=10 * 366)
"""Cards expire at most about ten years after they are issued."""
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
"""32 symbols without 0/O and 1/I, which people misread on a printed card."""
CODE_LENGTH = 16
"""16 symbols of 5 bits: 80 random bits, far beyond guessing."""
CODE_GROUP = 4
EXPIRE_BATCH_MAX = 500
EXPIRE_JOB = "wallet.expire_prepaid_cards"
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


@dataclass(frozen=True, slots=True)
class CardState:
    card: PrepaidCard
    balance: int
    """Minor units the card holds now."""

    @property
    def id(self) -> str:
        return self.card.id


@dataclass(frozen=True, slots=True)
class CardMovement:
    journal: Journal
    amount: int
    """Minor units moved by the journal (the original one on a replay)."""
    state: CardState
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
    _key("batch", idempotency_key)
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
    accounts = _open_card_accounts(session, shared, [issued.card_id for issued in codes])
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


def _open_card_accounts(session: Session, batch: dict[str, Any], card_ids: list[str]) -> list[str]:
    """Open one ledger account per card in two statements; returns their ids in order.

    These are the rows :func:`~paydesk.ledger.accounts.ensure_account` writes for a new
    account with the default rules (one slot, non-negative floor, active), written in bulk:
    opening 10,000 accounts one by one takes some 17 s on PostgreSQL, too long for a request
    whose answer carries the only copy of the codes. The card ids are new, so no account can
    exist under these keys yet."""
    merchant_id, app_id, currency = batch["merchant_id"], batch["app_id"], batch["currency"]
    account_ids = [new_id("acc") for _ in card_ids]
    rules = {"floor_rule": FloorRule.NON_NEGATIVE.value, "overdraft_limit": 0, "slots": 1}
    rules |= {"status": AccountStatus.ACTIVE.value, "parent_id": None}
    rules |= {"created_at": batch["created_at"], "updated_at": batch["created_at"]}
    rows = [
        {**AccountSpec(merchant_id, _CARD_OWNER, card_id, _CARD_KIND, currency, app_id).key()}
        | {"id": account_id, **rules}
        for card_id, account_id in zip(card_ids, account_ids, strict=True)
    ]
    session.execute(sa.insert(LedgerAccount), rows)
    session.execute(
        sa.insert(LedgerBalance),
        [{"account_id": id_, "slot": 0, "balance": 0, "pending_debit": 0} for id_ in account_ids],
    )
    return account_ids


# --- moving value -------------------------------------------------------------------------


def activate(session: Session, merchant_id: str, card_id: str) -> CardMovement:
    """The card was sold: load it with its face value from the merchant's prepaid account.
    Activating an activated card again returns the first activation."""
    card = _lock_card(session, merchant_id, PrepaidCard.id == card_id)
    key = f"prepaid.activate:{card.id}"
    if card.status != CardStatus.ISSUED:
        done = ledger_repo.journal_by_key(session, merchant_id, key)
        if done is None:
            raise CardNotUsable(f"card {card.id} is {card.status}: it cannot be activated")
        return CardMovement(done, card.face_value, _state(session, card), replayed=True)
    _check_unexpired(card)
    source = merchant_account(session, merchant_id, card.app_id, Counterpart.PREPAID, card.currency)
    journal = _move(session, card, source.id, card.face_value, "activate", key, {})
    _transition(card, CardStatus.ACTIVE)
    return CardMovement(journal, card.face_value, _state(session, card), replayed=False)


def redeem(session: Session, ref: WalletRef, code: str, reference: str) -> CardMovement:
    """Move everything the card holds into the user's wallet (cash for money, paid coins for
    coins, points for points); the card becomes ``redeemed``. A repeat of ``reference``
    returns the first result; another reference finds the card ``card_not_usable``."""
    check_ref(session, ref)
    key = _key("redeem", reference)
    fingerprint = _fingerprint("redeem", ref.app_id, code_hash(code), ref.user_id, ref.zone)
    card = _card_by_code(session, ref.merchant_id, ref.app_id, code)
    if (done := _replayed(session, key, fingerprint, card)) is not None:
        return done
    _check_usable(card)
    currency = resolve_currency(session, ref.app_id, card.currency)
    part = {
        CurrencyKind.MONEY: Part.CASH,
        CurrencyKind.COINS: Part.PAID,
        CurrencyKind.POINTS: Part.POINTS,
    }[currency.kind]
    amount = _available(session, card)
    if amount <= 0:
        raise CardNotUsable(f"card {card.id} holds nothing")
    user = user_account(session, ref, part, currency)
    meta = {"request": fingerprint, "user_id": ref.user_id, "zone": ref.zone, "part": part.value}
    journal = _move(session, card, user.id, -amount, "redeem", key, meta)
    _transition(card, CardStatus.REDEEMED)
    card.redeemed_by = ref.user_id
    ttl = get_settings(session, ref.merchant_id, ref.app_id).points_ttl_days
    if part is Part.POINTS and ttl is not None:
        add_lot(session, user, journal.id, amount, ttl)
    return CardMovement(journal, amount, _state(session, card), replayed=False)


def pay_with_card(
    session: Session, merchant_id: str, app_id: str, code: str, amount: int, reference: str
) -> CardMovement:
    """Pay ``amount`` from the card to the merchant's revenue. Partial payments are allowed;
    the card becomes ``redeemed`` at zero. More than the card holds is the ledger's
    ``exceeds_floor``, and the caller's unit of work rolls the attempt back."""
    check_amount(amount)
    key = _key("pay", reference)
    fingerprint = _fingerprint("pay", app_id, code_hash(code), amount)
    card = _card_by_code(session, merchant_id, app_id, code)
    if (done := _replayed(session, key, fingerprint, card)) is not None:
        return done
    _check_usable(card)
    revenue = merchant_account(session, merchant_id, app_id, Counterpart.REVENUE, card.currency)
    journal = _move(session, card, revenue.id, -amount, "pay", key, {"request": fingerprint})
    if _available(session, card) == 0:
        _transition(card, CardStatus.REDEEMED)
    return CardMovement(journal, amount, _state(session, card), replayed=False)


def expire_due_cards(session: Session, now: datetime, limit: int = EXPIRE_BATCH_MAX) -> int:
    """Expire up to ``limit`` issued or active cards past their expiry: what an active card
    still holds goes to the merchant's ``expired`` account. Returns how many expired."""
    cards = session.scalars(
        sa.select(PrepaidCard)
        .where(
            PrepaidCard.status.in_([CardStatus.ISSUED.value, CardStatus.ACTIVE.value]),
            PrepaidCard.expires_at <= now,
        )
        .order_by(PrepaidCard.expires_at, PrepaidCard.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for card in cards:
        amount = _available(session, card) if card.status == CardStatus.ACTIVE else 0
        if amount > 0:
            target = merchant_account(
                session, card.merchant_id, card.app_id, Counterpart.EXPIRED, card.currency
            )
            try:
                with session.begin_nested():  # a refused posting must leave no journal behind
                    _move(session, card, target.id, -amount, "expire", f"prepaid.expire:{card.id}")
            except ExceedsFloor:  # cannot happen while the row is locked; do not stop the run
                amount = 0
        _transition(card, CardStatus.EXPIRED)
        log.info("prepaid_card_expired", card_id=card.id, amount=amount)
    session.flush()
    return len(cards)


@job_handler(EXPIRE_JOB)
def expire_prepaid_cards_job(ctx: JobContext) -> None:
    expire_due_cards(ctx.session, clock.now())


register_schedule("expire_prepaid_cards", EXPIRE_JOB, interval_s=300)


# --- reading ------------------------------------------------------------------------------


def get_card(session: Session, merchant_id: str, card_id: str) -> CardState:
    card = session.scalars(
        sa.select(PrepaidCard).where(
            PrepaidCard.id == card_id, PrepaidCard.merchant_id == merchant_id
        )
    ).first()
    if card is None:
        raise CardNotFound(f"no card {card_id}")
    return _state(session, card)


def get_batch(session: Session, merchant_id: str, batch_id: str) -> PrepaidBatch:
    batch = session.get(PrepaidBatch, batch_id)
    if batch is None or batch.merchant_id != merchant_id:
        raise CardNotFound(f"no batch {batch_id}", code="batch_not_found")
    return batch


def batch_cards(
    session: Session, batch: PrepaidBatch, *, after_id: str | None, limit: int
) -> PageResult[CardState]:
    """The batch's cards, a page at a time, ordered by id."""
    query = sa.select(PrepaidCard).where(PrepaidCard.batch_id == batch.id)
    if after_id is not None:
        query = query.where(PrepaidCard.id > after_id)
    page = trim(
        session.scalars(query.order_by(PrepaidCard.id).limit(page_size(limit) + 1)).all(), limit
    )
    held = ledger_repo.totals(session, [card.account_id for card in page.items])
    states = [CardState(card, held.get(card.account_id, (0, 0))[0]) for card in page.items]
    return PageResult(states, page.has_more)


def batch_status_counts(session: Session, batch: PrepaidBatch) -> dict[str, int]:
    rows = session.execute(
        sa.select(PrepaidCard.status, sa.func.count())
        .where(PrepaidCard.batch_id == batch.id)
        .group_by(PrepaidCard.status)
    ).all()
    return {status: int(count) for status, count in rows}


# --- helpers ------------------------------------------------------------------------------

_TRANSITIONS = {
    CardStatus.ACTIVE: {CardStatus.ISSUED},
    CardStatus.REDEEMED: {CardStatus.ACTIVE},
    CardStatus.EXPIRED: {CardStatus.ISSUED, CardStatus.ACTIVE},
}
"""The statuses each status may be reached from."""


def _transition(card: PrepaidCard, to: CardStatus) -> None:
    if card.status not in _TRANSITIONS[to]:
        raise CardNotUsable(f"card {card.id} is {card.status}: it cannot become {to.value}")
    card.status = to.value
    card.updated_at = clock.now()


def _lock_card(session: Session, merchant_id: str, condition: Any) -> PrepaidCard:
    card = session.scalars(
        sa.select(PrepaidCard)
        .where(condition, PrepaidCard.merchant_id == merchant_id)
        .with_for_update()
    ).first()
    if card is None:
        raise CardNotFound("no such card")
    return card


def _card_by_code(session: Session, merchant_id: str, app_id: str, code: str) -> PrepaidCard:
    """The card with this code, of this merchant's app; any other code, whether it is
    malformed, unknown or another merchant's, is the same ``card_not_found``."""
    plain = normalize_code(code)
    if len(plain) != CODE_LENGTH or not set(plain) <= set(CODE_ALPHABET):
        raise CardNotFound("no such card", param="code")
    condition = sa.and_(PrepaidCard.code_hash == code_hash(plain), PrepaidCard.app_id == app_id)
    try:
        return _lock_card(session, merchant_id, condition)
    except CardNotFound:
        raise CardNotFound("no such card", param="code") from None


def _check_unexpired(card: PrepaidCard) -> None:
    if clock.as_utc(card.expires_at) <= clock.now():
        raise CardNotUsable(f"card {card.id} expired at {card.expires_at:%Y-%m-%d %H:%M}")


def _check_usable(card: PrepaidCard) -> None:
    if card.status != CardStatus.ACTIVE:
        raise CardNotUsable(f"card {card.id} is {card.status}, not active")
    _check_unexpired(card)


def _available(session: Session, card: PrepaidCard) -> int:
    posted, pending = ledger_repo.totals(session, [card.account_id])[card.account_id]
    return posted - pending


def _state(session: Session, card: PrepaidCard) -> CardState:
    return CardState(card, ledger_repo.totals(session, [card.account_id])[card.account_id][0])


def _key(operation: str, reference: str) -> str:
    if not 1 <= len(reference) <= REFERENCE_LENGTH_MAX or not reference.isprintable():
        raise InvalidRequest(
            f"reference is 1 to {REFERENCE_LENGTH_MAX} printable characters", param="reference"
        )
    return f"prepaid.{operation}:{reference}"


def _fingerprint(operation: str, *parts: object) -> str:
    body = json.dumps([operation, *parts], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _replayed(
    session: Session, key: str, fingerprint: str, card: PrepaidCard
) -> CardMovement | None:
    existing = ledger_repo.journal_by_key(session, card.merchant_id, key)
    if existing is None:
        return None
    if existing.meta.get("request") != fingerprint:
        raise JournalKeyReused(
            "this reference was used for a different operation", param="reference"
        )
    return CardMovement(existing, int(existing.meta["amount"]), _state(session, card), True)


def _move(
    session: Session,
    card: PrepaidCard,
    other_id: str,
    amount: int,
    operation: str,
    key: str,
    meta: dict[str, Any] | None = None,
) -> Journal:
    """One journal between the card's account and ``other_id``: a positive ``amount`` loads
    the card, a negative one takes from it."""
    posted = post_journal(
        session,
        merchant_id=card.merchant_id,
        idempotency_key=key,
        legs=[Leg(other_id, -amount, card.currency), Leg(card.account_id, amount, card.currency)],
        kind=f"prepaid.{operation}",
        memo=f"prepaid card {card.id}: {operation}",
        meta={"card_id": card.id, "batch_id": card.batch_id, "amount": abs(amount), **(meta or {})},
    )
    return posted.journal
