"""Routing tables: each merchant's policy, and every decision with its candidates."""

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


class RoutingDecision(Base):
    """Why an attempt went to its channel account: the rule, the strategy, every candidate
    with its score or the reason it was skipped."""

    __tablename__ = "routing_decisions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    attempt_id: Mapped[str | None] = mapped_column(sa.String(40))
    method: Mapped[str] = mapped_column(sa.String(30))
    policy_version: Mapped[int] = mapped_column(sa.Integer)
    """0: the default policy (none stored)."""
    rule: Mapped[str] = mapped_column(sa.String(100))
    strategy: Mapped[str] = mapped_column(sa.String(20))
    chosen_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(sa.Text())
    failover_from: Mapped[str | None] = mapped_column(sa.String(40))
    """The account tried just before in the same request, which failed."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
