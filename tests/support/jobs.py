"""Data and waiting helpers for the job tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.core.settings import Settings, load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job
from paydesk.merchants.models import App, Merchant

HANDLERS_MODULE = "tests.support.job_handlers"


class MovableClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def worker_settings(db: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db.url,
        "job_modules": [HANDLERS_MODULE],
        "job_poll_interval_s": 0.05,
        "job_lease_s": 60.0,
    }
    values.update(overrides)
    return load_settings(**values)


def insert_merchant(db: Database, name: str = "Shop") -> str:
    merchant_id = new_id("mch")
    now = clock.now()
    with unit_of_work(db) as session:
        session.add(
            Merchant(
                id=merchant_id,
                parent_id=None,
                kind="merchant",
                name=name,
                status="active",
                path=f"/{merchant_id}/",
                depth=0,
                created_at=now,
                updated_at=now,
            )
        )
    return merchant_id


def app_count(db: Database, name: str) -> int:
    with unit_of_work(db, read_only=True) as session:
        count = session.scalar(sa.select(sa.func.count()).select_from(App).where(App.name == name))
    return int(count or 0)


def load_job(db: Database, job_id: str) -> Job:
    with unit_of_work(db, read_only=True) as session:
        job = session.get(Job, job_id)
        assert job is not None, f"no job {job_id}"
        return job


def wait_until(
    predicate: Callable[[], bool], *, timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)
