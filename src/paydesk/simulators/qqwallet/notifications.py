"""Payment notifications, delivered as QQ Wallet delivers them.

- ``POST`` to the order's ``notify_url``, body the signed XML of the paid order: ``mch_id``,
  ``appid`` (when the order named one), ``nonce_str``, ``sign_type`` (when the order was signed
  with a named type), ``trade_type``, ``trade_state`` SUCCESS, ``bank_type``, ``fee_type``,
  ``total_fee``, ``cash_fee``, ``transaction_id``, ``out_trade_no``, ``attach``, ``time_end``,
  ``openid``, ``sign``; signed with the merchant's API key and the order's algorithm. The body
  is the same on every attempt.
- The merchant acknowledges with HTTP 2xx and a body whose ``return_code`` is SUCCESS
  (``<xml><return_code>SUCCESS</return_code></xml>``, read with the same safe XML reader).
  Anything else, a network error or a time-out is tried again after each wait of
  ``retry_schedule_s`` in turn; after the last, it is given up (``failed``).

Deliveries run on the background :class:`~paydesk.simulators.common.scheduler.Dispatcher`,
never in the request that caused them. The notification faults (drop, duplicate, reorder,
forge) are applied here; every copy sent is recorded in a bounded delivery log
(``GET /simulator/notifications``).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from paydesk.simulators.common.scheduler import Dispatcher
from paydesk.simulators.qqwallet import wire
from paydesk.simulators.qqwallet.errors import XmlFormatError
from paydesk.simulators.qqwallet.faults import FaultBook

LOG_ENTRIES_MAX = 1000
HELD_MAX = 100
ANSWER_BYTES_MAX = 4096

CopyKind = Literal["genuine", "duplicate", "forged"]
Outcome = Literal["sending", "delivered", "failed", "dropped", "held", "retrying"]


@dataclass(frozen=True)
class Notice:
    """One copy of a notification as it goes on the wire."""

    mch_id: str
    url: str
    out_trade_no: str
    transaction_id: str
    body: bytes
    kind: CopyKind = "genuine"


@dataclass
class Delivery:
    """What became of one copy: every attempt's HTTP status (or error name)."""

    mch_id: str
    out_trade_no: str
    transaction_id: str
    url: str
    kind: CopyKind
    outcome: Outcome
    attempts: list[int | str] = field(default_factory=list)


def acknowledged(status: int, body: bytes) -> bool:
    """2xx and ``return_code`` SUCCESS."""
    if not 200 <= status < 300 or len(body) > ANSWER_BYTES_MAX:
        return False
    try:
        return wire.from_xml(body).get("return_code", "").strip() == "SUCCESS"
    except XmlFormatError:
        return False


class Notifier:
    """Signs and delivers notifications, applying the notification faults."""

    def __init__(
        self,
        *,
        retry_schedule_s: tuple[float, ...],
        timeout_s: float,
        faults: FaultBook,
        dispatcher: Dispatcher,
    ) -> None:
        self._retry_schedule_s = retry_schedule_s
        self._timeout_s = timeout_s
        self._faults = faults
        self._dispatcher = dispatcher
        self._lock = threading.Lock()
        self._log: deque[Delivery] = deque(maxlen=LOG_ENTRIES_MAX)
        self._held: dict[str, list[tuple[Notice, Delivery]]] = {}
        self._client: httpx.Client | None = None

    def publish(
        self, mch_id: str, url: str, fields: dict[str, str], api_key: str, sign_type: str
    ) -> None:
        """Sign ``fields`` and send them (in the background, subject to the faults)."""
        body = wire.to_xml(wire.signed(fields, api_key, sign_type))
        number, transaction = fields["out_trade_no"], fields["transaction_id"]
        genuine = Notice(mch_id, url, number, transaction, body)
        if self._faults.take(mch_id, "drop_notifications"):
            self._record(genuine, "dropped")
            return
        sequence: list[tuple[Notice, Delivery]] = []
        if self._faults.take(mch_id, "forge_notification"):
            forged_body = wire.to_xml(wire.signed(fields, api_key, sign_type, forge=True))
            forged = Notice(mch_id, url, number, transaction, forged_body, kind="forged")
            sequence.append((forged, self._record(forged, "sending")))
        sequence.append((genuine, self._record(genuine, "sending")))
        if self._faults.take(mch_id, "duplicate_notifications"):
            twin = Notice(mch_id, url, number, transaction, body, kind="duplicate")
            sequence.append((twin, self._record(twin, "sending")))
        with self._lock:
            held = self._held.pop(mch_id, None)
            if held is None and len(self._held) < HELD_MAX and self._faults.take(mch_id, "reorder"):
                self._held[mch_id] = sequence
                for _, delivery in sequence:
                    delivery.outcome = "held"
                return
        ordered = sequence + (held or [])
        self._dispatcher.call_later(0, functools.partial(self._send_in_order, ordered))

    def release_held(self, mch_id: str | None = None) -> int:
        """Send the notifications held back by ``reorder`` (of one merchant, or all)."""
        with self._lock:
            owners = [mch_id] if mch_id is not None else list(self._held)
            released = [self._held.pop(owner) for owner in owners if owner in self._held]
        for sequence in released:
            self._dispatcher.call_later(0, functools.partial(self._send_in_order, sequence))
        return len(released)

    def deliveries(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first."""
        with self._lock:
            return [asdict(entry) | {"attempts": list(entry.attempts)} for entry in self._log]

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _record(self, notice: Notice, outcome: Outcome) -> Delivery:
        entry = Delivery(
            notice.mch_id,
            notice.out_trade_no,
            notice.transaction_id,
            notice.url,
            notice.kind,
            outcome,
        )
        with self._lock:
            self._log.append(entry)
        return entry

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout_s, trust_env=False)
            return self._client

    def _send_in_order(self, sequence: list[tuple[Notice, Delivery]]) -> None:
        for notice, delivery in sequence:
            with self._lock:
                delivery.outcome = "sending"
            self._attempt(notice, delivery, 0)

    def _attempt(self, notice: Notice, delivery: Delivery, attempt: int) -> None:
        status: int | str
        done = False
        try:
            response = self._http().post(
                notice.url, content=notice.body, headers={"Content-Type": "text/xml"}
            )
            status = response.status_code
            done = acknowledged(status, response.content)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        # A forged copy probes the receiver's verification once; it is never retried.
        retry = not done and notice.kind != "forged" and attempt < len(self._retry_schedule_s)
        with self._lock:
            delivery.attempts.append(status)
            delivery.outcome = "delivered" if done else "retrying" if retry else "failed"
        if retry:
            self._dispatcher.call_later(
                self._retry_schedule_s[attempt],
                functools.partial(self._attempt, notice, delivery, attempt + 1),
            )
