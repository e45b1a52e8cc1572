"""The ``channel_accounts`` table: one merchant's account at one channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class ChannelAccountMode(StrEnum):
    SANDBOX = "sandbox"
    """Calls go to the channel's simulator mounted in Paydesk: no real money moves."""
    LIVE = "live"
    """Calls go to the channel's real gateway."""


class ChannelAccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    """Kept with its credentials, but no connector is built for it until enabled again."""


class ChannelAccount(Base):
    __tablename__ = "channel_accounts"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "name"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(20))
    """A channel of the registry: ``wechatpay``, ``alipay``."""
    name: Mapped[str] = mapped_column(sa.String(200))
    """The merchant's label for the account, unique per merchant."""
    mode: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(20))
    credentials_encrypted: Mapped[str] = mapped_column(sa.Text())
    """The credential JSON, AES-GCM encrypted (``paydesk.core.crypto``) in the context
    ``channel-account:<id>``: it decrypts for this row only."""
    public_fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """The credentials an operator may see (merchant number, app id), in clear."""
    gray_users: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")
    """Gray release: when not empty, the router sends only these users' payments here."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The last change: status, or credentials rotated."""
