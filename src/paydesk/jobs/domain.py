"""Pure rules of the job runner: back-off, the retry-or-dead decision, schedule slots, errors.

No database and no framework here: plain values in, plain values out.

Back-off uses "equal jitter": the ceiling of attempt ``n`` is ``min(cap_s, base_s * 2**(n-1))``
and the delay is half of it fixed plus a uniformly random part of up to the other half. The
fixed half guarantees the delay grows; the random half spreads a crowd of jobs that failed
together (a channel outage) so they do not all come back in the same second.

With the defaults (``base_s`` 60 s, ``cap_s`` 12 h) the 11 delays between 12 attempts have
ceilings 1, 2, 4, ... 256 min, 8.5 h, 12 h (capped): a job's 12 attempts span between 14.5 h (all
jitter at its minimum) and 29 h (at its maximum), about 21.8 h on average — roughly a day, long
enough to ride out a day-long outage of a channel without keeping failed work forever.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

BACKOFF_BASE_S = 60.0
"""Ceiling of the delay after the first failed attempt."""
BACKOFF_CAP_S = 12 * 3600.0
"""No delay is longer than this, however many attempts failed."""
BACKOFF_EXPONENT_MAX = 60
"""Keeps ``2**(attempt-1)`` finite for absurd attempt numbers; the cap applies long before."""
ATTEMPTS_MAX_DEFAULT = 12
"""Attempts of a job enqueued without ``attempts_max`` (same as the ``job_attempts_max`` setting's
default): about a day of retries with the default back-off."""
ATTEMPTS_MAX_LIMIT = 100
LAST_ERROR_LENGTH_MAX = 2000
"""``last_error`` is shown to operators and API clients: one readable paragraph, not a dump."""

_rng = random.Random()  # noqa: S311 - jitter, not cryptography

_SECRET_PATTERNS = (
    # Paydesk API keys (pd_test_sk_..., pd_live_sk_..., pd_admin_sk_...).
    re.compile(r"\bpd_(?:test|live|admin)_[a-z]{2}_[A-Za-z0-9_\-]+"),
    # Credentials inside URLs: scheme://user:password@host.
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    # key=value and "key": "value" pairs whose key names a secret.
    re.compile(
        r"(?i)\b([\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization)[\w-]*)"
        r"(\"?\s*[:=]\s*\"?)(?:Bearer\s+)?[^\s\"',;&]+"
    ),
)


class FailureAction(StrEnum):
    """What happens to a job whose attempt failed."""

    RETRY = "retry"
    """Back to ``pending``, to run again after a back-off delay."""
    DEAD = "dead"
    """No more automatic attempts; waits for a manual retry."""


def backoff_delay_s(
    attempt: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    cap_s: float = BACKOFF_CAP_S,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the attempt after failed attempt number ``attempt`` (1-based).

    The result lies in ``[ceiling / 2, ceiling]`` where
    ``ceiling = min(cap_s, base_s * 2 ** (attempt - 1))``; a seeded ``rng`` makes it repeatable.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, not {attempt}")
    if base_s <= 0 or cap_s <= 0:
        raise ValueError("base_s and cap_s must be positive")
    exponent = min(attempt - 1, BACKOFF_EXPONENT_MAX)
    ceiling = min(cap_s, base_s * 2.0**exponent)
    half = ceiling / 2
    return half + (rng or _rng).uniform(0.0, half)


def failure_action(attempt: int, attempts_max: int, *, permanent: bool = False) -> FailureAction:
    """Retry a failed attempt unless it was the last allowed one or the failure is permanent."""
    if permanent or attempt >= attempts_max:
        return FailureAction.DEAD
    return FailureAction.RETRY


def schedule_slot(
    next_run_at: datetime, interval_s: int, now: datetime
) -> tuple[datetime, datetime]:
    """The slot a due schedule runs for now, and its next due time.

    The slot is the latest one on the schedule's grid (``next_run_at + k * interval_s``) that has
    started by ``now``; the next due time is the slot after it, so after downtime a schedule runs
    once for the current slot rather than once for every missed one.
    """
    if interval_s < 1:
        raise ValueError("interval_s must be at least 1")
    if next_run_at > now:
        raise ValueError("the schedule is not due")
    interval = timedelta(seconds=interval_s)
    missed = (now - next_run_at) // interval
    slot_start = next_run_at + missed * interval
    return slot_start, slot_start + interval


def first_slot_start(now: datetime, interval_s: int) -> datetime:
    """The start of the slot containing ``now`` on a grid aligned to the Unix epoch.

    Hourly schedules start on the hour, daily ones at midnight UTC, and every worker that
    creates a schedule row computes the same first slot.
    """
    if interval_s < 1:
        raise ValueError("interval_s must be at least 1")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    interval = timedelta(seconds=interval_s)
    return epoch + ((now - epoch) // interval) * interval


def error_summary(error_type: str, message: str, length_max: int = LAST_ERROR_LENGTH_MAX) -> str:
    """``Type: message`` with secret-looking values masked, cut to ``length_max`` characters.

    An empty ``error_type`` gives the message alone.
    """
    text = f"{error_type}: {message}" if error_type and message else (message or error_type)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_mask, text)
    if len(text) > length_max:
        text = text[: length_max - 1] + "…"
    return text


def _mask(match: re.Match[str]) -> str:
    if match.lastindex and match.lastindex >= 2:
        return f"{match.group(1)}{match.group(2)}***"
    return "***"
