"""Webhook event types, and :func:`emit`: how a module tells merchants that something happened.

``emit`` works in the caller's transaction and never commits (the transactional outbox): it
writes the event, one delivery per target, and one ``webhooks.deliver`` job per delivery. If
the caller's change rolls back, no event exists and nothing is sent; if it commits, every
delivery is sent, with retries (see :mod:`paydesk.webhooks.retries`)::

    from paydesk.webhooks.events import EventType, emit

    emit(session, merchant_id=order.merchant_id, livemode=order.livemode,
         type=EventType.ORDER_SUCCEEDED, data=order_as_json, notify_url=order.notify_url)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.jobs.service import enqueue
from paydesk.webhooks import repository as repo
from paydesk.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from paydesk.webhooks.retries import ATTEMPTS_MAX
from paydesk.webhooks.urls import URL_LENGTH_MAX, url_problem

DELIVER_JOB = "webhooks.deliver"
ALL_TYPES = "*"
"""In an endpoint's ``event_types``: every type, including those added later."""
DATA_BYTES_MAX = 64 * 1024
"""An event describes one object (an order, a refund): small."""
LAST_ERROR_LENGTH_MAX = 300


class EventType(StrEnum):
    """What a webhook can tell. ``data`` is the object named by the first part, as the API
    shows it; docs/webhooks.md lists the fields."""

    ORDER_SUCCEEDED = "order.succeeded"
    """An order was paid in full."""
    ORDER_CLOSED = "order.closed"
    """An order was closed unpaid: by the merchant, or when it expired."""
    REFUND_SUCCEEDED = "refund.succeeded"
    """A refund reached the payer."""
    REFUND_FAILED = "refund.failed"
    """A refund could not be made; the money stays with the merchant."""


def subscribed(event_types: Iterable[str], event_type: str) -> bool:
    """Whether an endpoint with ``event_types`` receives events of ``event_type``."""
    types = set(event_types)
    return ALL_TYPES in types or event_type in types


def _checked_data(data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError("data must be a mapping (a JSON object)")
    try:
        encoded = json.dumps(dict(data), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event data is not JSON: {exc}") from None
    if len(encoded.encode()) > DATA_BYTES_MAX:
        raise ValueError(f"event data is larger than {DATA_BYTES_MAX} bytes of JSON")
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


def emit(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    type: EventType | str,
    data: Mapping[str, Any],
    notify_url: str | None = None,
) -> WebhookEvent:
    """Record an event of ``merchant_id`` in ``livemode`` and schedule its deliveries, in the
    caller's transaction.

    Deliveries go to every enabled endpoint of the merchant in that mode subscribed to
    ``type`` (or to ``*``), and to ``notify_url`` when given (an order's own URL, signed with
    the merchant's notify secret). ``data`` must be a JSON object of at most 64 KiB: an
    unknown ``type`` or data that is not JSON raise ``ValueError`` (a bug in the caller). A
    ``notify_url`` that cannot receive webhooks does not fail the caller's change: its
    delivery is recorded dead, with the reason.
    """
    event_type = EventType(type)
    payload = _checked_data(data)
    event = WebhookEvent(
        id=new_id("evt"),
        merchant_id=merchant_id,
        livemode=livemode,
        type=event_type.value,
        data=payload,
        created_at=clock.now(),
    )
    repo.add(session, event)
    for endpoint in repo.enabled_endpoints(session, merchant_id, livemode):
        if subscribed(endpoint.event_types, event_type):
            schedule_delivery(session, event, endpoint_id=endpoint.id, url=endpoint.url)
    if notify_url is not None:
        problem = url_problem(notify_url)
        if problem is None:
            schedule_delivery(session, event, endpoint_id=None, url=notify_url)
        else:
            _unsendable(session, event, notify_url, f"notify_url {problem}: not sent")
    return event


def _unsendable(session: Session, event: WebhookEvent, url: str, reason: str) -> None:
    """A dead delivery without a job: the log shows why a notify_url got nothing, and the
    change that emitted the event goes on (an order's notify_url is the merchant's input)."""
    now = clock.now()
    repo.add(
        session,
        WebhookDelivery(
            id=new_id("whd"),
            merchant_id=event.merchant_id,
            event_id=event.id,
            endpoint_id=None,
            url=url[:URL_LENGTH_MAX],
            status=DeliveryStatus.DEAD.value,
            attempts=0,
            last_error=reason[:LAST_ERROR_LENGTH_MAX],
            created_at=now,
        ),
    )


def schedule_delivery(
    session: Session, event: WebhookEvent, *, endpoint_id: str | None, url: str
) -> WebhookDelivery:
    """A new delivery of ``event`` to ``url`` (an endpoint's, or a notify_url when
    ``endpoint_id`` is None) and its job, due now. Used by :func:`emit` and by replays."""
    delivery_id = new_id("whd")
    now = clock.now()
    job = enqueue(
        session,
        DELIVER_JOB,
        {"delivery_id": delivery_id},
        merchant_id=event.merchant_id,
        dedupe_key=f"webhook:{delivery_id}",
        attempts_max=ATTEMPTS_MAX,
    )
    delivery = WebhookDelivery(
        id=delivery_id,
        merchant_id=event.merchant_id,
        event_id=event.id,
        endpoint_id=endpoint_id,
        url=url,
        job_id=job.id,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    repo.add(session, delivery)
    return delivery
