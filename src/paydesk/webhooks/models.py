"""Tables of merchant webhooks: endpoints, the notify secret, events, deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    """Kept, but gets no new deliveries; its pending deliveries go dead."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Not tried yet."""
    SUCCEEDED = "succeeded"
    """The receiver answered 2xx."""
    FAILED_RETRYING = "failed_retrying"
    """The last attempt failed; another is scheduled at ``next_attempt_at``."""
    DEAD = "dead"
    """No more attempts: all failed, or the endpoint was disabled or deleted."""


class WebhookEndpoint(Base):
    """A URL of a merchant that receives the events it subscribed to, in one mode."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.Index("ix_webhook_endpoints_merchant_livemode", "merchant_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(sa.Boolean)
    url: Mapped[str] = mapped_column(sa.String(500))
    secret_encrypted: Mapped[str] = mapped_column(sa.Text())
    """The signing secret, AES-GCM encrypted (``paydesk.core.crypto``) in the context
    ``webhook-endpoint:<id>``."""
    secret_display: Mapped[str] = mapped_column(sa.String(20))
    """The secret's first characters (``whsec_AbC1``), to tell secrets apart."""
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    """Event types it receives; ``["*"]`` is every type."""
    status: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Deleted endpoints stay for the delivery log that names them; the API no longer shows
    them."""


class WebhookNotifySecret(Base):
    """The secret that signs deliveries to orders' own ``notify_url``: one per merchant and mode,
    created on first use, rotatable."""

    __tablename__ = "webhook_notify_secrets"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    livemode: Mapped[bool] = mapped_column(sa.Boolean, primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.Text())
    """Encrypted in the context ``webhook-notify-secret:<merchant_id>:<live|test>``."""
    secret_display: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the current secret was made (equal to ``created_at`` until the first roll)."""


class WebhookEvent(Base):
    """Something that happened to a merchant's object, as its webhooks tell it. Immutable."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.Index("ix_webhook_events_merchant_livemode", "merchant_id", "livemode", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(sa.Boolean)
    type: Mapped[str] = mapped_column(sa.String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The object the event is about, as the API shows it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event to one target: an endpoint, or an order's ``notify_url`` (``endpoint_id``
    NULL). Each has its own job; a replay makes new deliveries."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[str | None] = mapped_column(sa.ForeignKey("webhook_endpoints.id"))
    url: Mapped[str] = mapped_column(sa.String(500))
    """Where it goes; for an endpoint, its URL when the delivery was made."""
    job_id: Mapped[str | None] = mapped_column(sa.String(40))
    """The ``webhooks.deliver`` job that sends it."""
    status: Mapped[str] = mapped_column(sa.String(20))
    attempts: Mapped[int] = mapped_column(sa.Integer)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    """Why the last attempt failed, in short; never a secret."""
    last_response_excerpt: Mapped[str | None] = mapped_column(sa.String(500))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDeliveryAttempt(Base):
    """One try of a delivery, kept so an operator sees every one."""

    __tablename__ = "webhook_delivery_attempts"

    delivery_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    """1 for the first try of the delivery, counting on through manual retries."""
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    """The receiver's HTTP status; NULL when no answer came (timeout, refused)."""
    duration_ms: Mapped[int] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.String(300))
