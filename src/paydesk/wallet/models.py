"""Wallet tables: per-app settings, expiring lots, prepaid card batches and cards."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, UTCDateTime


class SpendOrder(StrEnum):
    GIFTED_FIRST = "gifted_first"
    """Spend the gifted part of a virtual currency before the paid part (Midas behaviour)."""
    PAID_FIRST = "paid_first"


class CardStatus(StrEnum):
    ISSUED = "issued"
    """Printed, not yet sellable: holds nothing."""
    ACTIVE = "active"
    """Sold and loaded with its face value: can be redeemed or paid with."""
    REDEEMED = "redeemed"
    """Emptied into a wallet or spent down to zero."""
    EXPIRED = "expired"


class WalletSettings(Base):
    __tablename__ = "wallet_settings"

    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    spend_order: Mapped[str] = mapped_column(sa.String(20))
    gifted_ttl_days: Mapped[int | None] = mapped_column(sa.Integer)
    """Gifted virtual currency expires this many days after it was given; None: never."""
    points_ttl_days: Mapped[int | None] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WalletLot(Base):
    """An expiring amount credited to a wallet account; spends use the earliest lots first."""

    __tablename__ = "wallet_lots"
    __table_args__ = (
        sa.Index("ix_wallet_lots_account_expires", "account_id", "expires_at"),
        sa.Index("ix_wallet_lots_expires_remaining", "expires_at", "amount_remaining"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    journal_id: Mapped[str] = mapped_column(sa.String(40))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units credited."""
    amount_remaining: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units not yet spent or expired."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PrepaidBatch(Base):
    __tablename__ = "prepaid_batches"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"))
    count: Mapped[int] = mapped_column(sa.Integer)
    face_value: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units each card carries once activated."""
    currency: Mapped[str] = mapped_column(sa.String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PrepaidCard(Base):
    __tablename__ = "prepaid_cards"
    # The expiry job looks for issued or active cards past their expiry.
    __table_args__ = (sa.Index("ix_prepaid_cards_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    app_id: Mapped[str] = mapped_column(sa.ForeignKey("apps.id"))
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("prepaid_batches.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the card's code; the code itself is shown once, when the batch is issued."""
    code_last4: Mapped[str] = mapped_column(sa.String(4))
    face_value: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(10))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    redeemed_by: Mapped[str | None] = mapped_column(sa.String(128))
    """The user whose wallet received the card's value."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
