"""Reading prepaid cards and batches: a card's status and balance (never its code), a batch
with its cards a page at a time and how many are in each status."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.ledger import repository as ledger_repo
from paydesk.wallet.errors import CardNotFound
from paydesk.wallet.models import PrepaidBatch, PrepaidCard


@dataclass(frozen=True, slots=True)
class CardState:
    card: PrepaidCard
    balance: int
    """Minor units the card holds now."""

    @property
    def id(self) -> str:
        return self.card.id


def card_state(session: Session, card: PrepaidCard) -> CardState:
    """The card with what it holds now."""
    return CardState(card, ledger_repo.totals(session, [card.account_id])[card.account_id][0])


def get_card(session: Session, merchant_id: str, card_id: str) -> CardState:
    card = session.scalars(
        sa.select(PrepaidCard).where(
            PrepaidCard.id == card_id, PrepaidCard.merchant_id == merchant_id
        )
    ).first()
    if card is None:
        raise CardNotFound(f"no card {card_id}")
    return card_state(session, card)


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
