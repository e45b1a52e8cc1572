"""Recording exchange rates and finding the one to use. Services never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.currencies import iso_currency
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.core.ids import new_id
from paydesk.fx.convert import parse_rate, rate_text, stored_rate
from paydesk.fx.models import FxRate

SOURCE_LENGTH_MAX = 100
FUTURE_SKEW = timedelta(minutes=5)
"""A rate may be recorded as valid from at most this far ahead (clock differences)."""


class FxRateUnavailable(Conflict):
    code = "fx_rate_unavailable"


@dataclass(frozen=True, slots=True)
class RateToUse:
    """The rate to convert ``source`` into ``target`` with: exact, and where it came from."""

    rate: Fraction
    record: FxRate
    inverted: bool
    """The record is ``target -> source``; ``rate`` is its exact inverse."""


def record_rate(
    session: Session,
    *,
    base: str,
    quote: str,
    rate: str,
    source: str,
    as_of: datetime | None = None,
) -> FxRate:
    """Record ``1 base = rate quote`` from ``as_of`` (default now) on, as ``source`` says."""
    iso_currency(base, param="base")
    iso_currency(quote, param="quote")
    if base == quote:
        raise InvalidRequest("base and quote are the same currency", param="quote")
    exact = parse_rate(rate)
    source = source.strip()
    if not 1 <= len(source) <= SOURCE_LENGTH_MAX:
        raise InvalidRequest(f"source is 1 to {SOURCE_LENGTH_MAX} characters", param="source")
    now = clock.now()
    as_of = as_of or now
    if as_of.tzinfo is None:
        raise InvalidRequest("as_of needs a time zone", param="as_of")
    if as_of > now + FUTURE_SKEW:
        raise InvalidRequest("as_of is in the future", param="as_of")
    record = FxRate(
        id=new_id("fxr"),
        base=base,
        quote=quote,
        rate=rate_text(exact),
        source=source,
        as_of=as_of,
        created_at=now,
    )
    session.add(record)
    session.flush()
    return record


def _latest(session: Session, base: str, quote: str, at: datetime) -> FxRate | None:
    return session.scalars(
        sa.select(FxRate)
        .where(FxRate.base == base, FxRate.quote == quote, FxRate.as_of <= at)
        .order_by(FxRate.as_of.desc(), FxRate.id.desc())
        .limit(1)
    ).first()


def rate_to_use(
    session: Session, source: str, target: str, *, at: datetime, max_age: timedelta
) -> RateToUse:
    """The latest rate ``source -> target`` valid at ``at`` and not older than ``max_age``;
    failing that the latest ``target -> source``, inverted exactly. The fresher of the two
    wins when both exist."""
    found: list[RateToUse] = []
    direct = _latest(session, source, target, at)
    if direct is not None:
        found.append(RateToUse(stored_rate(direct.rate), direct, inverted=False))
    reverse = _latest(session, target, source, at)
    if reverse is not None:
        found.append(RateToUse(1 / stored_rate(reverse.rate), reverse, inverted=True))
    fresh = [r for r in found if at - r.record.as_of <= max_age]
    if not fresh:
        raise FxRateUnavailable(
            f"no {source}/{target} exchange rate recorded in the {max_age} before {at}"
        )
    return max(fresh, key=lambda r: (r.record.as_of, not r.inverted))


def list_rates(
    session: Session, base: str | None = None, quote: str | None = None, limit: int = 50
) -> list[FxRate]:
    query = sa.select(FxRate).order_by(FxRate.as_of.desc(), FxRate.id.desc()).limit(limit)
    if base is not None:
        query = query.where(FxRate.base == base)
    if quote is not None:
        query = query.where(FxRate.quote == quote)
    return list(session.scalars(query))
