"""Use cases of merchant webhooks: endpoints, the notify secret, the event log, replays.
Services never commit.

Every call takes the caller's merchant id and mode (``livemode``); ``None`` for both is the
operator's CLI, which sees every merchant. Another merchant's endpoint or event, or one of the
other mode, is "not found". Signing secrets are stored encrypted with the server secret
(``paydesk.core.crypto``) in a context of their own row, and their plaintext is returned only
by the calls that make them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock, crypto
from paydesk.core.errors import InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PageResult, page_size, trim
from paydesk.merchants.service import audit
from paydesk.webhooks import repository as repo
from paydesk.webhooks import signing
from paydesk.webhooks.errors import (
    InvalidEventTypes,
    InvalidUrl,
    UnknownEventType,
    WebhookEndpointDisabled,
    WebhookEndpointLimitReached,
    WebhookEndpointNotFound,
    WebhookEventNotFound,
    WebhookNoTargets,
    WebhookReplayLimitReached,
)
from paydesk.webhooks.events import ALL_TYPES, EventType, schedule_delivery, subscribed
from paydesk.webhooks.models import (
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookNotifySecret,
)
from paydesk.webhooks.urls import url_problem

ENDPOINTS_MAX = 16
"""Endpoints of one merchant in one mode: every event is sent to each, so keep them few."""
DELIVERIES_PER_EVENT_MAX = 100
"""Deliveries of one event, replays included."""
DESCRIPTION_LENGTH_MAX = 200


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: WebhookDelivery
    attempts: list[WebhookDeliveryAttempt]


@dataclass(frozen=True, slots=True)
class EventDetail:
    event: WebhookEvent
    deliveries: list[DeliveryDetail]


# --- secrets ---------------------------------------------------------------------------------


def _endpoint_context(endpoint_id: str) -> str:
    return f"webhook-endpoint:{endpoint_id}"


def _notify_context(merchant_id: str, livemode: bool) -> str:
    return f"webhook-notify-secret:{merchant_id}:{'live' if livemode else 'test'}"


def endpoint_secret(endpoint: WebhookEndpoint, server_secret: str) -> str:
    """The endpoint's signing secret; :class:`crypto.DecryptionFailed` if it cannot be read."""
    return crypto.decrypt(server_secret, endpoint.secret_encrypted, _endpoint_context(endpoint.id))


def notify_secret_plain(row: WebhookNotifySecret, server_secret: str) -> str:
    context = _notify_context(row.merchant_id, row.livemode)
    return crypto.decrypt(server_secret, row.secret_encrypted, context)


# --- checks ----------------------------------------------------------------------------------


def check_url(url: str, param: str = "url") -> str:
    problem = url_problem(url)
    if problem is not None:
        raise InvalidUrl(f"{param} {problem}", param=param)
    return url


def check_event_type(value: str, param: str = "type") -> EventType:
    try:
        return EventType(value)
    except ValueError:
        known = ", ".join(EventType)
        raise UnknownEventType(
            f"unknown event type {value!r}; the types are {known}", param=param
        ) from None


def check_event_types(values: Sequence[str]) -> list[str]:
    """A non-empty list of known types without duplicates, or ``["*"]`` alone."""
    param = "event_types"
    if not values:
        raise InvalidEventTypes(
            f"{param} must name at least one type, or {ALL_TYPES!r} for all", param=param
        )
    for value in values:
        if value != ALL_TYPES:
            check_event_type(value, param)
    if len(set(values)) != len(values):
        raise InvalidEventTypes(f"{param} names a type twice", param=param)
    if ALL_TYPES in values and len(values) > 1:
        raise InvalidEventTypes(
            f"{ALL_TYPES!r} already means every type: give it alone", param=param
        )
    return list(values)


def _check_description(description: str) -> str:
    description = description.strip()
    if len(description) > DESCRIPTION_LENGTH_MAX:
        raise InvalidRequest(
            f"description must be at most {DESCRIPTION_LENGTH_MAX} characters",
            param="description",
        )
    return description


# --- endpoints -------------------------------------------------------------------------------


def create_endpoint(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    server_secret: str,
    actor: str,
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its signing secret (plaintext: shown this once)."""
    check_url(url)
    types = check_event_types(event_types)
    description = _check_description(description)
    if repo.endpoint_count(session, merchant_id, livemode) >= ENDPOINTS_MAX:
        raise WebhookEndpointLimitReached(
            f"a merchant has at most {ENDPOINTS_MAX} webhook endpoints in each mode; "
            "delete one first"
        )
    endpoint_id = new_id("whe")
    secret = signing.new_secret()
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        merchant_id=merchant_id,
        livemode=livemode,
        url=url,
        secret_encrypted=crypto.encrypt(server_secret, secret, _endpoint_context(endpoint_id)),
        secret_display=signing.secret_display(secret),
        event_types=types,
        status=EndpointStatus.ENABLED.value,
        description=description,
        created_at=now,
        updated_at=now,
    )
    repo.add(session, endpoint)
    audit(session, merchant_id, actor, "webhook_endpoint.created", endpoint_id)
    return endpoint, secret


def get_endpoint(
    session: Session, merchant_id: str | None, livemode: bool | None, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = repo.endpoint(session, merchant_id, livemode, endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound(endpoint_id)
    return endpoint


def list_endpoints(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    *,
    after_id: str | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> PageResult[WebhookEndpoint]:
    rows = repo.endpoints(
        session, merchant_id, livemode, after_id=after_id, limit=page_size(limit) + 1
    )
    return trim(rows, limit)


def update_endpoint(
    session: Session,
    merchant_id: str,
    livemode: bool,
    endpoint_id: str,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    actor: str,
) -> WebhookEndpoint:
    """Change what is given. Deliveries already made keep the URL they were made with;
    disabling an endpoint makes its pending deliveries go dead when they come up."""
    endpoint = get_endpoint(session, merchant_id, livemode, endpoint_id)
    changes: dict[str, object] = {}
    if url is not None:
        changes["url"] = check_url(url)
    if event_types is not None:
        changes["event_types"] = check_event_types(event_types)
    if description is not None:
        changes["description"] = _check_description(description)
    if enabled is not None:
        changes["status"] = (EndpointStatus.ENABLED if enabled else EndpointStatus.DISABLED).value
    changed = {k: v for k, v in changes.items() if getattr(endpoint, k) != v}
    if changed:
        for name, value in changed.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = clock.now()
        session.flush()
        audit(session, endpoint.merchant_id, actor, "webhook_endpoint.updated", endpoint.id)
    return endpoint


def delete_endpoint(
    session: Session, merchant_id: str, livemode: bool, endpoint_id: str, *, actor: str
) -> WebhookEndpoint:
    """Delete an endpoint: it gets nothing more, and is gone from the API. The row stays,
    disabled, for the delivery log."""
    endpoint = get_endpoint(session, merchant_id, livemode, endpoint_id)
    now = clock.now()
    endpoint.status = EndpointStatus.DISABLED.value
    endpoint.deleted_at = now
    endpoint.updated_at = now
    session.flush()
    audit(session, endpoint.merchant_id, actor, "webhook_endpoint.deleted", endpoint.id)
    return endpoint


def roll_endpoint_secret(
    session: Session,
    merchant_id: str,
    livemode: bool,
    endpoint_id: str,
    *,
    server_secret: str,
    actor: str,
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret for the endpoint, used from the next attempt on (retries too);
    the old one stops working at once. Returns the plaintext, shown this once."""
    endpoint = get_endpoint(session, merchant_id, livemode, endpoint_id)
    secret = signing.new_secret()
    endpoint.secret_encrypted = crypto.encrypt(
        server_secret, secret, _endpoint_context(endpoint.id)
    )
    endpoint.secret_display = signing.secret_display(secret)
    endpoint.updated_at = clock.now()
    session.flush()
    audit(session, endpoint.merchant_id, actor, "webhook_endpoint.secret_rolled", endpoint.id)
    return endpoint, secret


# --- the notify secret -----------------------------------------------------------------------


def get_notify_secret(
    session: Session, merchant_id: str, livemode: bool
) -> WebhookNotifySecret | None:
    """The merchant's notify secret in this mode, if one was made (its plaintext is not read)."""
    return repo.notify_secret(session, merchant_id, livemode)


def roll_notify_secret(
    session: Session, merchant_id: str, livemode: bool, *, server_secret: str, actor: str
) -> tuple[WebhookNotifySecret, str]:
    """Make the notify secret, or replace it; returns the plaintext, shown this once."""
    secret = signing.new_secret()
    sealed = crypto.encrypt(server_secret, secret, _notify_context(merchant_id, livemode))
    now = clock.now()
    row = repo.notify_secret(session, merchant_id, livemode, for_update=True)
    if row is None:
        row = WebhookNotifySecret(
            merchant_id=merchant_id,
            livemode=livemode,
            secret_encrypted=sealed,
            secret_display=signing.secret_display(secret),
            created_at=now,
            rotated_at=now,
        )
        repo.add(session, row)
    else:
        row.secret_encrypted = sealed
        row.secret_display = signing.secret_display(secret)
        row.rotated_at = now
        session.flush()
    audit(session, merchant_id, actor, "webhook_notify_secret.rolled", merchant_id)
    return row, secret


def ensure_notify_secret(
    session: Session, merchant_id: str, livemode: bool, *, server_secret: str
) -> str:
    """The notify secret's plaintext, made now if the merchant has none yet (a delivery to a
    notify_url came first; the merchant rolls it to read it)."""
    row = repo.notify_secret(session, merchant_id, livemode)
    if row is None:
        secret = signing.new_secret()
        now = clock.now()
        row = WebhookNotifySecret(
            merchant_id=merchant_id,
            livemode=livemode,
            secret_encrypted=crypto.encrypt(
                server_secret, secret, _notify_context(merchant_id, livemode)
            ),
            secret_display=signing.secret_display(secret),
            created_at=now,
            rotated_at=now,
        )
        try:
            with session.begin_nested():
                repo.add(session, row)
            return secret
        except sa.exc.IntegrityError:  # another worker made it first: use theirs
            row = repo.notify_secret(session, merchant_id, livemode)
            if row is None:
                raise
    return notify_secret_plain(row, server_secret)


# --- events ----------------------------------------------------------------------------------


def list_events(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    *,
    event_type: str | None = None,
    after_id: str | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> PageResult[WebhookEvent]:
    if event_type is not None:
        check_event_type(event_type)
    rows = repo.events(
        session,
        merchant_id,
        livemode,
        event_type=event_type,
        after_id=after_id,
        limit=page_size(limit) + 1,
    )
    return trim(rows, limit)


def get_event(
    session: Session, merchant_id: str | None, livemode: bool | None, event_id: str
) -> WebhookEvent:
    event = repo.event(session, merchant_id, livemode, event_id)
    if event is None:
        raise WebhookEventNotFound(event_id)
    return event


def event_detail(
    session: Session, merchant_id: str | None, livemode: bool | None, event_id: str
) -> EventDetail:
    """The event with each of its deliveries and every attempt of each."""
    event = get_event(session, merchant_id, livemode, event_id)
    deliveries = repo.deliveries_of(session, event.merchant_id, event.id)
    by_delivery: dict[str, list[WebhookDeliveryAttempt]] = {d.id: [] for d in deliveries}
    for attempt in repo.attempts_of(session, list(by_delivery)):
        by_delivery[attempt.delivery_id].append(attempt)
    return EventDetail(
        event=event,
        deliveries=[DeliveryDetail(d, by_delivery[d.id]) for d in deliveries],
    )


def replay_event(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    event_id: str,
    *,
    endpoint_id: str | None = None,
    actor: str,
) -> list[WebhookDelivery]:
    """Send the event again: new deliveries (and jobs), with the same event id and body.

    With ``endpoint_id``: to that endpoint only (enabled, subscribed or not). Without: to
    every enabled endpoint now subscribed to the type, and to the notify_url(s) the event
    was first sent to.
    """
    event = get_event(session, merchant_id, livemode, event_id)
    targets: list[tuple[str | None, str]]
    if endpoint_id is not None:
        endpoint = repo.endpoint(session, event.merchant_id, event.livemode, endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFound(endpoint_id)
        if endpoint.status != EndpointStatus.ENABLED:
            raise WebhookEndpointDisabled(
                f"webhook endpoint {endpoint.id} is disabled: enable it first",
                param="endpoint_id",
            )
        targets = [(endpoint.id, endpoint.url)]
    else:
        targets = [
            (endpoint.id, endpoint.url)
            for endpoint in repo.enabled_endpoints(session, event.merchant_id, event.livemode)
            if subscribed(endpoint.event_types, event.type)
        ]
        notify_urls = repo.notify_urls_of(session, event.merchant_id, event.id)
        targets += [(None, url) for url in notify_urls if url_problem(url) is None]
    if not targets:
        raise WebhookNoTargets("no enabled endpoint takes this event type and it had no notify_url")
    made = repo.delivery_count(session, event.merchant_id, event.id)
    if made + len(targets) > DELIVERIES_PER_EVENT_MAX:
        raise WebhookReplayLimitReached(
            f"an event has at most {DELIVERIES_PER_EVENT_MAX} deliveries, replays included"
        )
    deliveries = [
        schedule_delivery(session, event, endpoint_id=target_id, url=url)
        for target_id, url in targets
    ]
    audit(session, event.merchant_id, actor, "webhook_event.replayed", event.id)
    return deliveries
