"""``/v1/webhook-endpoints``, ``/v1/webhook-notify-secret`` and ``/v1/webhook-events``.

Merchant keys only, and each sees its own merchant in its own mode: a test key, the test-mode
endpoints and events. Anything else answers 404 as if it did not exist. A signing secret is in
a response only when the call made it.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep, services
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.merchants.models import KeyMode
from paydesk.merchants.principal import Principal
from paydesk.webhooks import service
from paydesk.webhooks.errors import MerchantKeyRequired
from paydesk.webhooks.models import WebhookEndpoint, WebhookNotifySecret
from paydesk.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryWithAttempts,
    EndpointCreate,
    EndpointDeleted,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventDetailOut,
    EventOut,
    NotifySecretOut,
    NotifySecretWithSecret,
    ReplayOut,
    ReplayRequest,
)

router = APIRouter(route_class=ApiRoute, tags=["webhooks"])

Limit = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX)


def _scope(principal: Principal) -> tuple[str, bool]:
    """The caller's merchant and mode: a test key sees test-mode webhooks only."""
    if principal.is_admin:
        raise MerchantKeyRequired("webhooks are managed with a merchant key")
    return principal.merchant_id, principal.mode is KeyMode.LIVE


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    shown = EndpointOut.model_validate(endpoint).model_dump()
    return EndpointWithSecret(**shown, secret=secret)


def _notify_out(livemode: bool, row: WebhookNotifySecret | None) -> NotifySecretOut:
    if row is None:
        return NotifySecretOut(livemode=livemode, exists=False)
    return NotifySecretOut(
        livemode=livemode,
        exists=True,
        secret_display=row.secret_display,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
    )


# --- endpoints -------------------------------------------------------------------------------


@router.post(
    "/webhook-endpoints",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook endpoint (its signing secret is in this response only)",
)
def create_endpoint(
    body: EndpointCreate, request: Request, session: SessionDep, principal: PrincipalDep
) -> EndpointWithSecret:
    merchant_id, livemode = _scope(principal)
    endpoint, secret = service.create_endpoint(
        session,
        merchant_id=merchant_id,
        livemode=livemode,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        server_secret=services(request).secret,
        actor=principal.actor,
    )
    return _with_secret(endpoint, secret)


@router.get("/webhook-endpoints", summary="List webhook endpoints")
def list_endpoints(
    session: SessionDep, principal: PrincipalDep, after: str | None = None, limit: int = Limit
) -> Page[EndpointOut]:
    merchant_id, livemode = _scope(principal)
    result = service.list_endpoints(session, merchant_id, livemode, after_id=after, limit=limit)
    return to_page(result, EndpointOut.model_validate)


@router.get("/webhook-endpoints/{endpoint_id}", summary="Get a webhook endpoint")
def get_endpoint(endpoint_id: str, session: SessionDep, principal: PrincipalDep) -> EndpointOut:
    merchant_id, livemode = _scope(principal)
    endpoint = service.get_endpoint(session, merchant_id, livemode, endpoint_id)
    return EndpointOut.model_validate(endpoint)


@router.post(
    "/webhook-endpoints/{endpoint_id}",
    summary="Change a webhook endpoint's URL, event types, description, or enable/disable it",
)
def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, session: SessionDep, principal: PrincipalDep
) -> EndpointOut:
    merchant_id, livemode = _scope(principal)
    endpoint = service.update_endpoint(
        session,
        merchant_id,
        livemode,
        endpoint_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
        actor=principal.actor,
    )
    return EndpointOut.model_validate(endpoint)


@router.delete("/webhook-endpoints/{endpoint_id}", summary="Delete a webhook endpoint")
def delete_endpoint(
    endpoint_id: str, session: SessionDep, principal: PrincipalDep
) -> EndpointDeleted:
    merchant_id, livemode = _scope(principal)
    endpoint = service.delete_endpoint(
        session, merchant_id, livemode, endpoint_id, actor=principal.actor
    )
    return EndpointDeleted(id=endpoint.id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/roll-secret",
    summary="Replace an endpoint's signing secret (the new one is in this response only)",
)
def roll_endpoint_secret(
    endpoint_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> EndpointWithSecret:
    merchant_id, livemode = _scope(principal)
    endpoint, secret = service.roll_endpoint_secret(
        session,
        merchant_id,
        livemode,
        endpoint_id,
        server_secret=services(request).secret,
        actor=principal.actor,
    )
    return _with_secret(endpoint, secret)


# --- the notify secret -----------------------------------------------------------------------


@router.get(
    "/webhook-notify-secret",
    summary="Whether the secret signing deliveries to orders' notify_url exists (never itself)",
)
def get_notify_secret(session: SessionDep, principal: PrincipalDep) -> NotifySecretOut:
    merchant_id, livemode = _scope(principal)
    return _notify_out(livemode, service.get_notify_secret(session, merchant_id, livemode))


@router.post(
    "/webhook-notify-secret/roll",
    summary="Make or replace the notify secret (the new one is in this response only)",
)
def roll_notify_secret(
    request: Request, session: SessionDep, principal: PrincipalDep
) -> NotifySecretWithSecret:
    merchant_id, livemode = _scope(principal)
    row, secret = service.roll_notify_secret(
        session,
        merchant_id,
        livemode,
        server_secret=services(request).secret,
        actor=principal.actor,
    )
    shown = _notify_out(livemode, row).model_dump()
    return NotifySecretWithSecret(**shown, secret=secret)


# --- events ----------------------------------------------------------------------------------


@router.get("/webhook-events", summary="List webhook events, oldest first")
def list_events(
    session: SessionDep,
    principal: PrincipalDep,
    type: str | None = None,
    after: str | None = None,
    limit: int = Limit,
) -> Page[EventOut]:
    merchant_id, livemode = _scope(principal)
    result = service.list_events(
        session, merchant_id, livemode, event_type=type, after_id=after, limit=limit
    )
    return to_page(result, EventOut.model_validate)


@router.get(
    "/webhook-events/{event_id}", summary="Get a webhook event with its deliveries and attempts"
)
def get_event(event_id: str, session: SessionDep, principal: PrincipalDep) -> EventDetailOut:
    merchant_id, livemode = _scope(principal)
    detail = service.event_detail(session, merchant_id, livemode, event_id)
    deliveries = [
        DeliveryWithAttempts(
            **DeliveryOut.model_validate(item.delivery).model_dump(),
            attempt_log=[AttemptOut.model_validate(a) for a in item.attempts],
        )
        for item in detail.deliveries
    ]
    shown = EventOut.model_validate(detail.event).model_dump()
    return EventDetailOut(**shown, deliveries=deliveries)


@router.post(
    "/webhook-events/{event_id}/replay",
    summary="Send a webhook event again (to one endpoint, or to every current target)",
)
def replay_event(
    event_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    body: ReplayRequest | None = None,
) -> ReplayOut:
    merchant_id, livemode = _scope(principal)
    deliveries = service.replay_event(
        session,
        merchant_id,
        livemode,
        event_id,
        endpoint_id=body.endpoint_id if body is not None else None,
        actor=principal.actor,
    )
    return ReplayOut(
        event_id=event_id, deliveries=[DeliveryOut.model_validate(d) for d in deliveries]
    )
