"""The fee centre's schedule (docs/fees.md): every hour, ``fees.scheduled``

* remits the ended days and months of channel agreements whose remittance rule is ``daily``
  or ``monthly`` (``fees/remitting.py``), each period once;
* closes the ended calendar months of every party with graduated or volume entries, once
  :data:`CLOSE_GRACE` has passed after the month's end (payments the channel confirms late
  still fall in their month), each month once (``fee_period_closes``; a month closed by hand
  with ``paydesk fees close-period`` is not closed again). Months are read in the UTC offset
  of the agreement's ``valid_from``.

Everything happens in the job's transaction: it all lands, or the next run does it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.fees import remitting
from paydesk.fees import service as fees
from paydesk.fees.fee_models import GraduatedFee, VolumeFee
from paydesk.fees.matching import Agreement
from paydesk.fees.records import FeeAgreement, FeePeriodClose
from paydesk.fees.remittance_rules import ended_periods
from paydesk.jobs.registry import JobContext, job_handler, register_schedule
from paydesk.payments.fee_flow import books
from paydesk.payments.fee_recompute import close_party_period

SCHEDULED_JOB = "fees.scheduled"
INTERVAL_S = 3600
CLOSE_GRACE = timedelta(days=1)
CLOSE_MONTHS_BACK_MAX = 36

log = structlog.get_logger(__name__)


@dataclass
class ScheduledRun:
    remitted: int = 0
    remitted_minor: int = 0
    closed: list[tuple[str, str, str]] = field(default_factory=list)
    """(party type, party id, period) of each month closed."""


def _has_period_entries(agreement: Agreement) -> bool:
    return any(
        isinstance(entry.fee, GraduatedFee | VolumeFee)
        for interface in agreement.interfaces
        for entry in interface.entries
    )


def _active(session: Session) -> list[tuple[FeeAgreement, Agreement]]:
    rows = session.scalars(
        sa.select(FeeAgreement).where(FeeAgreement.status == "active").order_by(FeeAgreement.id)
    )
    return [(row, fees.parsed(row)) for row in rows]


def remit_due(session: Session, now: datetime) -> ScheduledRun:
    done = ScheduledRun()
    for row, agreement in _active(session):
        for start, end in remitting.periods_due(session, row, agreement, now):
            made = remitting.remit_period(
                session,
                row=row,
                agreement=agreement,
                start=start,
                end=end,
                books_for=lambda merchant_id: books(session, merchant_id),
            )
            done.remitted += len(made)
            done.remitted_minor += sum(r.amount_minor for r in made)
    return done


def close_due(session: Session, now: datetime) -> list[tuple[str, str, str]]:
    """Close every party's ended months (those past the grace), oldest first."""
    closed = []
    for row, agreement in _active(session):
        if not _has_period_entries(agreement):
            continue
        offset = agreement.valid_from.utcoffset()
        zone = timezone(offset) if offset else UTC
        last = session.scalar(
            sa.select(sa.func.max(FeePeriodClose.period_end)).where(
                FeePeriodClose.party_type == row.party_type,
                FeePeriodClose.party_id == row.party_id,
            )
        )
        since = max(agreement.valid_from, last) if last is not None else agreement.valid_from
        months = ended_periods("monthly", zone, since, now - CLOSE_GRACE, CLOSE_MONTHS_BACK_MAX)
        for start, end in months:
            if agreement.valid_to is not None and start >= agreement.valid_to:
                break
            if last is not None and start < last:
                continue
            close_party_period(
                session,
                party_type=row.party_type,
                party_id=row.party_id,
                period_start=start,
                period_end=end,
            )
            closed.append((row.party_type, row.party_id, f"{start.isoformat()}/P1M"))
            last = end
    return closed


def run_schedule(session: Session, now: datetime | None = None) -> ScheduledRun:
    now = now or clock.now()
    done = remit_due(session, now)
    done.closed = close_due(session, now)
    return done


@job_handler(SCHEDULED_JOB)
def scheduled_job(ctx: JobContext) -> None:
    done = run_schedule(ctx.session)
    log.info(
        "fees_scheduled",
        job_id=ctx.job_id,
        remittances=done.remitted,
        remitted_minor=done.remitted_minor,
        periods_closed=len(done.closed),
    )


register_schedule("fees_scheduled", SCHEDULED_JOB, INTERVAL_S)
