"""Tables of merchants, apps, API keys and virtual currencies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, UTCDateTime


class MerchantKind(StrEnum):
    PLATFORM = "platform"
    """The root: the company that runs Paydesk. Exactly one."""
    AGENT = "agent"
    """Brings merchants in and shares their revenue."""
    MERCHANT = "merchant"
    SUB_MERCHANT = "sub_merchant"
    STORE = "store"


class MerchantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    """Its keys stop working; its data stays."""


class KeyMode(StrEnum):
    TEST = "test"
    """Sandbox: test channels and simulators, no real money."""
    LIVE = "live"


class KeyRole(StrEnum):
    MERCHANT = "merchant"
    """Acts for one merchant, on that merchant's data only."""
    ADMIN = "admin"
    """Platform administration: manages merchants, apps, keys and jobs of every merchant."""


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default=MerchantStatus.ACTIVE)
    path: Mapped[str] = mapped_column(sa.String(2000), index=True)
    """Ids from the root down to this merchant, ``/`` separated and ended: subtree queries
    are a prefix match."""
    depth: Mapped[int] = mapped_column(sa.Integer)
    """0 for the platform, 1 for its direct children, and so on."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class App(Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    app_id: Mapped[str | None] = mapped_column(sa.ForeignKey("apps.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    mode: Mapped[str] = mapped_column(sa.String(10))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the whole secret key; the key itself is shown once and never stored."""
    display_prefix: Mapped[str] = mapped_column(sa.String(40))
    """The key's first characters, e.g. ``pd_test_sk_3kd9``, to tell keys apart."""
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VirtualKind(StrEnum):
    COINS = "coins"
    """Bought and gifted game currency: a wallet keeps the paid and the gifted part apart."""
    POINTS = "points"
    """Earned, never bought: one part, which may expire."""


class VirtualCurrency(Base):
    __tablename__ = "virtual_currencies"
    __table_args__ = (sa.UniqueConstraint("app_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"))
    code: Mapped[str] = mapped_column(sa.String(16))
    exponent: Mapped[int] = mapped_column(sa.SmallInteger)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(10), server_default=VirtualKind.COINS.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """One administrative change: who did what to which object."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    """The merchant whose data changed."""
    actor: Mapped[str] = mapped_column(sa.String(100))
    """``key:<id>`` for an API key, ``cli`` for the command line."""
    action: Mapped[str] = mapped_column(sa.String(60))
    target_id: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
