"""The ``webhooks.deliver`` job: one attempt at sending one delivery.

The handler is registered with ``transaction=False``: no database transaction is open while it
waits for the receiver (up to 10 s), so a slow merchant server never holds SQLite's write lock
or a PostgreSQL connection in a transaction. One attempt is three steps:

1. a short read-only unit of work loads the delivery, its event and its target, and decrypts
   the signing secret (an endpoint's, or the merchant's notify secret for a ``notify_url``,
   made on first use);
2. the body is signed with a fresh timestamp and POSTed with httpx (10 s timeout, redirects
   not followed, at most 2 KiB of the answer read);
3. a short unit of work records the attempt in ``webhook_delivery_attempts`` and the outcome
   on the delivery: ``succeeded`` on a 2xx answer; otherwise ``failed_retrying`` with
   ``next_attempt_at`` from :mod:`paydesk.webhooks.retries` (the job is told to run again
   then, with :class:`~paydesk.jobs.registry.RetryJobAt`), or ``dead`` after the last attempt.

A deleted or disabled endpoint, or a secret that no longer decrypts, makes the delivery dead
with the reason, and the job dead with :class:`~paydesk.jobs.registry.PermanentJobError`.
Delivery is at least once: a worker that dies between steps 2 and 3 sends again after its
lease; receivers deduplicate on the event id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock, crypto
from paydesk.db.uow import unit_of_work
from paydesk.jobs.domain import FailureAction, error_summary, failure_action
from paydesk.jobs.registry import JobContext, PermanentJobError, RetryJobAt, job_handler
from paydesk.webhooks import repository as repo
from paydesk.webhooks import service, signing
from paydesk.webhooks.events import DELIVER_JOB
from paydesk.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDeliveryAttempt,
    WebhookEvent,
)
from paydesk.webhooks.retries import retry_delay_s

TIMEOUT_S = 10.0
RESPONSE_BYTES_READ_MAX = 2048
RESPONSE_EXCERPT_LENGTH_MAX = 500
ERROR_LENGTH_MAX = 300

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery ready to send; ``secret`` None: the notify secret has to be made first."""

    delivery_id: str
    merchant_id: str
    livemode: bool
    url: str
    secret: str | None
    body: bytes
    event_id: str
    event_type: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error when no answer came."""

    status_code: int | None
    duration_ms: int
    error: str | None
    response_excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _TargetGone(Exception):
    """The delivery can never be sent: its endpoint is gone or disabled, or its secret is
    unreadable. The message is the reason an operator reads."""


@job_handler(DELIVER_JOB, transaction=False)
def deliver(ctx: JobContext) -> None:
    """One attempt of the delivery ``ctx.payload["delivery_id"]`` (see the module docstring)."""
    if ctx.db is None or ctx.settings is None:
        raise PermanentJobError("webhooks.deliver needs the worker's database and settings")
    delivery_id = ctx.payload.get("delivery_id")
    if not isinstance(delivery_id, str):
        raise PermanentJobError("the payload names no delivery_id")
    server_secret = ctx.settings.secret()
    log = logger.bind(delivery_id=delivery_id, job_id=ctx.job_id, attempt=ctx.attempt)

    try:
        with unit_of_work(ctx.db, read_only=True) as session:
            outgoing = _load(session, delivery_id, server_secret)
        if outgoing is not None and outgoing.secret is None:
            with unit_of_work(ctx.db) as session:
                secret = service.ensure_notify_secret(
                    session, outgoing.merchant_id, outgoing.livemode, server_secret=server_secret
                )
            outgoing = _with_secret(outgoing, secret)
    except _TargetGone as gone:
        with unit_of_work(ctx.db) as session:
            _mark_dead(session, delivery_id, str(gone))
        log.warning("webhook_delivery_dead", reason=str(gone))
        raise PermanentJobError(f"webhook delivery {delivery_id}: {gone}") from None
    if outgoing is None:
        log.info("webhook_delivery_already_succeeded")
        return

    attempted_at = clock.now()
    outcome = send(outgoing, timestamp=int(attempted_at.timestamp()))

    final = failure_action(ctx.attempt, ctx.attempts_max) is FailureAction.DEAD
    retry_at = None
    if not outcome.ok and not final:
        retry_at = clock.now() + timedelta(seconds=retry_delay_s(ctx.attempt))
    with unit_of_work(ctx.db) as session:
        _record(session, outgoing, outcome, attempted_at=attempted_at, retry_at=retry_at)
    if outcome.ok:
        log.info("webhook_delivered", status_code=outcome.status_code, ms=outcome.duration_ms)
        return
    reason = outcome.error or f"HTTP {outcome.status_code}"
    log.info("webhook_delivery_failed", reason=reason, final=final)
    raise RetryJobAt(
        f"webhook delivery {delivery_id} failed: {reason}", retry_at=retry_at or clock.now()
    )


def _load(session: Session, delivery_id: str, server_secret: str) -> Outgoing | None:
    """The delivery, ready to sign; None if it already succeeded."""
    delivery = repo.delivery(session, delivery_id)
    if delivery is None:
        raise PermanentJobError(f"no webhook delivery {delivery_id}")
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return None
    event = session.get(WebhookEvent, delivery.event_id)
    if event is None:
        raise PermanentJobError(f"the event of webhook delivery {delivery_id} is missing")
    url = delivery.url
    secret: str | None = None
    if delivery.endpoint_id is not None:
        endpoint = repo.endpoint(
            session, delivery.merchant_id, None, delivery.endpoint_id, include_deleted=True
        )
        if endpoint is None or endpoint.deleted_at is not None:
            raise _TargetGone("the webhook endpoint was deleted")
        if endpoint.status != EndpointStatus.ENABLED:
            raise _TargetGone("the webhook endpoint is disabled")
        url = endpoint.url  # retries follow a corrected URL
        try:
            secret = service.endpoint_secret(endpoint, server_secret)
        except crypto.DecryptionFailed:
            raise _TargetGone(
                "the endpoint's signing secret cannot be decrypted (the server secret key "
                "changed?): roll the secret"
            ) from None
    else:
        row = repo.notify_secret(session, delivery.merchant_id, event.livemode)
        if row is not None:
            try:
                secret = service.notify_secret_plain(row, server_secret)
            except crypto.DecryptionFailed:
                raise _TargetGone(
                    "the notify secret cannot be decrypted (the server secret key changed?): "
                    "roll it"
                ) from None
    body = signing.event_body(
        event_id=event.id,
        event_type=event.type,
        created=int(event.created_at.timestamp()),
        livemode=event.livemode,
        data=event.data,
    )
    return Outgoing(
        delivery_id=delivery.id,
        merchant_id=delivery.merchant_id,
        livemode=event.livemode,
        url=url,
        secret=secret,
        body=body,
        event_id=event.id,
        event_type=event.type,
    )


def _with_secret(outgoing: Outgoing, secret: str) -> Outgoing:
    return Outgoing(
        delivery_id=outgoing.delivery_id,
        merchant_id=outgoing.merchant_id,
        livemode=outgoing.livemode,
        url=outgoing.url,
        secret=secret,
        body=outgoing.body,
        event_id=outgoing.event_id,
        event_type=outgoing.event_type,
    )


def send(outgoing: Outgoing, *, timestamp: int) -> Outcome:
    """POST the signed body once. Never raises for the receiver's failures: they are the
    outcome. Holds no database transaction."""
    if outgoing.secret is None:
        raise ValueError("the delivery has no signing secret yet")
    headers = signing.delivery_headers(
        outgoing.secret,
        outgoing.body,
        event_id=outgoing.event_id,
        event_type=outgoing.event_type,
        timestamp=timestamp,
    )
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    try:
        with (
            httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client,
            client.stream("POST", outgoing.url, content=outgoing.body, headers=headers) as answer,
        ):
            status_code = answer.status_code
            excerpt = _excerpt(answer)
    except httpx.TimeoutException:
        error = f"timed out after {TIMEOUT_S:g} s"
    except httpx.HTTPError as exc:
        error = error_summary(type(exc).__name__, str(exc), ERROR_LENGTH_MAX)
    duration_ms = int((time.monotonic() - started) * 1000)
    if status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
        if 300 <= status_code < 400:
            error += " (redirects are not followed: give the final URL)"
    return Outcome(status_code, duration_ms, error, excerpt)


def _excerpt(answer: httpx.Response) -> str | None:
    raw = b""
    for chunk in answer.iter_bytes():
        raw += chunk
        if len(raw) >= RESPONSE_BYTES_READ_MAX:
            break
    if not raw:
        return None
    return raw.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_LENGTH_MAX]


def _record(
    session: Session,
    outgoing: Outgoing,
    outcome: Outcome,
    *,
    attempted_at: datetime,
    retry_at: datetime | None,
) -> None:
    delivery = repo.delivery(session, outgoing.delivery_id, for_update=True)
    if delivery is None:  # deliveries are never deleted
        raise PermanentJobError(f"webhook delivery {outgoing.delivery_id} vanished")
    number = delivery.attempts + 1
    repo.add(
        session,
        WebhookDeliveryAttempt(
            delivery_id=delivery.id,
            attempt=number,
            at=attempted_at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
        ),
    )
    delivery.attempts = number
    delivery.url = outgoing.url
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.last_response_excerpt = outcome.response_excerpt
    delivery.last_attempt_at = attempted_at
    delivery.next_attempt_at = retry_at
    if outcome.ok:
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.succeeded_at = clock.now()
    elif retry_at is None:
        delivery.status = DeliveryStatus.DEAD.value
    else:
        delivery.status = DeliveryStatus.FAILED_RETRYING.value
    session.flush()


def _mark_dead(session: Session, delivery_id: str, reason: str) -> None:
    delivery = repo.delivery(session, delivery_id, for_update=True)
    if delivery is None or delivery.status == DeliveryStatus.SUCCEEDED:
        return
    delivery.status = DeliveryStatus.DEAD.value
    delivery.last_error = reason[:ERROR_LENGTH_MAX]
    delivery.next_attempt_at = None
    session.flush()
