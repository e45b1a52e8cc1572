"""``/v1/wallets``: user wallets of a merchant's apps, and the app's wallet settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.errors import InvalidRequest
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.holds import get_hold
from paydesk.ledger.models import Hold
from paydesk.merchants.principal import Principal
from paydesk.wallet import operations, queries
from paydesk.wallet.accounts import Part, WalletRef
from paydesk.wallet.schemas import (
    CancelRequest,
    CurrencyBalanceOut,
    FreezeRequest,
    HoldOut,
    MerchantBalanceOut,
    Movement,
    OperationOut,
    StatementLineOut,
    StatementOut,
    TotalsOut,
    TransferRequest,
    WalletOut,
    WalletSettingsBody,
    WithdrawRequest,
)
from paydesk.wallet.settings import AppWalletSettings, get_settings, update_settings

router = APIRouter(route_class=ApiRoute, tags=["wallets"])


def _ref(principal: Principal, user_id: str, app_id: str | None, zone: str) -> WalletRef:
    """Whose wallet: always of the caller's own merchant (an app of another is not found)."""
    if principal.is_admin:
        raise InvalidRequest(
            "wallets are reached with a merchant key", code="merchant_key_required"
        )
    app = app_id or principal.app_id
    if app is None:
        raise InvalidRequest("app_id is required (this key is not tied to an app)", param="app_id")
    return WalletRef(principal.merchant_id, app, user_id, zone)


def _outcome(
    session: SessionDep, ref: WalletRef, currency: str, outcome: operations.Outcome
) -> OperationOut:
    balance = queries.balance_of(session, ref, currency)
    return OperationOut(
        journal_id=outcome.journal.id,
        replayed=outcome.replayed,
        parts=outcome.parts,
        balance=CurrencyBalanceOut(**asdict(balance)),
    )


def _hold_out(hold: Hold) -> HoldOut:
    return HoldOut(
        id=hold.id,
        status=hold.status,
        amount=hold.amount,
        amount_posted=hold.amount_posted,
        currency=hold.currency,
        expires_at=hold.expires_at,
        journal_id=hold.journal_id,
    )


@router.get("/wallets/{user_id}", summary="A user's balances, by currency and part")
def wallet(
    user_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    app_id: str | None = None,
    zone: str = "",
) -> WalletOut:
    ref = _ref(principal, user_id, app_id, zone)
    lines = [CurrencyBalanceOut(**asdict(line)) for line in queries.balances(session, ref)]
    return WalletOut(user_id=user_id, app_id=ref.app_id, zone=zone, balances=lines)


@router.get("/wallets/{user_id}/totals", summary="Saved, spent and presented over time")
def totals(
    user_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    app_id: str | None = None,
    zone: str = "",
) -> list[TotalsOut]:
    ref = _ref(principal, user_id, app_id, zone)
    return [TotalsOut(**asdict(line)) for line in queries.totals(session, ref)]


@router.get("/wallets/{user_id}/statement", summary="Entries with running balance")
def statement(
    user_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    currency: str,
    part: Part,
    app_id: str | None = None,
    zone: str = "",
    posted_from: datetime | None = Query(None, alias="from"),
    posted_before: datetime | None = Query(None, alias="before"),
    after: int | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> StatementOut:
    ref = _ref(principal, user_id, app_id, zone)
    found = queries.statement(
        session,
        ref,
        currency,
        part,
        posted_from=posted_from,
        posted_before=posted_before,
        after_entry_id=after,
        limit=limit,
    )
    lines = [StatementLineOut(**asdict(line)) for line in found.lines]
    return StatementOut(
        account_id=found.account_id,
        currency=found.currency,
        part=part,
        lines=lines,
        has_more=found.has_more,
        next_after=lines[-1].entry_id if lines and found.has_more else None,
    )


def _move(
    operation: Callable[..., operations.Outcome],
    user_id: str,
    body: Movement,
    session: SessionDep,
    principal: Principal,
) -> OperationOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    outcome = operation(session, ref, body.currency, body.amount, body.reference, body.memo)
    return _outcome(session, ref, body.currency, outcome)


@router.post("/wallets/{user_id}/recharge", summary="Credit money or paid coins")
def recharge(
    user_id: str, body: Movement, session: SessionDep, principal: PrincipalDep
) -> OperationOut:
    return _move(operations.recharge, user_id, body, session, principal)


@router.post("/wallets/{user_id}/present", summary="Gift coins, points or money")
def present(
    user_id: str, body: Movement, session: SessionDep, principal: PrincipalDep
) -> OperationOut:
    return _move(operations.present, user_id, body, session, principal)


@router.post("/wallets/{user_id}/consume", summary="Spend from the wallet")
def consume(
    user_id: str, body: Movement, session: SessionDep, principal: PrincipalDep
) -> OperationOut:
    return _move(operations.consume, user_id, body, session, principal)


@router.post("/wallets/{user_id}/cancel", summary="Undo a consumption, once")
def cancel(
    user_id: str, body: CancelRequest, session: SessionDep, principal: PrincipalDep
) -> OperationOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    outcome = operations.cancel_consume(session, ref, body.consume_reference, body.reference)
    entries = ledger_repo.journal_entries(session, outcome.journal.id)
    return _outcome(session, ref, entries[0].currency, outcome)


@router.post("/wallets/{user_id}/transfer", summary="Move money or points to another user")
def transfer(
    user_id: str, body: TransferRequest, session: SessionDep, principal: PrincipalDep
) -> OperationOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    outcome = operations.transfer(
        session, ref, body.to_user_id, body.currency, body.amount, body.reference, body.memo
    )
    return _outcome(session, ref, body.currency, outcome)


@router.post("/wallets/{user_id}/withdrawals", status_code=201, summary="Reserve a payout")
def withdraw(
    user_id: str, body: WithdrawRequest, session: SessionDep, principal: PrincipalDep
) -> HoldOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    hold, _ = operations.withdraw(
        session, ref, body.currency, body.amount, body.reference, ttl=timedelta(seconds=body.ttl_s)
    )
    return _hold_out(hold)


@router.post("/withdrawals/{hold_id}/complete", summary="The payout was made: post it")
def complete_withdrawal(hold_id: str, session: SessionDep, principal: PrincipalDep) -> HoldOut:
    operations.complete_withdrawal(session, principal.merchant_id, hold_id)
    return _hold_out(get_hold(session, principal.merchant_id, hold_id))


@router.post("/withdrawals/{hold_id}/fail", summary="The payout failed: release the money")
def fail_withdrawal(hold_id: str, session: SessionDep, principal: PrincipalDep) -> HoldOut:
    return _hold_out(operations.fail_withdrawal(session, principal.merchant_id, hold_id))


@router.post("/wallets/{user_id}/freeze", summary="Freeze a wallet: no debits")
def freeze(
    user_id: str, body: FreezeRequest, session: SessionDep, principal: PrincipalDep
) -> WalletOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    operations.set_frozen(session, ref, True, body.currency)
    return wallet(user_id, session, principal, ref.app_id, ref.zone)


@router.post("/wallets/{user_id}/unfreeze", summary="Unfreeze a wallet")
def unfreeze(
    user_id: str, body: FreezeRequest, session: SessionDep, principal: PrincipalDep
) -> WalletOut:
    ref = _ref(principal, user_id, body.app_id, body.zone)
    operations.set_frozen(session, ref, False, body.currency)
    return wallet(user_id, session, principal, ref.app_id, ref.zone)


@router.get("/apps/{app_id}/wallet-settings", summary="An app's wallet settings")
def read_settings(app_id: str, session: SessionDep, principal: PrincipalDep) -> WalletSettingsBody:
    found = get_settings(session, principal.merchant_id, app_id)
    return WalletSettingsBody(**asdict(found))


@router.put("/apps/{app_id}/wallet-settings", summary="Change an app's wallet settings")
def write_settings(
    app_id: str, body: WalletSettingsBody, session: SessionDep, principal: PrincipalDep
) -> WalletSettingsBody:
    saved = update_settings(
        session,
        principal.target(None),
        app_id,
        AppWalletSettings(body.spend_order, body.gifted_ttl_days, body.points_ttl_days),
    )
    return WalletSettingsBody(**asdict(saved))


@router.get("/merchant/wallet", summary="The merchant's own side of its users' wallets")
def merchant_wallet(
    session: SessionDep, principal: PrincipalDep, app_id: str | None = None
) -> list[MerchantBalanceOut]:
    if principal.is_admin:
        raise InvalidRequest(
            "wallets are reached with a merchant key", code="merchant_key_required"
        )
    lines = queries.merchant_balances(session, principal.merchant_id, app_id)
    return [MerchantBalanceOut(**asdict(line)) for line in lines]
