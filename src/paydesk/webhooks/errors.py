"""Errors of merchant webhooks::

    PaydeskError
    ├── InvalidRequest (400)   invalid_url, unknown_event_type, invalid_event_types,
    │                          merchant_key_required
    ├── NotFound (404)         webhook_endpoint_not_found, webhook_event_not_found
    └── Conflict (409)         webhook_endpoint_limit_reached, webhook_endpoint_disabled,
                               webhook_replay_limit_reached, webhook_no_targets

Another merchant's endpoint or event is "not found", as if it did not exist. Failures of a
delivery are not errors a client sees: they are in the delivery log.
"""

from __future__ import annotations

from paydesk.core.errors import Conflict, InvalidRequest, NotFound


class InvalidUrl(InvalidRequest):
    code = "invalid_url"


class UnknownEventType(InvalidRequest):
    code = "unknown_event_type"


class InvalidEventTypes(InvalidRequest):
    """An empty list, a duplicate, or ``*`` beside other types."""

    code = "invalid_event_types"


class MerchantKeyRequired(InvalidRequest):
    code = "merchant_key_required"


class WebhookEndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"

    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id!r}", param="id")


class WebhookEventNotFound(NotFound):
    code = "webhook_event_not_found"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"no webhook event {event_id!r}", param="id")


class WebhookEndpointLimitReached(Conflict):
    code = "webhook_endpoint_limit_reached"


class WebhookEndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"


class WebhookReplayLimitReached(Conflict):
    code = "webhook_replay_limit_reached"


class WebhookNoTargets(Conflict):
    """A replay found nowhere to deliver: no enabled endpoint takes the type, and the event had
    no ``notify_url``."""

    code = "webhook_no_targets"
