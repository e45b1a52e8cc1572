"""Workers under concurrency and crashes: SKIP LOCKED on PostgreSQL, leases after SIGKILL.

The process tests start the real worker command in a subprocess (``tests.support.run_worker``)
and run on PostgreSQL and on SQLite: the lease logic is the same on both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import sqlalchemy as sa

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job, JobStatus
from paydesk.jobs.service import enqueue
from paydesk.jobs.worker import Worker
from paydesk.merchants.models import App
from tests.support.jobs import (
    HANDLERS_MODULE,
    app_count,
    insert_merchant,
    load_job,
    wait_until,
    worker_settings,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
JOB_COUNT = 200
WORKER_COUNT = 4
DRAIN_TIMEOUT_S = 60.0
PROCESS_TIMEOUT_S = 20.0
LEASE_S = 2.0


def _enqueue(db: Database, kind: str, payload: dict[str, Any], merchant_id: str) -> str:
    with unit_of_work(db) as session:
        return enqueue(session, kind, payload, merchant_id=merchant_id).id


def _unfinished(db: Database) -> int:
    with unit_of_work(db, read_only=True) as session:
        count = session.scalar(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(Job.status.in_([JobStatus.PENDING, JobStatus.RUNNING]))
        )
    return int(count or 0)


def test_four_workers_drain_jobs_concurrently_each_effect_once(pg_db: Database) -> None:
    merchant_id = insert_merchant(pg_db)
    with unit_of_work(pg_db) as session:
        for n in range(JOB_COUNT):
            payload = {"name": f"bulk-{n}", "pause_s": 0.002}
            enqueue(session, "test.effect", payload, merchant_id=merchant_id)
    settings = worker_settings(pg_db, job_batch_size=5)
    workers = [Worker(pg_db, settings, f"thread-{n}") for n in range(WORKER_COUNT)]
    errors: list[BaseException] = []
    deadline = time.monotonic() + DRAIN_TIMEOUT_S

    def drain(worker: Worker) -> None:
        try:
            while time.monotonic() < deadline:
                if worker.run_once() == 0:
                    if _unfinished(pg_db) == 0:
                        return
                    time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DRAIN_TIMEOUT_S + 10)
    assert not errors, errors
    assert _unfinished(pg_db) == 0

    with unit_of_work(pg_db, read_only=True) as session:
        jobs = session.scalars(sa.select(Job).where(Job.kind == "test.effect")).all()
        names = session.scalars(sa.select(App.name)).all()
    assert len(jobs) == JOB_COUNT
    assert {(job.status, job.attempts) for job in jobs} == {(JobStatus.SUCCEEDED, 1)}
    assert sorted(names) == sorted(f"bulk-{n}" for n in range(JOB_COUNT))
    runners = {job.locked_by for job in jobs}
    assert len(runners) > 1, f"only {runners} did any work"


@pytest.fixture
def worker_process(db: Database, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real ``worker`` process on ``db`` with a 2 s lease; killed if still alive."""
    env = dict(os.environ)
    env.pop("PAYDESK_CONFIG_FILE", None)
    env.update(
        PAYDESK_DATABASE_URL=db.url,
        PAYDESK_JOB_MODULES=HANDLERS_MODULE,
        PAYDESK_JOB_LEASE_S=str(LEASE_S),
        PAYDESK_JOB_POLL_INTERVAL_S="0.2",
        PAYDESK_DATA_DIR=str(tmp_path / "var"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    log_path = tmp_path / "worker.log"
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.run_worker", "--worker-id", "doomed"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=PROCESS_TIMEOUT_S)
        log.close()


def _wait_for_marker(marker: Path, process: subprocess.Popen[bytes], log_path: Path) -> None:
    def started() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{log_path.read_text()}")
        return marker.exists()

    wait_until(started, timeout_s=PROCESS_TIMEOUT_S, what="the worker to start the job")


def test_killed_worker_job_runs_again_and_commits_once(
    db: Database,
    worker_process: tuple[subprocess.Popen[bytes], Path],
    tmp_path: Path,
) -> None:
    process, log_path = worker_process
    merchant_id = insert_merchant(db)
    marker = tmp_path / "started"
    payload = {"name": "survivor", "sleep_s": 30, "marker_path": str(marker)}
    job_id = _enqueue(db, "test.slow_effect", payload, merchant_id)

    _wait_for_marker(marker, process, log_path)
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.RUNNING, 1, "doomed")

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=PROCESS_TIMEOUT_S)
    assert app_count(db, "survivor") == 0
    assert load_job(db, job_id).status == JobStatus.RUNNING  # until its lease expires

    second = Worker(db, worker_settings(db, job_lease_s=LEASE_S), "second")

    def finished() -> bool:
        second.run_once()
        return load_job(db, job_id).status == JobStatus.SUCCEEDED

    wait_until(finished, timeout_s=PROCESS_TIMEOUT_S, what="the second worker", interval_s=0.1)
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.SUCCEEDED, 2, "second")
    assert app_count(db, "survivor") == 1


def test_sigterm_finishes_the_current_job_then_exits(
    db: Database,
    worker_process: tuple[subprocess.Popen[bytes], Path],
    tmp_path: Path,
) -> None:
    process, log_path = worker_process
    merchant_id = insert_merchant(db)
    marker = tmp_path / "started"
    payload = {"name": "finished", "sleep_s": 1.0, "marker_path": str(marker)}
    with unit_of_work(db) as session:  # one commit: the worker claims both together
        current = enqueue(session, "test.slow_effect", payload, merchant_id=merchant_id).id
        queued = enqueue(session, "test.effect", {"name": "queued"}, merchant_id=merchant_id).id

    _wait_for_marker(marker, process, log_path)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=PROCESS_TIMEOUT_S) == 0, log_path.read_text()

    job = load_job(db, current)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert app_count(db, "finished") == 1
    left = load_job(db, queued)  # claimed in the same batch, given back unstarted
    assert (left.status, left.attempts, left.locked_by) == (JobStatus.PENDING, 0, None)
    assert app_count(db, "queued") == 0
