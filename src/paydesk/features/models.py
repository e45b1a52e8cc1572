"""The ``feature_flags`` table: one row per feature that is not simply at its default."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class FeatureFlag(Base):
    __tablename__ = "feature_flags"

    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    enabled_for_all: Mapped[bool] = mapped_column(sa.Boolean)
    merchants: Mapped[list[str]] = mapped_column(JSONType)
    """On for these merchants (and their sub-merchants) even when not for all."""
    users: Mapped[list[str]] = mapped_column(JSONType)
    """On for these users (a merchant's user ids) even when not for all."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
