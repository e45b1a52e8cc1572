"""Midas tables: an app's Midas configuration, access tokens and users' session keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, UTCDateTime


class MidasConfig(Base):
    """How a game reaches its app's wallets through the Midas API: one per app."""

    __tablename__ = "midas_configs"

    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    appid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The WeChat-style app id clients send (``wx...``); names one config across Paydesk."""
    offer_id: Mapped[str] = mapped_column(sa.String(64))
    currency: Mapped[str] = mapped_column(sa.String(16))
    """The app's virtual currency (kind ``coins``) that the Midas calls move."""
    app_key_encrypted: Mapped[str] = mapped_column(sa.String(200))
    """The AppKey that keys ``sig``, AES-GCM encrypted (``paydesk.core.crypto``): Paydesk
    must recompute signatures, so it keeps the key itself, never in clear."""
    app_secret_hash: Mapped[str] = mapped_column(sa.String(64))
    """SHA-256 of the AppSecret that buys access tokens; the secret is shown once."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the AppKey and AppSecret were last issued."""


class MidasToken(Base):
    """An access token issued by ``/cgi-bin/token``."""

    __tablename__ = "midas_tokens"
    __table_args__ = (sa.Index("ix_midas_tokens_app_expires", "app_id", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    """SHA-256 of the token; the token itself is only in the response that issued it."""
    app_id: Mapped[str] = mapped_column(sa.ForeignKey("midas_configs.app_id"))
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MidasSession(Base):
    """A user's WeChat session key, which keys ``mp_sig``; the game server registers it after
    ``code2session``."""

    __tablename__ = "midas_sessions"

    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"), primary_key=True)
    openid: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    session_key_encrypted: Mapped[str] = mapped_column(sa.String(400))
    """AES-GCM encrypted (``paydesk.core.crypto``), bound to this app and openid."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
