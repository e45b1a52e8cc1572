"""The retry schedule of webhook deliveries. Pure: plain values in, plain values out.

A delivery is tried up to :data:`ATTEMPTS_MAX` (12) times. After failed attempt ``n`` the next
one waits :data:`RETRY_DELAYS_S` ``[n-1]``, give or take :data:`JITTER_FRACTION` (10 %) so that
the deliveries of an endpoint that was down together do not all come back in the same second:

    1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 3 h, 4 h, 4 h, 4 h, 5 h

23 h 51 min in all (21 h 28 min to 26 h 14 min with the jitter): a receiver that is down for
most of a day still gets every event. Early retries are close together because most failures
are a deploy or a blip; later ones are spread out so a long outage costs few requests.

The worker runs each attempt as an attempt of the delivery's job (``attempts_max`` 12), and
the handler tells it when to run the next one (:class:`paydesk.jobs.registry.RetryJobAt`),
so the job's ``run_at`` and the delivery's ``next_attempt_at`` are the same moment.
"""

from __future__ import annotations

import random

RETRY_DELAYS_S = (60, 300, 900, 1800, 3600, 7200, 10800, 14400, 14400, 14400, 18000)
"""Seconds before attempt ``n + 1`` after attempt ``n`` failed (index ``n - 1``)."""
ATTEMPTS_MAX = len(RETRY_DELAYS_S) + 1
JITTER_FRACTION = 0.1

_rng = random.Random()  # noqa: S311 - jitter, not cryptography


def retry_delay_s(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based); past the table (manual retries
    of a dead delivery can go on), the last delay."""
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, not {attempt}")
    nominal = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
    return nominal * (rng or _rng).uniform(1 - JITTER_FRACTION, 1 + JITTER_FRACTION)


def schedule_span_s(jitter: float = 0.0) -> float:
    """The time from the first attempt to the last, with every delay scaled by ``1 + jitter``."""
    return sum(RETRY_DELAYS_S) * (1 + jitter)
