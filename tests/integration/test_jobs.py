"""The job table, the worker, retries, dead letters and schedules, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.idempotency.models import IdempotencyRecord
from paydesk.jobs import repository as repo
from paydesk.jobs.errors import JobNotFound, JobNotRetryable
from paydesk.jobs.models import Job, JobSchedule, JobStatus
from paydesk.jobs.registry import HandlerRegistry, JobContext
from paydesk.jobs.service import enqueue, get_job, list_jobs, retry_job
from paydesk.jobs.worker import Worker
from tests.support import job_handlers
from tests.support.jobs import (
    MovableClock,
    app_count,
    insert_merchant,
    load_job,
    worker_settings,
)


@pytest.fixture
def moving_clock() -> Iterator[MovableClock]:
    movable = MovableClock()
    clock.set_clock(movable)
    try:
        yield movable
    finally:
        clock.set_clock(None)


@pytest.fixture
def merchant_id(db: Database) -> str:
    return insert_merchant(db)


@pytest.fixture
def worker(db: Database) -> Worker:
    return Worker(db, worker_settings(db), "worker-a")


def _enqueue(db: Database, kind: str, payload: dict[str, Any], **options: Any) -> str:
    with unit_of_work(db) as session:
        return enqueue(session, kind, payload, **options).id


def _jobs_of_kind(db: Database, kind: str) -> list[Job]:
    with unit_of_work(db, read_only=True) as session:
        return list(session.scalars(sa.select(Job).where(Job.kind == kind).order_by(Job.id)))


def _drain(worker: Worker, rounds_max: int = 20) -> None:
    for _ in range(rounds_max):
        if worker.run_once() == 0:
            return
    raise AssertionError("jobs still due after 20 rounds")


def test_enqueue_in_a_rolled_back_transaction_leaves_no_job(db: Database, merchant_id: str) -> None:
    with pytest.raises(RuntimeError), unit_of_work(db) as session:
        enqueue(session, "test.effect", {"name": "lost"}, merchant_id=merchant_id)
        raise RuntimeError("the change that asked for the job failed")
    assert _jobs_of_kind(db, "test.effect") == []

    job_id = _enqueue(db, "test.effect", {"name": "kept"}, merchant_id=merchant_id)
    assert load_job(db, job_id).status == JobStatus.PENDING


def test_effect_and_success_commit_together(db: Database, merchant_id: str, worker: Worker) -> None:
    job_id = _enqueue(db, "test.effect", {"name": "paid"}, merchant_id=merchant_id)
    worker.run_once()  # also enqueues the built-in hourly purge for this slot
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.SUCCEEDED, 1, "worker-a")
    assert job.finished_at is not None and job.locked_until is None
    assert app_count(db, "paid") == 1

    _drain(worker)
    assert app_count(db, "paid") == 1
    assert worker.run_once() == 0


def test_failed_attempt_rolls_its_effect_back(
    db: Database, merchant_id: str, worker: Worker
) -> None:
    job_id = _enqueue(db, "test.effect_then_fail", {"name": "half"}, merchant_id=merchant_id)
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.last_error == "RuntimeError: failed after the effect"
    assert app_count(db, "half") == 0


def test_failing_job_backs_off_then_goes_dead_with_its_error(
    db: Database, merchant_id: str, worker: Worker, moving_clock: MovableClock
) -> None:
    message = "channel said no; token=tok_secret_123"
    job_id = _enqueue(db, "test.fail", {"message": message}, attempts_max=3)
    delays_max_s = [60, 120]  # ceilings of the default back-off after attempts 1 and 2
    for attempt, delay_max_s in enumerate(delays_max_s, start=1):
        worker.run_once()
        job = load_job(db, job_id)
        assert (job.status, job.attempts) == (JobStatus.PENDING, attempt)
        delay_s = (job.run_at - clock.now()).total_seconds()
        assert delay_max_s / 2 <= delay_s <= delay_max_s
        assert job.locked_by is None and job.locked_until is None

        worker.run_once()  # not due yet: nothing happens
        assert load_job(db, job_id).attempts == attempt
        moving_clock.advance(delay_s)

    worker.run_once()
    with unit_of_work(db, read_only=True) as session:
        job = get_job(session, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
    assert job.finished_at is not None
    assert job.last_error is not None
    assert job.last_error.startswith("RuntimeError: channel said no; token=")
    assert "tok_secret_123" not in job.last_error

    moving_clock.advance(7 * 24 * 3600)
    _drain(worker)
    assert load_job(db, job_id).attempts == 3


def test_permanent_failure_goes_dead_at_once(db: Database, worker: Worker) -> None:
    job_id = _enqueue(db, "test.fail_permanent", {"message": "order is gone"})
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DEAD, 1, "order is gone")


def test_unknown_kind_goes_dead(db: Database, worker: Worker) -> None:
    job_id = _enqueue(db, "test.nobody_handles_this", {})
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert job.last_error == "no handler for kind 'test.nobody_handles_this'"


def test_manual_retry_of_a_dead_job_runs_it_again(
    db: Database, merchant_id: str, worker: Worker
) -> None:
    job_handlers.FAILING_NAMES.add("flaky")
    try:
        job_id = _enqueue(
            db, "test.switchable", {"name": "flaky"}, merchant_id=merchant_id, attempts_max=1
        )
        worker.run_once()
        assert load_job(db, job_id).status == JobStatus.DEAD
    finally:
        job_handlers.FAILING_NAMES.discard("flaky")

    with unit_of_work(db) as session:
        retried = retry_job(session, job_id, merchant_id)
    assert (retried.status, retried.attempts, retried.locked_by) == (JobStatus.PENDING, 0, None)

    _drain(worker)
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert app_count(db, "flaky") == 1


def test_retry_of_a_job_that_cannot_be_retried(
    db: Database, merchant_id: str, worker: Worker
) -> None:
    done_id = _enqueue(db, "test.effect", {"name": "done"}, merchant_id=merchant_id)
    waiting_id = _enqueue(
        db,
        "test.effect",
        {"name": "later"},
        merchant_id=merchant_id,
        run_at=clock.now() + timedelta(hours=1),
    )
    worker.run_once()
    for job_id, status in [(done_id, "succeeded"), (waiting_id, "pending and not tried yet")]:
        with pytest.raises(JobNotRetryable) as caught, unit_of_work(db) as session:
            retry_job(session, job_id)
        assert caught.value.code == "job_not_retryable"
        assert caught.value.status == 409
        assert status in caught.value.message

    other_merchant = insert_merchant(db, "Other")
    with pytest.raises(JobNotFound) as missing, unit_of_work(db) as session:
        retry_job(session, done_id, other_merchant)
    assert missing.value.code == "job_not_found"


def test_running_job_cannot_be_retried(db: Database) -> None:
    job_id = _enqueue(db, "test.effect", {"name": "busy"})
    with unit_of_work(db) as session:
        repo.claim_due_jobs(session, worker_id="w", now=clock.now(), lease_s=60, limit=10)
    with pytest.raises(JobNotRetryable), unit_of_work(db) as session:
        retry_job(session, job_id)


def test_dedupe_key_yields_one_job(db: Database) -> None:
    first = _enqueue(db, "test.fail", {"n": 1}, dedupe_key="order:42:expire")
    second = _enqueue(db, "test.fail", {"n": 2}, dedupe_key="order:42:expire")
    with unit_of_work(db) as session:
        third = enqueue(session, "test.fail", {}, dedupe_key="order:42:expire").id
        fourth = enqueue(session, "test.fail", {}, dedupe_key="order:43:expire").id
        fifth = enqueue(session, "test.fail", {}, dedupe_key="order:43:expire").id
    assert first == second == third
    assert fourth == fifth != first
    assert len(_jobs_of_kind(db, "test.fail")) == 2
    assert load_job(db, first).payload == {"n": 1}


def test_lost_claim_changes_nothing(
    db: Database, merchant_id: str, moving_clock: MovableClock
) -> None:
    """A worker whose lease expired and whose job was claimed again commits no effect."""
    settings = worker_settings(db, job_lease_s=30)
    slow, fast = Worker(db, settings, "slow"), Worker(db, settings, "fast")
    job_id = _enqueue(db, "test.effect", {"name": "once"}, merchant_id=merchant_id)
    with unit_of_work(db) as session:
        (stale,) = repo.claim_due_jobs(
            session, worker_id="slow", now=clock.now(), lease_s=30, limit=1
        )
    moving_clock.advance(31)
    with unit_of_work(db) as session:
        (fresh,) = repo.claim_due_jobs(
            session, worker_id="fast", now=clock.now(), lease_s=30, limit=1
        )
    assert (stale.attempt, fresh.attempt) == (1, 2)

    slow.run_job(stale)
    assert app_count(db, "once") == 0
    fast.run_job(fresh)
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.SUCCEEDED, 2, "fast")
    assert app_count(db, "once") == 1


def test_stopping_worker_gives_back_claimed_jobs(db: Database, worker: Worker) -> None:
    ids = [_enqueue(db, "test.fail", {}) for _ in range(3)]
    stop = threading.Event()
    stop.set()
    assert worker.run_once(stop) == 0
    for job_id in ids:
        job = load_job(db, job_id)
        assert (job.status, job.attempts, job.locked_by) == (JobStatus.PENDING, 0, None)


def test_schedule_enqueues_one_job_per_slot_with_two_workers(
    db: Database, moving_clock: MovableClock
) -> None:
    moving_clock.current = datetime(2031, 1, 1, 0, 0, 30, tzinfo=UTC)
    registry = HandlerRegistry()
    ticks: list[str] = []

    @registry.handler("test.tick")
    def tick(ctx: JobContext) -> None:
        ticks.append(ctx.job_id)

    registry.add_schedule("test.every_minute", "test.tick", 60, {"source": "schedule"})
    settings = worker_settings(db)
    workers = [Worker(db, settings, name, registry=registry) for name in ("a", "b")]

    def both(method: str) -> None:
        barrier = threading.Barrier(len(workers))
        errors: list[BaseException] = []

        def run(worker: Worker) -> None:
            try:
                barrier.wait(timeout=10)
                getattr(worker, method)()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors

    def slots() -> list[str | None]:
        return [job.dedupe_key for job in _jobs_of_kind(db, "test.tick")]

    both("start")
    both("tick_schedules")
    both("tick_schedules")
    assert slots() == ["schedule:test.every_minute:2031-01-01T00:00:00+00:00"]

    moving_clock.advance(60)
    both("tick_schedules")
    moving_clock.advance(10 * 60 + 5)  # downtime: ten slots missed, one job for the current
    both("run_once")
    assert slots() == [
        "schedule:test.every_minute:2031-01-01T00:00:00+00:00",
        "schedule:test.every_minute:2031-01-01T00:01:00+00:00",
        "schedule:test.every_minute:2031-01-01T00:11:00+00:00",
    ]
    assert {job.status for job in _jobs_of_kind(db, "test.tick")} == {JobStatus.SUCCEEDED}
    assert len(ticks) == 3
    with unit_of_work(db) as session:
        schedule = session.get(JobSchedule, "test.every_minute")
        assert schedule is not None
        assert schedule.next_run_at == datetime(2031, 1, 1, 0, 12, tzinfo=UTC)
        schedule.next_run_at = datetime(2031, 1, 1, 0, 11, tzinfo=UTC)  # a stale second tick
    both("tick_schedules")
    assert len(slots()) == 3


def test_list_jobs_shows_only_the_merchants_jobs(db: Database, merchant_id: str) -> None:
    other = insert_merchant(db, "Other")
    mine = [
        _enqueue(db, "test.effect", {"name": f"m{n}"}, merchant_id=merchant_id) for n in range(3)
    ]
    theirs = _enqueue(db, "test.effect", {"name": "o"}, merchant_id=other)
    _enqueue(db, "test.fail", {}, merchant_id=merchant_id)

    with unit_of_work(db, read_only=True) as session:
        page = list_jobs(session, merchant_id=merchant_id, kind="test.effect", limit=2)
        assert [job.id for job in page.items] == mine[:2] and page.has_more
        rest = list_jobs(session, merchant_id=merchant_id, kind="test.effect", after_id=mine[1])
        assert [job.id for job in rest.items] == mine[2:] and not rest.has_more
        everything = list_jobs(session, status="pending")
        assert theirs in {job.id for job in everything.items}
        assert len(everything.items) == 5
        assert get_job(session, theirs).merchant_id == other
        with pytest.raises(JobNotFound):
            get_job(session, theirs, merchant_id)


def test_builtin_purge_deletes_only_expired_idempotency_records(
    db: Database, merchant_id: str, worker: Worker
) -> None:
    now = clock.now()
    with unit_of_work(db) as session:
        for key, expires_in_h in [("old-1", -2), ("old-2", -1), ("live", 1)]:
            session.add(
                IdempotencyRecord(
                    merchant_id=merchant_id,
                    key=key,
                    request_hash="0" * 64,
                    method="POST",
                    path="/v1/orders",
                    status_code=200,
                    response_body="{}",
                    created_at=now - timedelta(days=1),
                    expires_at=now + timedelta(hours=expires_in_h),
                )
            )
    _drain(worker)
    (purge,) = _jobs_of_kind(db, "maintenance.purge_idempotency_records")
    assert purge.status == JobStatus.SUCCEEDED
    with unit_of_work(db, read_only=True) as session:
        keys = session.scalars(sa.select(IdempotencyRecord.key)).all()
    assert keys == ["live"]
