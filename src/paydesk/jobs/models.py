"""Tables of jobs and periodic schedules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class JobStatus(StrEnum):
    PENDING = "pending"
    """Waiting for ``run_at``; also a job whose last attempt failed and will be retried."""
    RUNNING = "running"
    """Claimed by a worker until ``locked_until``; after that any worker may claim it again."""
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    """Failed ``attempts_max`` times (or failed permanently); waits for a manual retry."""


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_status_run_at", "status", "run_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    merchant_id: Mapped[str | None] = mapped_column(sa.ForeignKey("merchants.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(20))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    """Attempts started so far, the running one included."""
    attempts_max: Mapped[int] = mapped_column(sa.Integer)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(sa.String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    """When set, a second job with the same key is not created (schedules use it per slot)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobSchedule(Base):
    """A job kind enqueued every ``interval_s`` seconds by whichever worker gets there first."""

    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(100))
    interval_s: Mapped[int] = mapped_column(sa.Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
