"""All SQL of the jobs module, the same statements on SQLite and PostgreSQL.

Time always comes from the caller (``paydesk.core.clock``), never from the database server, so
tests can move it and both databases compare the same values.

Row locks: ``FOR UPDATE SKIP LOCKED`` lets PostgreSQL workers claim different jobs at the same
time without waiting for each other. SQLite has no row locks and SQLAlchemy leaves the clause
out; there every write transaction starts with ``BEGIN IMMEDIATE`` (see
:mod:`paydesk.db.engine`), so claims are serialized and the select-then-update is just as safe.

The updates that finish an attempt are conditional on the claim (``locked_by``, ``attempts``
and ``status``): a worker that lost its job to another one changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.jobs.models import Job, JobSchedule, JobStatus
from paydesk.jobs.registry import ScheduleSpec


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker claimed, detached from the session that claimed it."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    """The attempt number this claim started (``attempts`` after the claim)."""
    attempts_max: int
    merchant_id: str | None
    locked_until: datetime


def _rowcount(result: sa.Result[Any]) -> int:
    return cast("sa.CursorResult[Any]", result).rowcount


def _is_claim(job_id: str, worker_id: str, attempt: int) -> sa.ColumnElement[bool]:
    """The job is still running under this worker's claim of ``attempt``."""
    return sa.and_(
        Job.id == job_id,
        Job.locked_by == worker_id,
        Job.attempts == attempt,
        Job.status == JobStatus.RUNNING,
    )


# --- jobs: reads -----------------------------------------------------------------------------


def job(
    session: Session, job_id: str, merchant_id: str | None = None, *, for_update: bool = False
) -> Job | None:
    """The job ``job_id``; ``None`` if unknown or, when ``merchant_id`` is given, another's."""
    query = sa.select(Job).where(Job.id == job_id)
    if merchant_id is not None:
        query = query.where(Job.merchant_id == merchant_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def job_by_dedupe_key(session: Session, dedupe_key: str) -> Job | None:
    return session.scalars(sa.select(Job).where(Job.dedupe_key == dedupe_key)).first()


def jobs(
    session: Session,
    *,
    status: str | None,
    merchant_id: str | None,
    kind: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Job]:
    """Jobs in id (creation) order, filtered by whichever of the arguments are given."""
    query = sa.select(Job).order_by(Job.id).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if merchant_id is not None:
        query = query.where(Job.merchant_id == merchant_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if after_id is not None:
        query = query.where(Job.id > after_id)
    return session.scalars(query).all()


# --- jobs: writes ----------------------------------------------------------------------------


def add_job(session: Session, new_job: Job) -> None:
    session.add(new_job)
    session.flush()


def claim_due_jobs(
    session: Session, *, worker_id: str, now: datetime, lease_s: float, limit: int
) -> list[ClaimedJob]:
    """Mark up to ``limit`` due jobs running under ``worker_id`` until ``now + lease_s``.

    Due: pending with ``run_at`` reached, or running with an expired lease (its worker died).
    Oldest ``run_at`` first. Commit promptly: the rows stay locked until then.
    """
    due = sa.or_(
        sa.and_(Job.status == JobStatus.PENDING, Job.run_at <= now),
        sa.and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )
    rows = session.execute(
        sa.select(Job.id, Job.kind, Job.payload, Job.attempts, Job.attempts_max, Job.merchant_id)
        .where(due)
        .order_by(Job.run_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    locked_until = now + timedelta(seconds=lease_s)
    session.execute(
        sa.update(Job)
        .where(Job.id.in_([row.id for row in rows]))
        .values(
            status=JobStatus.RUNNING,
            locked_by=worker_id,
            locked_until=locked_until,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            payload=dict(row.payload or {}),
            attempt=row.attempts + 1,
            attempts_max=row.attempts_max,
            merchant_id=row.merchant_id,
            locked_until=locked_until,
        )
        for row in rows
    ]


def renew_lease(
    session: Session, *, job_id: str, worker_id: str, attempt: int, locked_until: datetime
) -> bool:
    """Extend this worker's claim; ``False`` if the claim was lost (lease expired, re-claimed).

    Inside the job's own transaction this also keeps the row locked on PostgreSQL while the
    handler runs, so other workers skip it even if the handler outlives the lease.
    """
    result = session.execute(
        sa.update(Job)
        .where(_is_claim(job_id, worker_id, attempt))
        .values(locked_until=locked_until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def mark_succeeded(
    session: Session, *, job_id: str, worker_id: str, attempt: int, now: datetime
) -> bool:
    """Record success of this worker's attempt; ``False`` (nothing changed) if it lost the claim.

    ``locked_by`` stays, to show which worker ran the job.
    """
    result = session.execute(
        sa.update(Job)
        .where(_is_claim(job_id, worker_id, attempt))
        .values(
            status=JobStatus.SUCCEEDED,
            locked_until=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def mark_failed(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    attempt: int,
    now: datetime,
    last_error: str,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: pending again at ``retry_at``, or dead when it is ``None``."""
    values: dict[str, Any] = {
        "last_error": last_error,
        "locked_until": None,
        "updated_at": now,
    }
    if retry_at is None:
        values.update(status=JobStatus.DEAD, finished_at=now)
    else:
        values.update(status=JobStatus.PENDING, run_at=retry_at, locked_by=None)
    result = session.execute(
        sa.update(Job)
        .where(_is_claim(job_id, worker_id, attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def release_claims(
    session: Session, *, claims: Collection[tuple[str, int]], worker_id: str, now: datetime
) -> int:
    """Give back claimed jobs that were never started (worker stopping): pending, attempt undone."""
    released = 0
    for job_id, attempt in claims:
        result = session.execute(
            sa.update(Job)
            .where(_is_claim(job_id, worker_id, attempt))
            .values(
                status=JobStatus.PENDING,
                attempts=Job.attempts - 1,
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        released += _rowcount(result)
    return released


def reset_for_retry(session: Session, retried: Job, now: datetime) -> None:
    """A fresh start for a job retried by hand: pending now, no attempts, no claim."""
    retried.status = JobStatus.PENDING
    retried.run_at = now
    retried.attempts = 0
    retried.locked_by = None
    retried.locked_until = None
    retried.finished_at = None
    retried.updated_at = now
    session.flush()


# --- schedules -------------------------------------------------------------------------------


def ensure_schedule(session: Session, spec: ScheduleSpec, first_run_at: datetime) -> None:
    """Create the schedule's row, or bring its kind, interval and payload up to date.

    An existing ``next_run_at`` is kept, except that it is pulled in to one interval from
    ``first_run_at`` when the interval was shortened. A concurrent creation by another worker
    is not an error.
    """
    payload = dict(spec.payload)
    row = session.scalars(
        sa.select(JobSchedule)
        .where(JobSchedule.name == spec.name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    JobSchedule(
                        name=spec.name,
                        kind=spec.kind,
                        interval_s=spec.interval_s,
                        payload=payload,
                        next_run_at=first_run_at,
                    )
                )
            return
        except sa.exc.IntegrityError:
            row = session.get(JobSchedule, spec.name, populate_existing=True)
            if row is None:
                raise
    row.kind = spec.kind
    row.interval_s = spec.interval_s
    row.payload = payload
    latest = first_run_at + timedelta(seconds=spec.interval_s)
    if row.next_run_at > latest:
        row.next_run_at = latest
    session.flush()


def claim_due_schedules(
    session: Session, *, names: Collection[str], now: datetime, limit: int
) -> Sequence[JobSchedule]:
    """Due schedules among ``names``, locked so that one worker enqueues each slot."""
    if not names:
        return []
    return session.scalars(
        sa.select(JobSchedule)
        .where(JobSchedule.name.in_(list(names)), JobSchedule.next_run_at <= now)
        .order_by(JobSchedule.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()


def advance_schedule(session: Session, schedule: JobSchedule, next_run_at: datetime) -> None:
    schedule.next_run_at = next_run_at
    session.flush()
