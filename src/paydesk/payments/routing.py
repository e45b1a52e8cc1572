"""How a channel payment finds its account: the order as the router sees it, the success
counts the router scores with (read from the attempts), and the decisions kept per attempt.

The router itself (``paydesk.channels.router``) knows nothing of orders; this module hands it
what it needs.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.channels.base import Method
from paydesk.channels.router import service as router
from paydesk.channels.router.decide import Candidate, Context, Health
from paydesk.core import clock
from paydesk.fees import quotes
from paydesk.fees import service as fee_service
from paydesk.fees.transaction import COLLECTION, FeeTransaction
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import AttemptStatus

HEALTH_TTL_S = 5.0
"""How long one process reuses the success counts it read (one query per merchant)."""
FINISHED = (AttemptStatus.SUCCEEDED.value, AttemptStatus.FAILED.value, AttemptStatus.UNKNOWN.value)
"""What counts in a success rate: closed attempts (the payer went away) and open ones don't."""


class _HealthCache:
    """Per process: ``(merchant, window) -> (read at, counts)``, for :data:`HEALTH_TTL_S`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, int], tuple[float, dict[str, Health]]] = {}

    def get(self, key: tuple[str, int], now: float) -> dict[str, Health] | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or now - found[0] > HEALTH_TTL_S:
            return None
        return found[1]

    def put(self, key: tuple[str, int], now: float, value: dict[str, Health]) -> None:
        with self._lock:
            self._entries[key] = (now, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


HEALTH_CACHE = _HealthCache()


def account_health(session: Session, merchant_id: str, window_s: int) -> dict[str, Health]:
    """Per channel account of the merchant: attempts created within the window that finished,
    and how many of them succeeded."""
    key = (merchant_id, window_s)
    tick = time.monotonic()
    cached = HEALTH_CACHE.get(key, tick)
    if cached is not None:
        return cached
    since = clock.now() - timedelta(seconds=window_s)
    succeeded = sa.case((PaymentAttempt.status == AttemptStatus.SUCCEEDED.value, 1), else_=0)
    rows = session.execute(
        sa.select(PaymentAttempt.channel_account_id, sa.func.sum(succeeded), sa.func.count())
        .where(
            PaymentAttempt.merchant_id == merchant_id,
            PaymentAttempt.channel_account_id.is_not(None),
            PaymentAttempt.created_at >= since,
            PaymentAttempt.status.in_(FINISHED),
        )
        .group_by(PaymentAttempt.channel_account_id)
    ).all()
    found = {str(account): Health(int(ok or 0), int(total)) for account, ok, total in rows}
    HEALTH_CACHE.put(key, tick, found)
    return found


def context_of(order: Order, method: Method, user_id: str | None) -> Context:
    """The payment as rules see it; ``region`` and ``user_segment`` come from the order's
    metadata."""
    meta = order.meta or {}
    region, segment = meta.get("region"), meta.get("user_segment")
    return Context(
        method=method.value,
        amount_minor=order.amount_minor,
        currency=order.currency,
        at=clock.now(),
        region=str(region) if region is not None else None,
        segment=str(segment) if segment is not None else None,
        user_id=user_id or order.user_id,
    )


def route_payment(
    session: Session,
    order: Order,
    method: Method,
    *,
    user_id: str | None,
    exclude: frozenset[str],
) -> router.Routed:
    return router.route(
        session,
        merchant_id=order.merchant_id,
        livemode=order.livemode,
        method=method,
        ctx=context_of(order, method, user_id),
        health_of=lambda window_s: account_health(session, order.merchant_id, window_s),
        exclude=exclude,
        costs_of=lambda candidates: quoted_costs(session, order, method, candidates),
    )


def quoted_costs(
    session: Session, order: Order, method: Method, candidates: list[Candidate]
) -> dict[str, int]:
    """What the fee centre says each candidate would cost this payment, for the accounts with
    a channel agreement that prices it (the others keep the policy's configured cost)."""
    found: dict[str, int] = {}
    for candidate in candidates:
        agreements = fee_service.active_agreements(session, "channel", candidate.account_id)
        if not agreements:
            continue
        txn = FeeTransaction(
            id="routing",
            scenario=COLLECTION,
            amount_minor=order.amount_minor,
            currency=order.currency,
            occurred_at=clock.now(),
            method=method.value,
            region=(order.meta or {}).get("region"),
            business_type=(order.meta or {}).get("business_type"),
            interface_id=candidate.account_id,
        )
        priced = quotes.priced(agreements, txn)
        if priced["amount"] is not None:
            found[candidate.account_id] = int(priced["amount"])
    return found
