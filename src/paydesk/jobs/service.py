"""Use cases on jobs: enqueue (the transactional outbox), list, get, retry. Never commits.

:func:`enqueue` writes the job row in the caller's transaction: the job exists exactly when the
change that asked for it commits, and a worker picks it up after that commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PageResult, page_size, trim
from paydesk.jobs import repository as repo
from paydesk.jobs.domain import ATTEMPTS_MAX_DEFAULT, ATTEMPTS_MAX_LIMIT
from paydesk.jobs.errors import JobNotFound, JobNotRetryable
from paydesk.jobs.models import Job, JobStatus
from paydesk.jobs.registry import KIND_LENGTH_MAX

PAYLOAD_BYTES_MAX = 64 * 1024
"""Jobs carry ids and small parameters; big data belongs in its own table."""
DEDUPE_KEY_LENGTH_MAX = 200


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    merchant_id: str | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    attempts_max: int | None = None,
) -> Job:
    """Add a ``kind`` job to the caller's transaction, to run at ``run_at`` (default: now).

    With a ``dedupe_key`` that an existing job already has, that job is returned instead and
    nothing is added (whatever its kind, payload or status). ``payload`` must be a JSON object
    of at most 64 KiB. ``attempts_max`` defaults to 12 (about a day of back-off).
    """
    if not kind or len(kind) > KIND_LENGTH_MAX:
        raise ValueError(f"kind must be 1 to {KIND_LENGTH_MAX} characters")
    payload_dict = _checked_payload(payload)
    attempts = ATTEMPTS_MAX_DEFAULT if attempts_max is None else attempts_max
    if not 1 <= attempts <= ATTEMPTS_MAX_LIMIT:
        raise ValueError(f"attempts_max must be 1 to {ATTEMPTS_MAX_LIMIT}")
    if dedupe_key is not None:
        if not dedupe_key or len(dedupe_key) > DEDUPE_KEY_LENGTH_MAX:
            raise ValueError(f"dedupe_key must be 1 to {DEDUPE_KEY_LENGTH_MAX} characters")
        existing = repo.job_by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
    now = clock.now()
    job = Job(
        id=new_id("job"),
        kind=kind,
        merchant_id=merchant_id,
        payload=payload_dict,
        status=JobStatus.PENDING,
        attempts=0,
        attempts_max=attempts,
        run_at=now if run_at is None else run_at,
        dedupe_key=dedupe_key,
        created_at=now,
        updated_at=now,
    )
    if dedupe_key is None:
        repo.add_job(session, job)
        return job
    # Another transaction may have added the key since the check above. The savepoint keeps
    # the caller's transaction usable when the insert hits the unique constraint.
    try:
        with session.begin_nested():
            repo.add_job(session, job)
    except sa.exc.IntegrityError:
        existing = repo.job_by_dedupe_key(session, dedupe_key)
        if existing is None:  # a different constraint failed (an unknown merchant_id)
            raise
        return existing
    return job


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    merchant_id: str | None = None,
    kind: str | None = None,
    limit: int = PAGE_SIZE_DEFAULT,
    after_id: str | None = None,
) -> PageResult[Job]:
    """A page of jobs, oldest first; ``merchant_id`` limits it to one merchant's jobs.

    ``after_id`` is the last id of the previous page. ``limit`` is 1 to 100.
    """
    if status is not None and status not in JobStatus.__members__.values():
        choices = ", ".join(JobStatus)
        raise InvalidRequest(f"status must be one of {choices}", param="status")
    rows = repo.jobs(
        session,
        status=status,
        merchant_id=merchant_id,
        kind=kind,
        after_id=after_id,
        limit=page_size(limit) + 1,
    )
    return trim(rows, limit)


def get_job(session: Session, job_id: str, merchant_id: str | None = None) -> Job:
    """The job ``job_id``; :class:`JobNotFound` if unknown or, with ``merchant_id``, another's."""
    job = repo.job(session, job_id, merchant_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


def retry_job(session: Session, job_id: str, merchant_id: str | None = None) -> Job:
    """Run a dead job (or a failed one waiting for its back-off) again now, with fresh attempts.

    ``last_error`` is kept until the next attempt ends. A succeeded, running or never-tried
    job raises :class:`JobNotRetryable`.
    """
    job = repo.job(session, job_id, merchant_id, for_update=True)
    if job is None:
        raise JobNotFound(job_id)
    failed_pending = job.status == JobStatus.PENDING and job.attempts > 0
    if job.status != JobStatus.DEAD and not failed_pending:
        status = job.status if job.attempts > 0 else f"{job.status} and not tried yet"
        raise JobNotRetryable(job_id, status)
    repo.reset_for_retry(session, job, clock.now())
    return job


def _checked_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise TypeError("payload must be a mapping (a JSON object)")
    try:
        encoded = json.dumps(dict(payload), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    if len(encoded.encode()) > PAYLOAD_BYTES_MAX:
        raise ValueError(f"payload is larger than {PAYLOAD_BYTES_MAX} bytes of JSON")
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded
