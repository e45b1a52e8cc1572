"""Response bodies of the jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from paydesk.jobs.models import JobStatus


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    merchant_id: str | None
    status: JobStatus
    attempts: int
    attempts_max: int
    run_at: datetime
    last_error: str | None
    payload: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
