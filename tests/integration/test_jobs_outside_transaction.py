"""Handlers registered with ``transaction=False`` and handler-chosen retry times
(``RetryJobAt``), on SQLite and PostgreSQL.

An outside-transaction handler is for calls to the outside world: while it runs, no
transaction of the job is open, so it can write through its own short units of work (on
SQLite a held write lock would make them wait), and what it committed stays when it fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import JobStatus
from paydesk.jobs.registry import HandlerRegistry, JobContext, RetryJobAt
from paydesk.jobs.service import enqueue
from paydesk.jobs.worker import Worker
from tests.support.job_handlers import add_app
from tests.support.jobs import MovableClock, app_count, insert_merchant, load_job, worker_settings

WRITE_WAIT_S_MAX = 5.0
seen: dict[str, object] = {}


def _outside(ctx: JobContext) -> None:
    assert ctx.db is not None and ctx.settings is not None
    started = time.monotonic()
    with unit_of_work(ctx.db) as session:  # would wait for the job's lock if one were held
        add_app(JobContext(session, ctx.job_id, ctx.kind, ctx.payload, 1, 1, ctx.merchant_id))
    seen["write_s"] = time.monotonic() - started
    try:
        ctx.session.execute(sa.text("SELECT 1"))
    except sa.exc.UnboundExecutionError:
        seen["session_unbound"] = True
    if ctx.payload.get("fail"):
        raise RetryJobAt("receiver said 500", retry_at=clock.now() + timedelta(seconds=90))


def _inside(ctx: JobContext) -> None:
    add_app(ctx)
    raise RetryJobAt("try again later", retry_at=clock.now() + timedelta(seconds=1234))


@pytest.fixture
def registry() -> HandlerRegistry:
    private = HandlerRegistry()
    private.add_handler("test.outside", _outside, transaction=False)
    private.add_handler("test.inside_retry_at", _inside)
    return private


@pytest.fixture
def moving_clock() -> Iterator[MovableClock]:
    movable = MovableClock()
    clock.set_clock(movable)
    try:
        yield movable
    finally:
        clock.set_clock(None)


def _enqueue(db: Database, kind: str, merchant_id: str, **payload: object) -> str:
    with unit_of_work(db) as session:
        return enqueue(session, kind, dict(payload), merchant_id=merchant_id, attempts_max=2).id


def test_outside_handler_runs_without_the_jobs_transaction(
    db: Database, registry: HandlerRegistry
) -> None:
    seen.clear()
    merchant_id = insert_merchant(db)
    job_id = _enqueue(db, "test.outside", merchant_id, name="outside ok")
    worker = Worker(db, worker_settings(db), "w-out", registry=registry)
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert app_count(db, "outside ok") == 1
    assert seen["session_unbound"] is True
    assert float(str(seen["write_s"])) < WRITE_WAIT_S_MAX
    assert registry.in_transaction("test.inside_retry_at")
    assert not registry.in_transaction("test.outside")


def test_outside_handler_failure_keeps_its_writes_and_retries_when_asked(
    db: Database, registry: HandlerRegistry, moving_clock: MovableClock
) -> None:
    merchant_id = insert_merchant(db)
    job_id = _enqueue(db, "test.outside", merchant_id, name="logged", fail=True)
    worker = Worker(db, worker_settings(db), "w-out", registry=registry)
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.run_at == moving_clock() + timedelta(seconds=90)
    assert job.last_error == "RetryJobAt: receiver said 500"
    assert app_count(db, "logged") == 1  # committed by the handler itself

    moving_clock.advance(90)
    worker.run_once()
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)  # the last attempt goes dead
    assert app_count(db, "logged") == 2


def test_in_transaction_handler_can_choose_its_retry_time(
    db: Database, registry: HandlerRegistry, moving_clock: MovableClock
) -> None:
    merchant_id = insert_merchant(db)
    job_id = _enqueue(db, "test.inside_retry_at", merchant_id, name="rolled back")
    Worker(db, worker_settings(db), "w-in", registry=registry).run_once()
    job = load_job(db, job_id)
    assert job.status == JobStatus.PENDING
    assert job.run_at == moving_clock() + timedelta(seconds=1234)
    assert app_count(db, "rolled back") == 0  # in the job's transaction: rolled back
