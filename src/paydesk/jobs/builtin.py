"""Paydesk's own periodic jobs. Every worker imports this module.

``maintenance.purge_idempotency_records`` (hourly) deletes idempotency records past their
``expires_at``. It deletes at most :data:`PURGE_BATCHES_MAX` batches of
:data:`PURGE_BATCH_ROWS` rows in one transaction, so a backlog never becomes one huge
transaction; when more remain it enqueues itself to continue right away.

Its SQL lives here rather than in a repository because it is the idempotency table's only
maintenance statement and nothing else calls it.
"""

from __future__ import annotations

import sqlalchemy as sa
import structlog

from paydesk.core import clock
from paydesk.idempotency.models import IdempotencyRecord
from paydesk.jobs.registry import JobContext, job_handler, register_schedule
from paydesk.jobs.service import enqueue

PURGE_IDEMPOTENCY_KIND = "maintenance.purge_idempotency_records"
PURGE_IDEMPOTENCY_INTERVAL_S = 3600
PURGE_BATCH_ROWS = 1000
PURGE_BATCHES_MAX = 10

logger = structlog.get_logger(__name__)


@job_handler(PURGE_IDEMPOTENCY_KIND)
def purge_idempotency_records(ctx: JobContext) -> None:
    """Delete expired idempotency records, oldest first, up to 10 batches of 1,000 rows."""
    now = clock.now()
    deleted = 0
    for _ in range(PURGE_BATCHES_MAX):
        keys = ctx.session.execute(
            sa.select(IdempotencyRecord.merchant_id, IdempotencyRecord.key)
            .where(IdempotencyRecord.expires_at < now)
            .order_by(IdempotencyRecord.expires_at)
            .limit(PURGE_BATCH_ROWS)
        ).all()
        if keys:
            ctx.session.execute(
                sa.delete(IdempotencyRecord)
                .where(
                    sa.tuple_(IdempotencyRecord.merchant_id, IdempotencyRecord.key).in_(
                        [tuple(key) for key in keys]
                    )
                )
                .execution_options(synchronize_session=False)
            )
            deleted += len(keys)
        if len(keys) < PURGE_BATCH_ROWS:
            break
    else:
        enqueue(ctx.session, PURGE_IDEMPOTENCY_KIND, {})
    logger.info("idempotency_records_purged", job_id=ctx.job_id, count=deleted)


register_schedule("purge_idempotency_records", PURGE_IDEMPOTENCY_KIND, PURGE_IDEMPOTENCY_INTERVAL_S)
