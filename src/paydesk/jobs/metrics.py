"""Prometheus metrics of the job runner, on the process's default registry.

Label values are bounded: ``kind`` is a registered job kind (anything else is counted as
``unknown``), ``outcome`` one of :data:`OUTCOMES`, ``schedule`` a registered schedule name.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

OUTCOMES = ("succeeded", "retried", "dead", "lease_lost")
"""``lease_lost``: the attempt ended after another worker had claimed the job; its effects
were rolled back."""

JOBS_TOTAL = Counter(
    "paydesk_jobs",
    "Job attempts finished, by kind and outcome.",
    ["kind", "outcome"],
)
JOB_DURATION_S = Histogram(
    "paydesk_job_duration_seconds",
    "Time from the start of a job attempt to its end, handler and commit included.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOBS_CLAIMED_TOTAL = Counter(
    "paydesk_jobs_claimed",
    "Jobs claimed by this process's workers.",
)
SCHEDULED_JOBS_TOTAL = Counter(
    "paydesk_jobs_scheduled",
    "Jobs enqueued by a periodic schedule, by schedule name.",
    ["schedule"],
)
WORKER_ERRORS_TOTAL = Counter(
    "paydesk_job_worker_errors",
    "Worker loop iterations that failed outside any handler (database unreachable, ...).",
)
