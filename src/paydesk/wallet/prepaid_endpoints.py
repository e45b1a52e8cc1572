"""``/v1/prepaid``: batches of prepaid cards, activation, redemption into a wallet, payment.

Merchant keys only; everything is scoped to the caller's merchant, and another merchant's
batch or card is "not found". Card codes appear in one response only: the one that issued
them.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.clock import as_utc
from paydesk.core.errors import InvalidRequest
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.merchants.principal import Principal
from paydesk.merchants.schemas import Strict
from paydesk.wallet import prepaid, prepaid_cards, prepaid_issue, queries
from paydesk.wallet.accounts import WalletRef
from paydesk.wallet.models import PrepaidBatch
from paydesk.wallet.schemas import CurrencyBalanceOut

router = APIRouter(route_class=ApiRoute, tags=["prepaid cards"])

_REFERENCE = Field(
    min_length=1, max_length=128, description="Your id for this operation; repeats replay."
)
_CODE = Field(
    min_length=1, max_length=64, description="The card's code; dashes and spaces ignored."
)


class BatchCreate(Strict):
    app_id: str | None = Field(default=None, description="Default: the key's own app.")
    count: int = Field(ge=1, le=prepaid_issue.BATCH_COUNT_MAX)
    face_value: int = Field(description="Minor units each card carries once activated.")
    currency: str = Field(min_length=3, max_length=16)
    expires_at: datetime
    reference: str = _REFERENCE


class RedeemRequest(Strict):
    app_id: str | None = None
    zone: str = Field(default="", max_length=40)
    user_id: str = Field(min_length=1, max_length=128)
    code: str = _CODE
    reference: str = _REFERENCE


class PayRequest(Strict):
    app_id: str | None = None
    code: str = _CODE
    amount: int = Field(description="Minor units, more than zero, at most the card's balance.")
    reference: str = _REFERENCE


class BatchOut(BaseModel):
    id: str
    app_id: str
    count: int
    face_value: int
    """Minor units per card."""
    currency: str
    expires_at: datetime
    reference: str
    created_at: datetime


class IssuedCodeOut(BaseModel):
    card_id: str
    code: str


class BatchIssuedOut(BaseModel):
    batch: BatchOut
    replayed: bool
    codes: list[IssuedCodeOut] = Field(
        description="Every card's code, in this response only; empty on a replay."
    )


class CardOut(BaseModel):
    id: str
    batch_id: str
    app_id: str
    status: str
    face_value: int
    balance: int
    """Minor units the card holds now."""
    currency: str
    last4: str
    expires_at: datetime
    redeemed_by: str | None
    created_at: datetime
    updated_at: datetime


class BatchDetailOut(BaseModel):
    batch: BatchOut
    statuses: dict[str, int]
    """How many of the batch's cards are in each status."""
    cards: Page[CardOut]


class CardMovementOut(BaseModel):
    journal_id: str
    replayed: bool
    amount: int
    """Minor units moved (on a replay: by the first request)."""
    card: CardOut


class RedeemOut(CardMovementOut):
    user_id: str
    balance: CurrencyBalanceOut
    """The user's wallet in the card's currency, after the redemption."""


def _merchant(principal: Principal) -> str:
    if principal.is_admin:
        raise InvalidRequest(
            "prepaid cards are reached with a merchant key", code="merchant_key_required"
        )
    return principal.merchant_id


def _app(principal: Principal, app_id: str | None) -> str:
    app = app_id or principal.app_id
    if app is None:
        raise InvalidRequest("app_id is required (this key is not tied to an app)", param="app_id")
    return app


def _batch_out(batch: PrepaidBatch) -> BatchOut:
    return BatchOut(
        id=batch.id,
        app_id=batch.app_id,
        count=batch.count,
        face_value=batch.face_value,
        currency=batch.currency,
        expires_at=as_utc(batch.expires_at),
        reference=batch.idempotency_key,
        created_at=as_utc(batch.created_at),
    )


def _card_out(state: prepaid_cards.CardState) -> CardOut:
    card = state.card
    return CardOut(
        id=card.id,
        batch_id=card.batch_id,
        app_id=card.app_id,
        status=card.status,
        face_value=card.face_value,
        balance=state.balance,
        currency=card.currency,
        last4=card.code_last4,
        expires_at=as_utc(card.expires_at),
        redeemed_by=card.redeemed_by,
        created_at=as_utc(card.created_at),
        updated_at=as_utc(card.updated_at),
    )


def _movement_out(moved: prepaid.CardMovement) -> CardMovementOut:
    return CardMovementOut(
        journal_id=moved.journal.id,
        replayed=moved.replayed,
        amount=moved.amount,
        card=_card_out(moved.state),
    )


@router.post(
    "/prepaid/batches",
    status_code=201,
    summary="Issue a batch of cards; their codes are in this response only",
    description="Idempotent by `reference` (a repeat answers 200, `replayed`, without codes). "
    "The Idempotency-Key header is refused here: it would store the codes with the response.",
)
def issue_batch(
    body: BatchCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> BatchIssuedOut:
    merchant_id = _merchant(principal)
    if request.headers.get("idempotency-key") is not None:
        raise InvalidRequest(
            "batches are made idempotent by their reference; an Idempotency-Key would keep the"
            " card codes in the stored response",
            code="idempotency_key_not_allowed",
            param="Idempotency-Key",
        )
    issued = prepaid_issue.issue_batch(
        session,
        merchant_id,
        _app(principal, body.app_id),
        body.count,
        body.face_value,
        body.currency,
        body.expires_at,
        body.reference,
    )
    if issued.replayed:
        response.status_code = 200
    return BatchIssuedOut(
        batch=_batch_out(issued.batch),
        replayed=issued.replayed,
        codes=[IssuedCodeOut(card_id=c.card_id, code=c.code) for c in issued.codes],
    )


@router.get("/prepaid/batches/{batch_id}", summary="A batch and a page of its cards")
def read_batch(
    batch_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    after: str | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> BatchDetailOut:
    merchant_id = _merchant(principal)
    batch = prepaid_cards.get_batch(session, merchant_id, batch_id)
    cards = prepaid_cards.batch_cards(session, batch, after_id=after, limit=limit)
    return BatchDetailOut(
        batch=_batch_out(batch),
        statuses=prepaid_cards.batch_status_counts(session, batch),
        cards=to_page(cards, _card_out),
    )


@router.get("/prepaid/cards/{card_id}", summary="A card: status and balance, never its code")
def read_card(card_id: str, session: SessionDep, principal: PrincipalDep) -> CardOut:
    return _card_out(prepaid_cards.get_card(session, _merchant(principal), card_id))


@router.post("/prepaid/cards/{card_id}/activate", summary="The card was sold: load it")
def activate(card_id: str, session: SessionDep, principal: PrincipalDep) -> CardMovementOut:
    return _movement_out(prepaid.activate(session, _merchant(principal), card_id))


@router.post("/prepaid/redeem", summary="Empty a card into a user's wallet")
def redeem(body: RedeemRequest, session: SessionDep, principal: PrincipalDep) -> RedeemOut:
    ref = WalletRef(_merchant(principal), _app(principal, body.app_id), body.user_id, body.zone)
    moved = prepaid.redeem(session, ref, body.code, body.reference)
    balance = queries.balance_of(session, ref, moved.state.card.currency)
    return RedeemOut(
        **_movement_out(moved).model_dump(),
        user_id=ref.user_id,
        balance=CurrencyBalanceOut(**asdict(balance)),
    )


@router.post("/prepaid/pay", summary="Pay with a card, in part or in full")
def pay(body: PayRequest, session: SessionDep, principal: PrincipalDep) -> CardMovementOut:
    merchant_id = _merchant(principal)
    moved = prepaid.pay_with_card(
        session,
        merchant_id,
        _app(principal, body.app_id),
        body.code,
        body.amount,
        body.reference,
    )
    return _movement_out(moved)
