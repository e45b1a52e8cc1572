"""The idempotency record table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, UTCDateTime


class IdempotencyRecord(Base):
    """The response to the first request that used a key.

    Written in the same transaction as the request's effect, so the record exists exactly
    when the effect does.
    """

    __tablename__ = "idempotency_records"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    """SHA-256 of method, path and canonical body: a replay must match it."""
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(500))
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    response_body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
