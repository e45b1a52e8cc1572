"""Ledger jobs: the expiry of holds."""

from __future__ import annotations

import structlog

from paydesk.core import clock
from paydesk.jobs.registry import JobContext, PermanentJobError, job_handler
from paydesk.ledger import repository as repo
from paydesk.ledger.holds import EXPIRE_JOB, void_hold
from paydesk.ledger.models import HoldStatus

log = structlog.get_logger(__name__)


@job_handler(EXPIRE_JOB)
def expire_hold(ctx: JobContext) -> None:
    """Expire the hold if it is still pending at its expiry; otherwise there is nothing to do."""
    hold_id = str(ctx.payload.get("hold_id", ""))
    hold = repo.hold(ctx.session, None, hold_id, lock=True)
    if hold is None:
        raise PermanentJobError(f"no hold {hold_id}")
    if hold.status != HoldStatus.PENDING:
        return
    if clock.now() < hold.expires_at:
        raise RuntimeError("hold not yet expired; will retry")  # clock skew between processes
    void_hold(ctx.session, merchant_id=None, hold_id=hold.id, status=HoldStatus.EXPIRED)
    log.info("hold_expired", hold_id=hold.id, amount=hold.amount)
