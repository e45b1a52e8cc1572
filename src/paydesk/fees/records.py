"""Fee tables: the agreements (with a channel account or a merchant) as checked documents, and
every fee or cost charged or returned, with its explanation and journal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class FeeAgreement(Base):
    """An agreement document (``fees.matching.Agreement``) with one party: a channel account
    (what the channel charges the platform: costs) or a merchant (what the platform charges
    the merchant: fees)."""

    __tablename__ = "fee_agreements"
    __table_args__ = (
        sa.UniqueConstraint("party_type", "party_id", "name"),
        sa.Index("ix_fee_agreements_party", "party_type", "party_id", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    party_type: Mapped[str] = mapped_column(sa.String(20))
    """``channel`` (the party is a channel account) or ``merchant``."""
    party_id: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(64))
    """The document's own ``id``, unique per party."""
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(20))
    """``active`` or ``retired`` (kept for the charges made under it)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeCharge(Base):
    """One fee (charged to the merchant) or cost (owed to the channel) of one transaction, or
    its return on a refund. ``unmatched``: an agreement applied but no entry matched the
    transaction: reported, never silently charged zero."""

    __tablename__ = "fee_charges"
    __table_args__ = (
        sa.UniqueConstraint("kind", "source_id", "run_id"),
        sa.Index("ix_fee_charges_order", "merchant_id", "order_id"),
        sa.Index("ix_fee_charges_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(30))
    """``merchant_fee``, ``channel_cost``, their ``*_return`` (refunds) and ``*_adjustment``
    (recomputation)."""
    source_id: Mapped[str] = mapped_column(sa.String(40))
    """The payment attempt (charges) or the refund (returns)."""
    channel_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    scenario: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20))
    """``posted`` or ``unmatched``."""
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    agreement_id: Mapped[str | None] = mapped_column(sa.String(40))
    entry_id: Mapped[str | None] = mapped_column(sa.String(64))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType)
    journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    borne_by: Mapped[str] = mapped_column(sa.String(20), server_default="platform")
    """Who pays a cost: ``platform`` (its margin carries it) or ``merchant`` (passed through
    under the agreement's remittance rule); ``platform`` for merchant fees."""
    run_id: Mapped[str] = mapped_column(sa.String(40), server_default="")
    """The recomputation run of an ``*_adjustment``; empty for charges and returns."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeRun(Base):
    """A recomputation of one party's fees or costs over a period, resumable: it goes through
    the period's payments in id order and remembers the last one done."""

    __tablename__ = "fee_runs"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    party_type: Mapped[str] = mapped_column(sa.String(20))
    party_id: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(30))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(20))
    """``running`` or ``done``."""
    cursor: Mapped[str] = mapped_column(sa.String(40), server_default="")
    """The last payment attempt done (ids increase)."""
    processed: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    adjusted: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    unmatched: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    adjustment_minor: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeRemittance(Base):
    """A payment of accrued costs to their payee: one per cost under a ``per_transaction``
    rule, one per (payable account, day or month) under ``daily`` or ``monthly``. Signed:
    negative when refunds gave back more than accrued (the payee owes the platform)."""

    __tablename__ = "fee_remittances"
    __table_args__ = (
        sa.UniqueConstraint("payable_account_id", "period_key"),
        sa.Index("ix_fee_remittances_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    agreement_id: Mapped[str] = mapped_column(sa.String(40))
    channel_account_id: Mapped[str] = mapped_column(sa.String(40))
    payee: Mapped[str] = mapped_column(sa.String(40))
    schedule: Mapped[str] = mapped_column(sa.String(20))
    """``per_transaction``, ``daily`` or ``monthly``."""
    method: Mapped[str] = mapped_column(sa.String(20))
    """``netting`` (deducted by the channel from its settlement) or ``transfer``."""
    period_key: Mapped[str] = mapped_column(sa.String(80))
    """The period (``2026-03-01T00:00:00+08:00/P1M``) or the charge remitted with its cost."""
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payable_account_id: Mapped[str] = mapped_column(sa.String(40))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(16))
    journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeePeriodClose(Base):
    """A period of one party's graduated and volume entries that has been closed (by
    ``paydesk fees close-period`` or the monthly schedule), so the schedule does not close it
    again."""

    __tablename__ = "fee_period_closes"
    __table_args__ = (
        sa.UniqueConstraint(
            "party_type",
            "party_id",
            "period_start",
            "period_end",
            name="uq_fee_period_closes_period",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    party_type: Mapped[str] = mapped_column(sa.String(20))
    party_id: Mapped[str] = mapped_column(sa.String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    entries_closed: Mapped[int] = mapped_column(sa.Integer)
    adjustment_minor: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
