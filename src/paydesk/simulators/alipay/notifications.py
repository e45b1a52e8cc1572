"""Asynchronous notifications (CHANNELS.md: form POSTs signed over every parameter except
``sign`` and ``sign_type``, answered with the plain text ``success``).

:func:`notification_form` writes the real field set of a ``trade_status_sync`` notification;
the caller signs it. :class:`Notifier` delivers forms from one background thread with httpx,
so the request that caused an event never waits for the merchant. A delivery succeeds when the
receiver answers HTTP 200 with the body ``success`` (surrounding whitespace ignored); anything
else is retried after each wait of the schedule (the real one is 4m, 10m, 10m, 1h, 2h, 6h,
15h), then given up. A retry or a duplicate carries the same ``notify_id`` and signature.
Deliveries are sent one at a time in the order they fall due; the log keeps the last
``DELIVERIES_KEPT``.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from paydesk.simulators.alipay import wire
from paydesk.simulators.alipay.trades import EventKind, TradeEvent

DELIVERIES_KEPT = 10_000
RESPONSE_BODY_KEPT = 200
STOP_TIMEOUT_S = 10.0


def notification_form(event: TradeEvent, notify_id: str) -> dict[str, str]:
    """The unsigned parameters of the notification of ``event``."""
    trade = event.trade
    form = {
        "notify_time": wire.format_time(event.at),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "seller_id": trade.seller_id,
        "trade_status": str(event.trade_status),
        "total_amount": wire.format_yuan(trade.total_fen),
        "subject": trade.subject,
        "body": trade.body,
        "gmt_create": wire.format_time(trade.created_at),
        "passback_params": trade.passback_params,
    }
    if trade.paid_at is not None:
        paid = wire.format_yuan(trade.total_fen)
        form |= {
            "buyer_id": trade.buyer_user_id,
            "buyer_logon_id": trade.buyer_logon_id,
            "receipt_amount": paid,
            "invoice_amount": paid,
            "buyer_pay_amount": paid,
            "point_amount": "0.00",
            "gmt_payment": wire.format_time(trade.paid_at),
            "fund_bill_list": f'[{{"amount":"{paid}","fundChannel":"ALIPAYACCOUNT"}}]',
        }
    if event.kind is EventKind.REFUNDED and event.refund is not None:
        form |= {
            "out_biz_no": event.refund.out_request_no,
            "refund_fee": wire.format_yuan(event.refunded_fen),
            "gmt_refund": wire.format_time_ms(event.refund.effective_at),
        }
    if event.trade_status == "TRADE_CLOSED":
        closed_at = trade.closed_at or event.at
        form["gmt_close"] = wire.format_time(closed_at)
    return {name: value for name, value in form.items() if value}


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
    app_id: str
    url: str
    form: dict[str, str]
    due: float
    order: int
    state: DeliveryState
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_id": self.app_id,
            "url": self.url,
            "notify_id": self.form.get("notify_id", ""),
            "out_trade_no": self.form.get("out_trade_no", ""),
            "trade_status": self.form.get("trade_status", ""),
            "state": str(self.state),
            "attempts": [vars(attempt) for attempt in self.attempts],
        }


class Notifier:
    """Delivers notification forms in the background; thread-safe."""

    def __init__(
        self,
        *,
        retry_schedule_s: tuple[float, ...],
        timeout_s: float,
        reorder_hold_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
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
        app_id: str,
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
                self._add(app_id, url, form, now, DeliveryState.DROPPED)
                return
            held = [
                d
                for d in self._deliveries.values()
                if d.app_id == app_id and d.state is DeliveryState.HELD
            ]
            due = now + delay_s
            state = DeliveryState.PENDING
            if reorder and not held:
                due, state = due + self._hold_s, DeliveryState.HELD
            for _ in range(2 if duplicate else 1):
                self._add(app_id, url, form, due, state)
            for waiting in held:  # the new one overtakes them
                waiting.state, waiting.due = DeliveryState.PENDING, max(due, now)
                waiting.order = next(self._orders)
            self._start()
            self._cond.notify_all()

    def _add(
        self, app_id: str, url: str, form: dict[str, str], due: float, state: DeliveryState
    ) -> None:
        delivery_id = next(self._ids)
        self._deliveries[delivery_id] = Delivery(
            delivery_id, app_id, url, form, due, next(self._orders), state
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
            return [d.to_dict() for d in self._deliveries.values()]

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
                target=self._run, name="alipay-simulator-notifier", daemon=True
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
        if attempt.status_code == 200 and attempt.body.strip() == "success":
            delivery.state = DeliveryState.DELIVERED
            return
        retries_done = len(delivery.attempts) - 1
        if retries_done >= len(self._schedule):
            delivery.state = DeliveryState.FAILED
            return
        delivery.state = DeliveryState.PENDING
        delivery.due = time.monotonic() + self._schedule[retries_done]
