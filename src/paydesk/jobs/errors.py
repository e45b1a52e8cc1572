"""Errors of the jobs module.

Hierarchy::

    PaydeskError
    ├── NotFound
    │   └── JobNotFound        404  unknown job, or a job of another merchant
    └── Conflict
        └── JobNotRetryable    409  only dead jobs and failed pending jobs can be retried

:class:`paydesk.jobs.registry.PermanentJobError` is not here: handlers raise it, clients never
see it.
"""

from __future__ import annotations

from paydesk.core.errors import Conflict, NotFound


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}", param="id")
        self.job_id = job_id


class JobNotRetryable(Conflict):
    code = "job_not_retryable"

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(
            f"job {job_id!r} is {status}: only a dead job, or a pending job whose last attempt "
            "failed, can be retried"
        )
        self.job_id = job_id
        self.job_status = status
