"""Exchange rates: recorded with their source and the time they are valid from."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, UTCDateTime


class FxRate(Base):
    """``1 base = rate quote`` from ``as_of`` on, as ``source`` said it."""

    __tablename__ = "fx_rates"
    __table_args__ = (sa.Index("ix_fx_rates_pair_as_of", "base", "quote", "as_of"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    base: Mapped[str] = mapped_column(sa.String(3))
    quote: Mapped[str] = mapped_column(sa.String(3))
    rate: Mapped[str] = mapped_column(sa.String(40))
    """Exact decimal text (``7.1234``): never a float."""
    source: Mapped[str] = mapped_column(sa.String(100))
    """Who said it: ``ecb``, ``bank-of-china``, ``manual:ops``..."""
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
