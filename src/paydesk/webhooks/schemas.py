"""Request and response bodies of the webhooks API. A secret is only in the ``...WithSecret``
responses of the calls that make one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paydesk.merchants.schemas import Strict
from paydesk.webhooks.models import DeliveryStatus, EndpointStatus

EVENT_TYPES_DESCRIPTION = (
    'Event types to receive (docs/webhooks.md), or ["*"] for every type, including types '
    "added later."
)


class EndpointCreate(Strict):
    url: str = Field(
        description="An http(s) URL of at most 500 characters; redirects are not followed."
    )
    event_types: list[str] = Field(
        default_factory=lambda: ["*"], description=EVENT_TYPES_DESCRIPTION
    )
    description: str = Field(default="", max_length=200)


class EndpointUpdate(Strict):
    url: str | None = None
    event_types: list[str] | None = Field(default=None, description=EVENT_TYPES_DESCRIPTION)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(
        default=None, description="false: no new deliveries; pending ones go dead."
    )


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    livemode: bool
    url: str
    event_types: list[str]
    status: EndpointStatus
    description: str
    secret_display: str = Field(description="The secret's first characters, to tell it apart.")
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret. Shown this once; store it now.")


class EndpointDeleted(BaseModel):
    id: str
    deleted: bool = True


class NotifySecretOut(BaseModel):
    livemode: bool
    exists: bool = Field(description="false until first rolled or first used by a delivery.")
    secret_display: str | None = None
    created_at: datetime | None = None
    rotated_at: datetime | None = None


class NotifySecretWithSecret(NotifySecretOut):
    secret: str = Field(description="Signs deliveries to orders' notify_url. Shown this once.")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    livemode: bool
    data: dict[str, Any]
    created_at: datetime


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    endpoint_id: str | None = Field(description="null: the order's notify_url.")
    url: str
    job_id: str | None = Field(description="The job that sends it (GET /v1/jobs/{id}).")
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response_excerpt: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    succeeded_at: datetime | None
    created_at: datetime


class DeliveryWithAttempts(DeliveryOut):
    attempt_log: list[AttemptOut]


class EventDetailOut(EventOut):
    deliveries: list[DeliveryWithAttempts]


class ReplayRequest(Strict):
    endpoint_id: str | None = Field(
        default=None, description="Only to this endpoint; default: every current target."
    )


class ReplayOut(BaseModel):
    event_id: str
    deliveries: list[DeliveryOut]
