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

This module moves value (activate, redeem, pay, expire, and the expiry job); issuing is in
:mod:`.prepaid_issue`, reading cards and batches in :mod:`.prepaid_cards`. Every operation
that takes a card row locks it first, so two operations on one card run one after the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.money import check_amount
from paydesk.jobs.registry import JobContext, job_handler, register_schedule
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor, JournalKeyReused
from paydesk.ledger.models import Journal
from paydesk.ledger.posting import post_journal
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
from paydesk.wallet.models import CardStatus, PrepaidCard
from paydesk.wallet.prepaid_cards import CardState, card_state
from paydesk.wallet.prepaid_issue import (
    CODE_ALPHABET,
    CODE_LENGTH,
    code_hash,
    normalize_code,
    operation_key,
)
from paydesk.wallet.settings import get_settings

EXPIRE_BATCH_MAX = 500
EXPIRE_JOB = "wallet.expire_prepaid_cards"

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CardMovement:
    journal: Journal
    amount: int
    """Minor units moved by the journal (the original one on a replay)."""
    state: CardState
    replayed: bool


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
        return CardMovement(done, card.face_value, card_state(session, card), replayed=True)
    _check_unexpired(card)
    source = merchant_account(session, merchant_id, card.app_id, Counterpart.PREPAID, card.currency)
    journal = _move(session, card, source.id, card.face_value, "activate", key, {})
    _transition(card, CardStatus.ACTIVE)
    return CardMovement(journal, card.face_value, card_state(session, card), replayed=False)


def redeem(session: Session, ref: WalletRef, code: str, reference: str) -> CardMovement:
    """Move everything the card holds into the user's wallet (cash for money, paid coins for
    coins, points for points); the card becomes ``redeemed``. A repeat of ``reference``
    returns the first result; another reference finds the card ``card_not_usable``."""
    check_ref(session, ref)
    key = operation_key("redeem", reference)
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
    return CardMovement(journal, amount, card_state(session, card), replayed=False)


def pay_with_card(
    session: Session, merchant_id: str, app_id: str, code: str, amount: int, reference: str
) -> CardMovement:
    """Pay ``amount`` from the card to the merchant's revenue. Partial payments are allowed;
    the card becomes ``redeemed`` at zero. More than the card holds is the ledger's
    ``exceeds_floor``, and the caller's unit of work rolls the attempt back."""
    check_amount(amount)
    key = operation_key("pay", reference)
    fingerprint = _fingerprint("pay", app_id, code_hash(code), amount)
    card = _card_by_code(session, merchant_id, app_id, code)
    if (done := _replayed(session, key, fingerprint, card)) is not None:
        return done
    _check_usable(card)
    revenue = merchant_account(session, merchant_id, app_id, Counterpart.REVENUE, card.currency)
    journal = _move(session, card, revenue.id, -amount, "pay", key, {"request": fingerprint})
    if _available(session, card) == 0:
        _transition(card, CardStatus.REDEEMED)
    return CardMovement(journal, amount, card_state(session, card), replayed=False)


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
    return CardMovement(existing, int(existing.meta["amount"]), card_state(session, card), True)


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
