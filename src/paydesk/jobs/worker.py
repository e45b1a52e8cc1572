"""The worker: enqueues due schedules, claims due jobs and runs each in its own transaction.

One attempt of a job, in one transaction:

1. renew the claim (``locked_by`` = this worker, ``attempts`` = this attempt, still running) —
   on PostgreSQL this also locks the row, so no other worker claims it while the handler runs;
2. run the handler, whose writes go through the same session;
3. mark the job succeeded with the same conditional update.

If step 1 or 3 finds the claim gone (the lease expired and another worker claimed the job),
everything is rolled back: a job's effects commit exactly once. If the handler raises, its
transaction is rolled back and a second, short transaction records ``last_error`` and either
reschedules the job after a back-off delay or marks it dead.

A worker that dies mid-job (killed, machine lost) leaves its job ``running``; once the lease
(``job_lease_s``) has passed, any worker claims it again as the next attempt.

A handler registered with ``transaction=False`` (one that calls the outside world) runs
between two short transactions instead: one renews the claim, the other marks the job
succeeded; the handler opens its own units of work in between.
"""

from __future__ import annotations

import importlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.settings import Settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs import repository as repo
from paydesk.jobs.domain import (
    FailureAction,
    backoff_delay_s,
    error_summary,
    failure_action,
    first_slot_start,
    schedule_slot,
)
from paydesk.jobs.metrics import (
    JOB_DURATION_S,
    JOBS_CLAIMED_TOTAL,
    JOBS_TOTAL,
    SCHEDULED_JOBS_TOTAL,
    WORKER_ERRORS_TOTAL,
)
from paydesk.jobs.registry import (
    HandlerRegistry,
    JobContext,
    JobHandler,
    PermanentJobError,
    RetryJobAt,
)
from paydesk.jobs.registry import registry as default_registry
from paydesk.jobs.repository import ClaimedJob
from paydesk.jobs.service import enqueue

BUILTIN_MODULES = (
    "paydesk.jobs.builtin",
    "paydesk.ledger.jobs",
    "paydesk.wallet.lots",
    "paydesk.wallet.prepaid",
    "paydesk.payments.fee_schedule",
    "paydesk.payments.order_centre",
    "paydesk.payments.refunds",
    "paydesk.payments.settlement",
    "paydesk.webhooks.delivery",
)
"""Imported by every worker: Paydesk's own handlers and schedules."""
SCHEDULES_PER_TICK_MAX = 100
WORKER_ID_LENGTH_MAX = 100
ERROR_PAUSE_S_MAX = 30.0
"""Longest pause after consecutive failures of the loop itself (database unreachable)."""

logger = structlog.get_logger(__name__)


class JobModuleError(RuntimeError):
    """A module named in the ``job_modules`` setting cannot be imported."""


class _ClaimLost(Exception):
    """This worker's claim on the job is gone; the attempt must change nothing."""


def import_job_modules(names: Iterable[str]) -> None:
    """Import the modules that register handlers and schedules."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise JobModuleError(f"PAYDESK_JOB_MODULES: cannot import {name!r}: {exc}") from exc


def default_worker_id() -> str:
    """``host:pid:random``, unique per worker even with several in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:WORKER_ID_LENGTH_MAX]


class Worker:
    """Runs due jobs of one database. Several workers (threads or processes) may share it."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str | None = None,
        *,
        registry: HandlerRegistry | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        if len(self.worker_id) > WORKER_ID_LENGTH_MAX:
            raise ValueError(f"worker_id is longer than {WORKER_ID_LENGTH_MAX} characters")
        self.registry = registry or default_registry
        import_job_modules([*BUILTIN_MODULES, *settings.job_modules])
        self._started = False
        self._log = logger.bind(worker_id=self.worker_id)

    def start(self) -> None:
        """Write the registered schedules to the database (once; ``run_once`` calls it)."""
        if self._started:
            return
        specs = self.registry.schedules()
        if specs:
            now = clock.now()
            with unit_of_work(self.db) as session:
                for spec in specs:
                    repo.ensure_schedule(session, spec, first_slot_start(now, spec.interval_s))
        self._started = True
        self._log.info("job_worker_started", schedules=[spec.name for spec in specs])

    def run_once(self, stop_event: threading.Event | None = None) -> int:
        """Enqueue due schedules, claim a batch of due jobs and run them; the number run.

        When ``stop_event`` is set between two jobs, the jobs not yet started are given back.
        """
        self.start()
        self.tick_schedules()
        with unit_of_work(self.db) as session:
            claimed = repo.claim_due_jobs(
                session,
                worker_id=self.worker_id,
                now=clock.now(),
                lease_s=self.settings.job_lease_s,
                limit=self.settings.job_batch_size,
            )
        JOBS_CLAIMED_TOTAL.inc(len(claimed))
        for index, job in enumerate(claimed):
            if stop_event is not None and stop_event.is_set():
                self._release(claimed[index:])
                return index
            self.run_job(job)
        return len(claimed)

    def run_forever(self, stop_event: threading.Event) -> None:
        """Run jobs until ``stop_event`` is set, polling every ``job_poll_interval_s`` when idle.

        The current job always finishes; failures of the loop itself (database down) are
        logged and retried after a growing pause.
        """
        failures = 0
        while not stop_event.is_set():
            try:
                ran = self.run_once(stop_event)
            except Exception:
                failures += 1
                WORKER_ERRORS_TOTAL.inc()
                pause_s = backoff_delay_s(
                    min(failures, 10),
                    base_s=self.settings.job_poll_interval_s,
                    cap_s=max(ERROR_PAUSE_S_MAX, self.settings.job_poll_interval_s),
                )
                self._log.exception("job_worker_error", failures=failures, pause_s=pause_s)
                stop_event.wait(pause_s)
                continue
            failures = 0
            if ran == 0:
                stop_event.wait(self.settings.job_poll_interval_s)
        self._log.info("job_worker_stopped")

    def tick_schedules(self) -> int:
        """Enqueue one job for each due schedule's current slot; the number of schedules run."""
        specs = {spec.name: spec for spec in self.registry.schedules()}
        if not specs:
            return 0
        now = clock.now()
        with unit_of_work(self.db) as session:
            due = repo.claim_due_schedules(
                session, names=specs.keys(), now=now, limit=SCHEDULES_PER_TICK_MAX
            )
            for row in due:
                spec = specs[row.name]
                slot_start, next_run_at = schedule_slot(row.next_run_at, spec.interval_s, now)
                job = enqueue(
                    session,
                    spec.kind,
                    dict(spec.payload),
                    dedupe_key=f"schedule:{spec.name}:{slot_start.isoformat()}",
                    attempts_max=self.settings.job_attempts_max,
                )
                repo.advance_schedule(session, row, next_run_at)
                SCHEDULED_JOBS_TOTAL.labels(schedule=spec.name).inc()
                self._log.info(
                    "job_scheduled",
                    schedule=spec.name,
                    slot_start=slot_start.isoformat(),
                    job_id=job.id,
                )
        return len(due)

    # --- one attempt -------------------------------------------------------------------------

    def run_job(self, job: ClaimedJob) -> None:
        """Run one attempt of a job this worker claimed (``run_once`` calls it for each)."""
        log = self._log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt)
        handler = self.registry.get(job.kind)
        kind_label = job.kind if handler is not None else "unknown"
        started = time.monotonic()
        try:
            if handler is None:
                raise PermanentJobError(f"no handler for kind {job.kind!r}")
            if self.registry.in_transaction(job.kind):
                self._attempt_in_transaction(handler, job)
            else:
                self._attempt_outside_transaction(handler, job)
        except _ClaimLost:
            self._finished(kind_label, "lease_lost", started)
            log.warning("job_lease_lost")
            return
        except Exception as exc:
            permanent = isinstance(exc, PermanentJobError)
            last_error = error_summary("" if permanent else type(exc).__name__, str(exc))
            log.warning("job_attempt_failed", error=last_error, exc_info=not permanent)
            self._record_failure(
                job,
                last_error,
                permanent=permanent,
                kind_label=kind_label,
                retry_at=exc.retry_at if isinstance(exc, RetryJobAt) else None,
            )
            JOB_DURATION_S.labels(kind=kind_label).observe(time.monotonic() - started)
            return
        self._finished(kind_label, "succeeded", started)
        log.info("job_succeeded", duration_s=round(time.monotonic() - started, 3))

    def _context(self, job: ClaimedJob, session: Session) -> JobContext:
        return JobContext(
            session=session,
            job_id=job.id,
            kind=job.kind,
            payload=job.payload,
            attempt=job.attempt,
            attempts_max=job.attempts_max,
            merchant_id=job.merchant_id,
            db=self.db,
            settings=self.settings,
        )

    def _renew_claim(self, session: Session, job: ClaimedJob) -> None:
        locked_until = clock.now() + timedelta(seconds=self.settings.job_lease_s)
        if not repo.renew_lease(
            session,
            job_id=job.id,
            worker_id=self.worker_id,
            attempt=job.attempt,
            locked_until=locked_until,
        ):
            raise _ClaimLost

    def _mark_succeeded(self, session: Session, job: ClaimedJob) -> None:
        if not repo.mark_succeeded(
            session, job_id=job.id, worker_id=self.worker_id, attempt=job.attempt, now=clock.now()
        ):
            raise _ClaimLost

    def _attempt_in_transaction(self, handler: JobHandler, job: ClaimedJob) -> None:
        with unit_of_work(self.db) as session:
            self._renew_claim(session, job)
            handler(self._context(job, session))
            session.flush()
            self._mark_succeeded(session, job)

    def _attempt_outside_transaction(self, handler: JobHandler, job: ClaimedJob) -> None:
        """No transaction is open while the handler runs; its session is unbound (any use of
        it fails), so it works through ``ctx.db``. The renewed lease covers the handler."""
        with unit_of_work(self.db) as session:
            self._renew_claim(session, job)
        with Session() as unbound:
            handler(self._context(job, unbound))
        with unit_of_work(self.db) as session:
            self._mark_succeeded(session, job)

    def _record_failure(
        self,
        job: ClaimedJob,
        last_error: str,
        *,
        permanent: bool,
        kind_label: str,
        retry_at: datetime | None = None,
    ) -> None:
        """``retry_at``: when the handler asked for the next attempt (:class:`RetryJobAt`);
        otherwise after the default back-off."""
        action = failure_action(job.attempt, job.attempts_max, permanent=permanent)
        now = clock.now()
        if action is not FailureAction.RETRY:
            retry_at = None
        elif retry_at is None:
            retry_at = now + timedelta(seconds=backoff_delay_s(job.attempt))
        else:
            retry_at = max(retry_at, now)
        with unit_of_work(self.db) as session:
            recorded = repo.mark_failed(
                session,
                job_id=job.id,
                worker_id=self.worker_id,
                attempt=job.attempt,
                now=now,
                last_error=last_error,
                retry_at=retry_at,
            )
        log = self._log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt)
        if not recorded:
            JOBS_TOTAL.labels(kind=kind_label, outcome="lease_lost").inc()
            log.warning("job_lease_lost")
        elif retry_at is None:
            JOBS_TOTAL.labels(kind=kind_label, outcome="dead").inc()
            log.error("job_dead", error=last_error, attempts_max=job.attempts_max)
        else:
            JOBS_TOTAL.labels(kind=kind_label, outcome="retried").inc()
            log.info("job_retry_scheduled", run_at=retry_at.isoformat())

    def _finished(self, kind_label: str, outcome: str, started: float) -> None:
        JOBS_TOTAL.labels(kind=kind_label, outcome=outcome).inc()
        JOB_DURATION_S.labels(kind=kind_label).observe(time.monotonic() - started)

    def _release(self, jobs: Sequence[ClaimedJob]) -> None:
        with unit_of_work(self.db) as session:
            released = repo.release_claims(
                session,
                claims=[(job.id, job.attempt) for job in jobs],
                worker_id=self.worker_id,
                now=clock.now(),
            )
        self._log.info("job_claims_released", count=released)
