"""``/v1/channel-accounts``: a merchant's accounts at the payment channels.

Requests carry credentials; responses never do (see :func:`.service.describe`). A merchant
key sees and changes its own accounts only: another merchant's account answers 404. A
test-mode key changes sandbox accounts only.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep, services
from paydesk.channels.accounts import service
from paydesk.channels.accounts.models import ChannelAccount, ChannelAccountStatus
from paydesk.channels.accounts.schemas import (
    ChannelAccountCreate,
    ChannelAccountOut,
    CredentialsRotate,
    GrayUsers,
)
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.merchants.principal import Principal

router = APIRouter(route_class=ApiRoute, tags=["channel accounts"])

Limit = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX)


def _out(account: ChannelAccount) -> ChannelAccountOut:
    return ChannelAccountOut.model_validate(service.describe(account))


@router.post(
    "/channel-accounts",
    status_code=status.HTTP_201_CREATED,
    summary="Add an account at a channel (credentials stored encrypted, never returned)",
)
def create_account(
    body: ChannelAccountCreate, request: Request, session: SessionDep, principal: PrincipalDep
) -> ChannelAccountOut:
    account = service.create_account(
        session,
        principal.target(body.merchant_id),
        channel=body.channel,
        name=body.name,
        mode=body.mode,
        credentials=body.credentials,
        secret=services(request).secret,
        actor=principal.actor,
        caller=principal,
    )
    return _out(account)


@router.get("/channel-accounts", summary="List channel accounts (never their secrets)")
def list_accounts(
    session: SessionDep,
    principal: PrincipalDep,
    channel: str | None = None,
    merchant_id: str | None = None,
    after: str | None = None,
    limit: int = Limit,
) -> Page[ChannelAccountOut]:
    result = service.list_accounts(
        session, principal.scope(merchant_id), channel=channel, after_id=after, limit=limit
    )
    return to_page(result, _out)


@router.get("/channel-accounts/{account_id}", summary="Get a channel account")
def get_account(account_id: str, session: SessionDep, principal: PrincipalDep) -> ChannelAccountOut:
    return _out(service.get_account(session, principal.scope(), account_id))


@router.post(
    "/channel-accounts/{account_id}/credentials",
    summary="Rotate a channel account's credentials (all of them at once)",
)
def rotate_credentials(
    account_id: str,
    body: CredentialsRotate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> ChannelAccountOut:
    account = service.rotate_credentials(
        session,
        principal.scope(),
        account_id,
        body.credentials,
        secret=services(request).secret,
        actor=principal.actor,
        caller=principal,
    )
    return _out(account)


def _set_status(
    account_id: str, status: ChannelAccountStatus, session: SessionDep, principal: Principal
) -> ChannelAccountOut:
    account = service.set_status(
        session,
        principal.scope(),
        account_id,
        status,
        actor=principal.actor,
        caller=principal,
    )
    return _out(account)


@router.post("/channel-accounts/{account_id}/disable", summary="Disable a channel account")
def disable_account(
    account_id: str, session: SessionDep, principal: PrincipalDep
) -> ChannelAccountOut:
    return _set_status(account_id, ChannelAccountStatus.DISABLED, session, principal)


@router.post("/channel-accounts/{account_id}/enable", summary="Enable a channel account")
def enable_account(
    account_id: str, session: SessionDep, principal: PrincipalDep
) -> ChannelAccountOut:
    return _set_status(account_id, ChannelAccountStatus.ACTIVE, session, principal)


@router.put(
    "/channel-accounts/{account_id}/gray-users",
    summary="Gray release: route only these users' payments to the account (empty: everyone)",
)
def set_gray_users(
    account_id: str, body: GrayUsers, session: SessionDep, principal: PrincipalDep
) -> ChannelAccountOut:
    account = service.set_gray_users(
        session,
        principal.scope(),
        account_id,
        body.users,
        actor=principal.actor,
        caller=principal,
    )
    return _out(account)
