"""When the order centre looks at an attempt or a refund again: the back-off schedules, and
the jobs that carry them (written in the caller's transaction, so they survive a crash)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.jobs import service as jobs
from paydesk.payments.models import PaymentAttempt, Refund

QUERY_ATTEMPT = "payments.query_attempt"
SUBMIT_REFUND = "payments.submit_refund"
QUERY_REFUND = "payments.query_refund"

QUERY_DELAYS_S = (10, 20, 40, 80, 160, 300, 600)
"""Waits before each query of an open attempt; the last repeats until the order expires (when
the attempt is closed at the channel). WeChat's own notifications retry on a similar curve."""
REFUND_QUERY_DELAYS_S = (30, 60, 120, 300, 600, 1800, 3600)
REFUND_QUERIES_MAX = 80
"""About three days of hourly queries: after that the refund is left pending for an operator."""


def delay_s(delays: tuple[int, ...], step: int) -> int:
    return delays[min(step, len(delays) - 1)]


def schedule_query(
    session: Session,
    attempt: PaymentAttempt,
    *,
    step: int = 0,
    close: bool = False,
    run_at: datetime | None = None,
) -> None:
    """Query ``attempt`` at its channel (``close``: close it there first)."""
    when = run_at or (
        clock.now() if close else clock.now() + timedelta(seconds=delay_s(QUERY_DELAYS_S, step))
    )
    jobs.enqueue(
        session,
        QUERY_ATTEMPT,
        {"attempt_id": attempt.id, "step": step, "close": close},
        merchant_id=attempt.merchant_id,
        run_at=when,
        dedupe_key=f"query:{attempt.id}:{'close' if close else step}",
    )


def schedule_refund_submit(session: Session, refund: Refund) -> None:
    jobs.enqueue(
        session,
        SUBMIT_REFUND,
        {"refund_id": refund.id},
        merchant_id=refund.merchant_id,
        dedupe_key=f"refund:{refund.id}:submit",
    )


def schedule_refund_query(session: Session, refund: Refund, step: int) -> None:
    jobs.enqueue(
        session,
        QUERY_REFUND,
        {"refund_id": refund.id, "step": step},
        merchant_id=refund.merchant_id,
        run_at=clock.now() + timedelta(seconds=delay_s(REFUND_QUERY_DELAYS_S, step)),
        dedupe_key=f"refund:{refund.id}:query:{step}",
    )
