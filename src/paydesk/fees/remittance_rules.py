"""Remittance rules: who bears a channel agreement's costs, to whom they are owed, and when and
how they are paid (docs/fees.md, "Remittance").

    "remittance": {"payer": "platform", "payee": "channel", "when": "per_transaction",
                   "by": "netting"}

* ``payer``: whose money pays the cost. ``platform``: an expense of the platform (its margin
  carries it); ``merchant``: passed through to the merchant whose transaction it was (taken
  from its receivable; the platform's margin does not carry it).
* ``payee``: ``channel`` (the agreement's channel account) or the name of another party that
  bills the cost (a card scheme, an acquirer, an identity bureau).
* ``when``: ``per_transaction`` (remitted with each cost as it is accrued), ``daily`` or
  ``monthly`` (what accrued in each whole day or calendar month is remitted once, after it
  ends). Days and months are read in ``utc_offset`` (default: the offset of the agreement's
  ``valid_from``).
* ``by``: ``netting`` (the channel deducts it from what it settles to the platform: only
  with the payee ``channel``) or ``transfer`` (the platform pays it out).

Without a rule, costs accrue to the payee's payable and Paydesk remits nothing: they are
settled outside it. This module is pure: periods and their bounds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from paydesk.fees.explain import StrictModel

PAYEE_CHANNEL = "channel"
PER_TRANSACTION: Final = "per_transaction"
_OFFSET = re.compile(r"^([+-])([01][0-9]|2[0-3]):([0-5][0-9])$")


class RemittanceRule(StrictModel):
    payer: Literal["platform", "merchant"] = "platform"
    payee: str = Field(
        default=PAYEE_CHANNEL,
        pattern=r"^[a-z][a-z0-9_.-]{0,39}$",
        description="channel, or the name of the party the cost is owed to.",
    )
    when: Literal["per_transaction", "daily", "monthly"] = PER_TRANSACTION
    by: Literal["netting", "transfer"] = "netting"
    utc_offset: str | None = Field(
        default=None, description="'+08:00': where days and months begin; default valid_from's."
    )

    @field_validator("utc_offset")
    @classmethod
    def _offset(cls, value: str | None) -> str | None:
        if value is not None and not _OFFSET.match(value):
            raise ValueError("must be an offset such as +08:00")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.by == "netting" and self.payee != PAYEE_CHANNEL:
            raise ValueError(
                "by: only the channel can net a cost from its settlement; use transfer"
            )
        return self

    def zone(self, valid_from: datetime) -> timezone:
        if self.utc_offset is None:
            offset = valid_from.utcoffset()
            return timezone(offset) if offset else UTC
        found = _OFFSET.match(self.utc_offset)
        assert found is not None
        sign, hours, minutes = found.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)


def period_start(when: str, at: datetime, zone: timezone) -> datetime:
    """The start of the day or month holding ``at``, read in ``zone``."""
    local = at.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if when == "daily" else day.replace(day=1)


def next_period(when: str, start: datetime) -> datetime:
    """The start of the period after the one starting at ``start`` (in its own zone)."""
    if when == "daily":
        return (start + timedelta(days=1)).replace(hour=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month, day=1)


def ended_periods(
    when: str, zone: timezone, since: datetime, now: datetime, limit: int
) -> list[tuple[datetime, datetime]]:
    """Whole periods from the one holding ``since`` that ended by ``now``, oldest first; at
    most the last ``limit`` of them."""
    periods: list[tuple[datetime, datetime]] = []
    start = period_start(when, since, zone)
    while (end := next_period(when, start)) <= now:
        periods.append((start, end))
        start = end
    return periods[-limit:]
