"""``/v1`` endpoints for merchants, apps, API keys and virtual currencies.

Merchant keys see and change their own merchant only; anything of another merchant answers
404, exactly as if it did not exist. Admin keys manage every merchant.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.merchants import auth, service
from paydesk.merchants.models import MerchantStatus
from paydesk.merchants.schemas import (
    AppCreate,
    AppOut,
    AppUpdate,
    KeyCreate,
    KeyCreated,
    KeyOut,
    MerchantCreate,
    MerchantOut,
    VirtualCurrencyCreate,
    VirtualCurrencyOut,
)

router = APIRouter(route_class=ApiRoute, tags=["merchants"])

Limit = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX)


@router.get("/merchant", summary="The caller's own merchant")
def own_merchant(session: SessionDep, principal: PrincipalDep) -> MerchantOut:
    return MerchantOut.model_validate(service.get_merchant(session, principal.merchant_id))


@router.post("/merchants", status_code=status.HTTP_201_CREATED, summary="Create a merchant")
def create_merchant(
    body: MerchantCreate, session: SessionDep, principal: PrincipalDep
) -> MerchantOut:
    principal.require_admin()
    merchant = service.create_merchant(
        session, name=body.name, kind=body.kind, parent_id=body.parent_id, actor=principal.actor
    )
    return MerchantOut.model_validate(merchant)


@router.get("/merchants", summary="List merchants (admin)")
def list_merchants(
    session: SessionDep,
    principal: PrincipalDep,
    parent_id: str | None = None,
    subtree_of: str | None = None,
    after: str | None = None,
    limit: int = Limit,
) -> Page[MerchantOut]:
    principal.require_admin()
    result = service.list_merchants(
        session, parent_id=parent_id, subtree_of=subtree_of, after_id=after, limit=limit
    )
    return to_page(result, MerchantOut.model_validate)


@router.get("/merchants/{merchant_id}", summary="Get a merchant (admin)")
def get_merchant(merchant_id: str, session: SessionDep, principal: PrincipalDep) -> MerchantOut:
    principal.require_admin()
    return MerchantOut.model_validate(service.get_merchant(session, merchant_id))


@router.post("/merchants/{merchant_id}/suspend", summary="Suspend a merchant (admin)")
def suspend_merchant(merchant_id: str, session: SessionDep, principal: PrincipalDep) -> MerchantOut:
    principal.require_admin()
    merchant = service.set_merchant_status(
        session, merchant_id, MerchantStatus.SUSPENDED, actor=principal.actor
    )
    return MerchantOut.model_validate(merchant)


@router.post("/merchants/{merchant_id}/activate", summary="Reactivate a merchant (admin)")
def activate_merchant(
    merchant_id: str, session: SessionDep, principal: PrincipalDep
) -> MerchantOut:
    principal.require_admin()
    merchant = service.set_merchant_status(
        session, merchant_id, MerchantStatus.ACTIVE, actor=principal.actor
    )
    return MerchantOut.model_validate(merchant)


@router.post("/apps", status_code=status.HTTP_201_CREATED, summary="Create an app")
def create_app(body: AppCreate, session: SessionDep, principal: PrincipalDep) -> AppOut:
    merchant_id = principal.target(body.merchant_id)
    app = service.create_app(session, merchant_id, body.name, actor=principal.actor)
    return AppOut.model_validate(app)


@router.get("/apps", summary="List apps")
def list_apps(
    session: SessionDep,
    principal: PrincipalDep,
    merchant_id: str | None = None,
    after: str | None = None,
    limit: int = Limit,
) -> Page[AppOut]:
    result = service.list_apps(session, principal.scope(merchant_id), after_id=after, limit=limit)
    return to_page(result, AppOut.model_validate)


@router.get("/apps/{app_id}", summary="Get an app")
def get_app(app_id: str, session: SessionDep, principal: PrincipalDep) -> AppOut:
    return AppOut.model_validate(service.get_app(session, principal.scope(), app_id))


@router.patch("/apps/{app_id}", summary="Rename an app")
def update_app(
    app_id: str, body: AppUpdate, session: SessionDep, principal: PrincipalDep
) -> AppOut:
    app = service.rename_app(session, principal.scope(), app_id, body.name, actor=principal.actor)
    return AppOut.model_validate(app)


@router.post(
    "/apps/{app_id}/currencies",
    status_code=status.HTTP_201_CREATED,
    summary="Register a virtual currency for an app",
)
def register_currency(
    app_id: str, body: VirtualCurrencyCreate, session: SessionDep, principal: PrincipalDep
) -> VirtualCurrencyOut:
    row = service.register_virtual_currency(
        session,
        principal.scope(),
        app_id,
        code=body.code,
        exponent=body.exponent,
        name=body.name,
        actor=principal.actor,
        kind=body.kind,
    )
    return VirtualCurrencyOut.model_validate(row)


@router.get("/apps/{app_id}/currencies", summary="List an app's virtual currencies")
def list_currencies(
    app_id: str, session: SessionDep, principal: PrincipalDep
) -> list[VirtualCurrencyOut]:
    rows = service.list_virtual_currencies(session, principal.scope(), app_id)
    return [VirtualCurrencyOut.model_validate(row) for row in rows]


@router.post("/keys", status_code=status.HTTP_201_CREATED, summary="Create an API key")
def create_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> KeyCreated:
    issued = auth.issue_key(
        session,
        merchant_id=principal.target(body.merchant_id),
        mode=body.mode,
        app_id=body.app_id,
        label=body.label,
        actor=principal.actor,
        issuer=principal,
    )
    return KeyCreated(**KeyOut.model_validate(issued.key).model_dump(), secret=issued.secret)


@router.get("/keys", summary="List API keys (never their secrets)")
def list_keys(
    session: SessionDep,
    principal: PrincipalDep,
    merchant_id: str | None = None,
    after: str | None = None,
    limit: int = Limit,
) -> Page[KeyOut]:
    result = auth.list_keys(session, principal.scope(merchant_id), after_id=after, limit=limit)
    return to_page(result, KeyOut.model_validate)


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key")
def revoke_key(key_id: str, session: SessionDep, principal: PrincipalDep) -> KeyOut:
    key = auth.revoke_key(session, principal.scope(), key_id, actor=principal.actor)
    return KeyOut.model_validate(key)
