"""All SQL of merchant webhooks. Queries on a merchant's data take the merchant id and mode
(``None``: any, for the operator's CLI and the delivery job, which starts from a delivery id)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.webhooks.models import (
    EndpointStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookNotifySecret,
)


def add(session: Session, row: Any) -> None:
    session.add(row)
    session.flush()


def _scoped(query: Any, model: Any, merchant_id: str | None, livemode: bool | None) -> Any:
    if merchant_id is not None:
        query = query.where(model.merchant_id == merchant_id)
    if livemode is not None:
        query = query.where(model.livemode == livemode)
    return query


# --- endpoints -------------------------------------------------------------------------------


def endpoint(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    endpoint_id: str,
    *,
    include_deleted: bool = False,
) -> WebhookEndpoint | None:
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    query = _scoped(query, WebhookEndpoint, merchant_id, livemode)
    if not include_deleted:
        query = query.where(WebhookEndpoint.deleted_at.is_(None))
    found: WebhookEndpoint | None = session.scalars(query).first()
    return found


def endpoints(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    *,
    after_id: str | None,
    limit: int,
) -> Sequence[WebhookEndpoint]:
    """Endpoints not deleted, in id (creation) order."""
    query = (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)
        .limit(limit)
    )
    query = _scoped(query, WebhookEndpoint, merchant_id, livemode)
    if after_id is not None:
        query = query.where(WebhookEndpoint.id > after_id)
    rows: Sequence[WebhookEndpoint] = session.scalars(query).all()
    return rows


def endpoint_count(session: Session, merchant_id: str, livemode: bool) -> int:
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.livemode == livemode,
            WebhookEndpoint.deleted_at.is_(None),
        )
    )
    return int(count or 0)


def enabled_endpoints(
    session: Session, merchant_id: str, livemode: bool
) -> Sequence[WebhookEndpoint]:
    """The endpoints that receive new events of the merchant in this mode (the caller filters
    by event type: at most a handful of rows, and JSON containment differs between
    databases)."""
    rows: Sequence[WebhookEndpoint] = session.scalars(
        sa.select(WebhookEndpoint)
        .where(
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.livemode == livemode,
            WebhookEndpoint.status == EndpointStatus.ENABLED,
            WebhookEndpoint.deleted_at.is_(None),
        )
        .order_by(WebhookEndpoint.id)
    ).all()
    return rows


# --- the notify secret -----------------------------------------------------------------------


def notify_secret(
    session: Session, merchant_id: str, livemode: bool, *, for_update: bool = False
) -> WebhookNotifySecret | None:
    query = sa.select(WebhookNotifySecret).where(
        WebhookNotifySecret.merchant_id == merchant_id,
        WebhookNotifySecret.livemode == livemode,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    found: WebhookNotifySecret | None = session.scalars(query).first()
    return found


# --- events ----------------------------------------------------------------------------------


def event(
    session: Session, merchant_id: str | None, livemode: bool | None, event_id: str
) -> WebhookEvent | None:
    query = sa.select(WebhookEvent).where(WebhookEvent.id == event_id)
    found: WebhookEvent | None = session.scalars(
        _scoped(query, WebhookEvent, merchant_id, livemode)
    ).first()
    return found


def events(
    session: Session,
    merchant_id: str | None,
    livemode: bool | None,
    *,
    event_type: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[WebhookEvent]:
    query = sa.select(WebhookEvent).order_by(WebhookEvent.id).limit(limit)
    query = _scoped(query, WebhookEvent, merchant_id, livemode)
    if event_type is not None:
        query = query.where(WebhookEvent.type == event_type)
    if after_id is not None:
        query = query.where(WebhookEvent.id > after_id)
    rows: Sequence[WebhookEvent] = session.scalars(query).all()
    return rows


# --- deliveries and attempts -----------------------------------------------------------------


def delivery(
    session: Session, delivery_id: str, *, for_update: bool = False
) -> WebhookDelivery | None:
    query = sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    found: WebhookDelivery | None = session.scalars(query).first()
    return found


def deliveries_of(session: Session, merchant_id: str, event_id: str) -> Sequence[WebhookDelivery]:
    rows: Sequence[WebhookDelivery] = session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.merchant_id == merchant_id, WebhookDelivery.event_id == event_id)
        .order_by(WebhookDelivery.id)
    ).all()
    return rows


def delivery_count(session: Session, merchant_id: str, event_id: str) -> int:
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.merchant_id == merchant_id, WebhookDelivery.event_id == event_id)
    )
    return int(count or 0)


def notify_urls_of(session: Session, merchant_id: str, event_id: str) -> list[str]:
    """The ``notify_url`` targets an event was delivered to, first one first."""
    urls = session.scalars(
        sa.select(WebhookDelivery.url)
        .where(
            WebhookDelivery.merchant_id == merchant_id,
            WebhookDelivery.event_id == event_id,
            WebhookDelivery.endpoint_id.is_(None),
        )
        .order_by(WebhookDelivery.id)
    ).all()
    return list(dict.fromkeys(urls))


def attempts_of(
    session: Session, delivery_ids: Collection[str]
) -> Sequence[WebhookDeliveryAttempt]:
    if not delivery_ids:
        return []
    rows: Sequence[WebhookDeliveryAttempt] = session.scalars(
        sa.select(WebhookDeliveryAttempt)
        .where(WebhookDeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookDeliveryAttempt.delivery_id, WebhookDeliveryAttempt.attempt)
    ).all()
    return rows
