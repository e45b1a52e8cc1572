"""Routing tables: each merchant's policy. Decisions are kept on the attempts they made
(``payment_attempts.routing``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class RoutingPolicyRecord(Base):
    """A merchant's routing policy (``policy.RoutingPolicy`` as JSON); no row: the default."""

    __tablename__ = "routing_policies"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(sa.Integer)
    """1 for the first policy stored, one more at each change: decisions name it."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
