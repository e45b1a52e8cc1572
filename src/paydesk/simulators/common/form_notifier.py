"""Delivering signed notification forms (Alipay's and UnionPay's kind: an HTTP form POST to
the merchant's URL) from one background thread, with retries, faults and a delivery log.

The request that caused an event never waits for the merchant. A delivery succeeds when the
channel's ``accepted`` rule says the answer stops retries; anything else is retried after each
wait of the schedule, then given up (``failed``). A retry or a duplicate carries the same form
(and so the same signature). Deliveries are sent one at a time in the order they fall due; the
log keeps the last ``DELIVERIES_KEPT``.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

DELIVERIES_KEPT = 10_000
RESPONSE_BODY_KEPT = 200
STOP_TIMEOUT_S = 10.0


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    HELD = "held"
    """Waiting for a later notification to overtake it (``reorder`` fault)."""
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Every attempt of the schedule was refused."""
    DROPPED = "dropped"
    """Never sent (``drop_notifications`` fault)."""


@dataclass
class Attempt:
    at: float
    status_code: int | None
    body: str
    error: str


@dataclass
class Delivery:
    id: int
    merchant: str
    """The app or merchant the notification is about (its faults and its reordering)."""
    url: str
    form: dict[str, str]
    due: float
    order: int
    state: DeliveryState
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self, merchant_key: str, shown: tuple[str, ...]) -> dict[str, Any]:
        return {
            "id": self.id,
            merchant_key: self.merchant,
            "url": self.url,
            **{name: self.form.get(name, "") for name in shown},
            "state": str(self.state),
            "attempts": [vars(attempt) for attempt in self.attempts],
        }


class FormNotifier:
    """Delivers notification forms in the background; thread-safe."""

    def __init__(
        self,
        *,
        name: str,
        accepted: Callable[[Attempt], bool],
        merchant_key: str,
        shown: tuple[str, ...],
        retry_schedule_s: tuple[float, ...],
        timeout_s: float,
        reorder_hold_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._name = name
        self._accepted = accepted
        """Whether the receiver's answer stops the retries (each channel has its own word)."""
        self._merchant_key, self._shown = merchant_key, shown
        """How the delivery log names the merchant, and which form fields it shows."""
        self._schedule = retry_schedule_s
        self._timeout_s = timeout_s
        self._hold_s = reorder_hold_s
        self._transport = transport
        self._cond = threading.Condition()
        self._deliveries: dict[int, Delivery] = {}
        self._ids = itertools.count(1)
        self._orders = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- submitting ------------------------------------------------------------------------
    def submit(
        self,
        merchant: str,
        url: str,
        form: dict[str, str],
        *,
        delay_s: float = 0.0,
        drop: bool = False,
        duplicate: bool = False,
        reorder: bool = False,
    ) -> None:
        """Queues ``form`` for ``url`` (due in ``delay_s``) under the given faults."""
        now = time.monotonic()
        with self._cond:
            if drop:
                self._add(merchant, url, form, now, DeliveryState.DROPPED)
                return
            held = [
                d
                for d in self._deliveries.values()
                if d.merchant == merchant and d.state is DeliveryState.HELD
            ]
            due = now + delay_s
            state = DeliveryState.PENDING
            if reorder and not held:
                due, state = due + self._hold_s, DeliveryState.HELD
            for _ in range(2 if duplicate else 1):
                self._add(merchant, url, form, due, state)
            for waiting in held:  # the new one overtakes them
                waiting.state, waiting.due = DeliveryState.PENDING, max(due, now)
                waiting.order = next(self._orders)
            self._start()
            self._cond.notify_all()

    def _add(
        self, merchant: str, url: str, form: dict[str, str], due: float, state: DeliveryState
    ) -> None:
        delivery_id = next(self._ids)
        self._deliveries[delivery_id] = Delivery(
            delivery_id, merchant, url, form, due, next(self._orders), state
        )
        if len(self._deliveries) > DELIVERIES_KEPT:
            finished = (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.DROPPED)
            for old_id in [i for i, d in self._deliveries.items() if d.state in finished]:
                del self._deliveries[old_id]
                if len(self._deliveries) <= DELIVERIES_KEPT:
                    break

    # -- observing -------------------------------------------------------------------------
    def deliveries(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first."""
        with self._cond:
            return [d.to_dict(self._merchant_key, self._shown) for d in self._deliveries.values()]

    def wait_settled(self, timeout_s: float) -> bool:
        """Waits until nothing is pending, held or being sent; False on timeout."""
        busy = (DeliveryState.PENDING, DeliveryState.HELD, DeliveryState.SENDING)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while any(d.state in busy for d in self._deliveries.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    # -- the worker ------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(
                target=self._run, name=f"{self._name}-simulator-notifier", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stops the worker; undelivered notifications stay in the log as they are."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=STOP_TIMEOUT_S)

    def _next_due(self) -> tuple[Delivery | None, float]:
        waiting = [
            d
            for d in self._deliveries.values()
            if d.state in (DeliveryState.PENDING, DeliveryState.HELD)
        ]
        if not waiting:
            return None, 1.0
        first = min(waiting, key=lambda d: (d.due, d.order))
        return first, first.due - time.monotonic()

    def _run(self) -> None:
        with httpx.Client(transport=self._transport, timeout=self._timeout_s) as client:
            while True:
                with self._cond:
                    delivery, wait_s = self._next_due()
                    while not self._stopping and (delivery is None or wait_s > 0):
                        self._cond.wait(timeout=max(0.001, min(wait_s, 1.0)))
                        delivery, wait_s = self._next_due()
                    if self._stopping or delivery is None:
                        return
                    delivery.state = DeliveryState.SENDING
                attempt = self._send(client, delivery)
                with self._cond:
                    self._record(delivery, attempt)
                    self._cond.notify_all()

    def _send(self, client: httpx.Client, delivery: Delivery) -> Attempt:
        sent_at = time.time()
        try:
            response = client.post(delivery.url, data=delivery.form)
        except httpx.HTTPError as error:
            return Attempt(sent_at, None, "", f"{type(error).__name__}: {error}")
        return Attempt(sent_at, response.status_code, response.text[:RESPONSE_BODY_KEPT], "")

    def _record(self, delivery: Delivery, attempt: Attempt) -> None:
        delivery.attempts.append(attempt)
        if self._accepted(attempt):
            delivery.state = DeliveryState.DELIVERED
            return
        retries_done = len(delivery.attempts) - 1
        if retries_done >= len(self._schedule):
            delivery.state = DeliveryState.FAILED
            return
        delivery.state = DeliveryState.PENDING
        delivery.due = time.monotonic() + self._schedule[retries_done]
