"""``/v1/ledger``: a merchant's own accounts, journals, holds, balances and statements."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Query

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.currencies import iso_currency
from paydesk.core.errors import InvalidRequest
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.ledger import accounts, holds, posting
from paydesk.ledger.accounts import AccountSpec
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import AccountStatus, LedgerAccount
from paydesk.ledger.posting import Posted
from paydesk.ledger.schemas import (
    AccountCreate,
    AccountOut,
    BalanceOut,
    EntryOut,
    HoldCreate,
    HoldOut,
    HoldPost,
    JournalCreate,
    JournalOut,
    ReverseRequest,
)
from paydesk.merchants.principal import Principal
from paydesk.merchants.service import get_app
from paydesk.wallet.accounts import resolve_currency
from paydesk.wallet.schemas import StatementLineOut

router = APIRouter(route_class=ApiRoute, prefix="/ledger", tags=["ledger"])


API_KEY_PREFIX = "api:"
"""Keys given through this API live in their own namespace, apart from the keys Paydesk's
own operations use (``wallet.consume:...``, ``hold:...:post``), so neither can collide with
the other."""


def _api_key(key: str) -> str:
    return API_KEY_PREFIX + key


def _merchant(principal: Principal) -> str:
    if principal.is_admin:
        raise InvalidRequest("the ledger API takes a merchant key", code="merchant_key_required")
    return principal.merchant_id


def _journal(posted: Posted) -> JournalOut:
    journal = posted.journal
    return JournalOut(
        id=journal.id,
        idempotency_key=journal.idempotency_key.removeprefix(API_KEY_PREFIX),
        kind=journal.kind,
        memo=journal.memo,
        reverses_id=journal.reverses_id,
        posted_at=journal.posted_at,
        replayed=posted.replayed,
        entries=[
            EntryOut(account_id=e.account_id, amount=e.amount, currency=e.currency)
            for e in posted.entries
        ],
    )


@router.post("/accounts", status_code=201, summary="Open an account (or get the existing one)")
def open_account(body: AccountCreate, session: SessionDep, principal: PrincipalDep) -> AccountOut:
    merchant_id = _merchant(principal)
    if body.app_id:
        get_app(session, merchant_id, body.app_id)
        resolve_currency(session, body.app_id, body.currency)
    else:
        iso_currency(body.currency)
    if body.parent_id is not None:
        parent = accounts.get_account(session, merchant_id, body.parent_id)
        if parent.currency != body.currency:
            raise InvalidRequest("a sub-account holds its master's currency", param="parent_id")
    spec = AccountSpec(
        merchant_id,
        body.owner_type,
        body.owner_id,
        body.kind,
        body.currency,
        body.app_id,
        body.zone,
    )
    account = accounts.ensure_account(
        session,
        spec,
        floor_rule=body.floor_rule,
        overdraft_limit=body.overdraft_limit,
        slots=body.slots,
        parent_id=body.parent_id,
    )
    return AccountOut.model_validate(account)


@router.get("/accounts/{account_id}", summary="An account")
def get_account(account_id: str, session: SessionDep, principal: PrincipalDep) -> AccountOut:
    return AccountOut.model_validate(
        accounts.get_account(session, _merchant(principal), account_id)
    )


@router.get("/accounts/{account_id}/subaccounts", summary="An account's sub-accounts")
def subaccounts(account_id: str, session: SessionDep, principal: PrincipalDep) -> list[AccountOut]:
    master = accounts.get_account(session, _merchant(principal), account_id)
    children = session.scalars(
        sa.select(LedgerAccount)
        .where(LedgerAccount.parent_id == master.id)
        .order_by(LedgerAccount.id)
    ).all()
    return [AccountOut.model_validate(child) for child in children]


@router.get("/accounts/{account_id}/balance", summary="Balance now, or as of a past moment")
def balance(
    account_id: str, session: SessionDep, principal: PrincipalDep, as_of: datetime | None = None
) -> BalanceOut:
    merchant_id = _merchant(principal)
    if as_of is not None:
        if as_of.tzinfo is None:
            raise InvalidRequest("as_of needs a timezone (e.g. Z)", param="as_of")
        account = accounts.get_account(session, merchant_id, account_id)
        posted = accounts.balance_as_of(session, merchant_id, account_id, as_of)
        return BalanceOut(
            account_id=account.id,
            currency=account.currency,
            balance=posted,
            pending_debit=0,
            available=posted,
            as_of=as_of,
        )
    found = accounts.balance(session, merchant_id, account_id)
    return BalanceOut(
        account_id=found.account_id,
        currency=found.currency,
        balance=found.balance,
        pending_debit=found.pending_debit,
        available=found.available,
    )


@router.get("/accounts/{account_id}/statement", summary="Entries with running balance")
def statement(
    account_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    posted_from: datetime | None = Query(None, alias="from"),
    posted_before: datetime | None = Query(None, alias="before"),
    after: int | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> dict[str, object]:
    found = accounts.statement(
        session,
        _merchant(principal),
        account_id,
        posted_from=posted_from,
        posted_before=posted_before,
        after_entry_id=after,
        limit=limit,
    )
    lines = [StatementLineOut.model_validate(line, from_attributes=True) for line in found.lines]
    return {
        "account_id": found.account_id,
        "currency": found.currency,
        "lines": [line.model_dump(mode="json") for line in lines],
        "has_more": found.has_more,
        "next_after": lines[-1].entry_id if lines and found.has_more else None,
    }


def _set_status(
    account_id: str, status: AccountStatus, session: SessionDep, principal: Principal
) -> AccountOut:
    account = accounts.set_status(session, _merchant(principal), account_id, status)
    return AccountOut.model_validate(account)


@router.post("/accounts/{account_id}/freeze", summary="Freeze: no debits")
def freeze(account_id: str, session: SessionDep, principal: PrincipalDep) -> AccountOut:
    return _set_status(account_id, AccountStatus.FROZEN, session, principal)


@router.post("/accounts/{account_id}/unfreeze", summary="Unfreeze")
def unfreeze(account_id: str, session: SessionDep, principal: PrincipalDep) -> AccountOut:
    return _set_status(account_id, AccountStatus.ACTIVE, session, principal)


@router.post("/accounts/{account_id}/close", summary="Close an empty account for good")
def close(account_id: str, session: SessionDep, principal: PrincipalDep) -> AccountOut:
    return _set_status(account_id, AccountStatus.CLOSED, session, principal)


@router.post("/journals", status_code=201, summary="Post a balanced journal")
def post_journal(body: JournalCreate, session: SessionDep, principal: PrincipalDep) -> JournalOut:
    posted = posting.post_journal(
        session,
        merchant_id=_merchant(principal),
        idempotency_key=_api_key(body.idempotency_key),
        legs=[Leg(leg.account_id, leg.amount, leg.currency) for leg in body.legs],
        kind=body.kind,
        memo=body.memo,
        meta=body.meta,
    )
    return _journal(posted)


@router.get("/journals/{journal_id}", summary="A journal and its entries")
def get_journal(journal_id: str, session: SessionDep, principal: PrincipalDep) -> JournalOut:
    return _journal(posting.get_journal(session, _merchant(principal), journal_id))


@router.post("/journals/{journal_id}/reverse", status_code=201, summary="Reverse a journal")
def reverse(
    journal_id: str, body: ReverseRequest, session: SessionDep, principal: PrincipalDep
) -> JournalOut:
    posted = posting.reverse_journal(
        session,
        merchant_id=_merchant(principal),
        journal_id=journal_id,
        idempotency_key=_api_key(body.idempotency_key),
        memo=body.memo,
    )
    return _journal(posted)


@router.post("/holds", status_code=201, summary="Reserve an amount (two-phase transfer)")
def create_hold(body: HoldCreate, session: SessionDep, principal: PrincipalDep) -> HoldOut:
    if body.expires_at.tzinfo is None:
        raise InvalidRequest("expires_at needs a timezone (e.g. Z)", param="expires_at")
    hold, _ = holds.create_hold(
        session,
        merchant_id=_merchant(principal),
        idempotency_key=_api_key(body.idempotency_key),
        debit_account_id=body.debit_account_id,
        credit_account_id=body.credit_account_id,
        amount=body.amount,
        currency=body.currency,
        expires_at=body.expires_at,
        memo=body.memo,
    )
    return HoldOut.model_validate(hold)


@router.get("/holds/{hold_id}", summary="A hold")
def get_hold(hold_id: str, session: SessionDep, principal: PrincipalDep) -> HoldOut:
    return HoldOut.model_validate(holds.get_hold(session, _merchant(principal), hold_id))


@router.post("/holds/{hold_id}/post", summary="Post a hold, in full or in part")
def post_hold(
    hold_id: str, body: HoldPost, session: SessionDep, principal: PrincipalDep
) -> JournalOut:
    return _journal(
        holds.post_hold(
            session, merchant_id=_merchant(principal), hold_id=hold_id, amount=body.amount
        )
    )


@router.post("/holds/{hold_id}/void", summary="Release a hold")
def void_hold(hold_id: str, session: SessionDep, principal: PrincipalDep) -> HoldOut:
    return HoldOut.model_validate(
        holds.void_hold(session, merchant_id=_merchant(principal), hold_id=hold_id)
    )
