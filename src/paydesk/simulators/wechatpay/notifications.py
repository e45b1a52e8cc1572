"""Payment and refund notifications, delivered as WeChat Pay v3 delivers them.

Rules followed (CHANNELS.md, "WeChat Pay API v3"; WeChat's notification documentation):

- ``POST`` to the order's (or refund's) ``notify_url`` with a JSON body ``{id, create_time,
  resource_type: "encrypt-resource", event_type, summary, resource}``; ``event_type`` is
  ``TRANSACTION.SUCCESS`` or ``REFUND.SUCCESS`` (``REFUND.CLOSED``/``REFUND.ABNORMAL`` when a
  refund ends so); ``resource`` is AEAD_AES_256_GCM under the APIv3 key with
  ``associated_data`` and ``original_type`` ``transaction`` or ``refund``.
- The request carries the ``Wechatpay-*`` signature headers over ``TIMESTAMP\\nNONCE\\nBODY\\n``
  with the platform key, freshly signed for each attempt; the body (and its ``id``) stays the
  same across attempts, so a receiver can deduplicate.
- Any 2xx answer is an acknowledgement. Otherwise (or on a network error or time-out) the
  notification is tried again after each wait of ``retry_schedule_s`` in turn, WeChat's 15s,
  15s, 30s, 3m, ... schedule by default (shortened in tests); after the last, it is given up.

Deliveries run on the background :class:`~paydesk.simulators.common.scheduler.Dispatcher`,
never in the request that caused them. The notification faults (drop, duplicate, reorder,
forge) are applied here; every copy sent is recorded in a bounded delivery log
(``GET /simulator/notifications``).
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from paydesk.simulators.common.scheduler import Dispatcher
from paydesk.simulators.wechatpay.faults import FaultBook
from paydesk.simulators.wechatpay.signing import encrypt_resource, signature_headers
from paydesk.simulators.wechatpay.state import beijing_time
from paydesk.simulators.wechatpay.wire import rfc3339

LOG_ENTRIES_MAX = 1000
HELD_MAX = 100

CopyKind = Literal["genuine", "duplicate", "forged"]
Outcome = Literal["sending", "delivered", "failed", "dropped", "held", "retrying"]


@dataclass(frozen=True)
class Notice:
    """One copy of a notification as it goes on the wire."""

    id: str
    mchid: str
    url: str
    event_type: str
    body: bytes
    kind: CopyKind = "genuine"


@dataclass
class Delivery:
    """What became of one copy: every attempt's HTTP status (or error name)."""

    notification_id: str
    event_type: str
    mchid: str
    url: str
    kind: CopyKind
    outcome: Outcome
    attempts: list[int | str] = field(default_factory=list)


class Notifier:
    """Builds, signs, encrypts and delivers notifications, applying the notification faults."""

    def __init__(
        self,
        *,
        private_key: rsa.RSAPrivateKey,
        public_key_id: str,
        apiv3_key: str,
        retry_schedule_s: tuple[float, ...],
        timeout_s: float,
        clock: Callable[[], float],
        faults: FaultBook,
        dispatcher: Dispatcher,
    ) -> None:
        self._private_key = private_key
        self._public_key_id = public_key_id
        self._apiv3_key = apiv3_key
        self._retry_schedule_s = retry_schedule_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._faults = faults
        self._dispatcher = dispatcher
        self._lock = threading.Lock()
        self._log: deque[Delivery] = deque(maxlen=LOG_ENTRIES_MAX)
        self._held: dict[str, list[tuple[Notice, Delivery]]] = {}
        self._client: httpx.Client | None = None

    # --- building ---------------------------------------------------------------------------
    def publish(
        self,
        mchid: str,
        url: str,
        event_type: str,
        summary: str,
        original_type: str,
        resource: dict[str, Any],
    ) -> str:
        """Encrypt ``resource`` into a notification and send it (in the background, subject
        to the faults in force); returns the notification id."""
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
        notification_id = str(uuid.uuid4())
        envelope = {
            "id": notification_id,
            "create_time": rfc3339(beijing_time(self._clock())),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": encrypt_resource(self._apiv3_key, plaintext, original_type, original_type),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        genuine = Notice(notification_id, mchid, url, event_type, body)
        if self._faults.take(mchid, "drop_notifications"):
            self._record(genuine, "dropped")
            return notification_id
        sequence: list[tuple[Notice, Delivery]] = []
        if self._faults.take(mchid, "forge_notification"):
            forged = Notice(notification_id, mchid, url, event_type, body, kind="forged")
            sequence.append((forged, self._record(forged, "sending")))
        sequence.append((genuine, self._record(genuine, "sending")))
        if self._faults.take(mchid, "duplicate_notifications"):
            twin = Notice(notification_id, mchid, url, event_type, body, kind="duplicate")
            sequence.append((twin, self._record(twin, "sending")))
        with self._lock:
            held = self._held.pop(mchid, None)
            if held is None and len(self._held) < HELD_MAX and self._faults.take(mchid, "reorder"):
                self._held[mchid] = sequence
                for _, delivery in sequence:
                    delivery.outcome = "held"
                return notification_id
        ordered = sequence + (held or [])
        self._dispatcher.call_later(0, lambda: self._send_in_order(ordered))
        return notification_id

    def release_held(self, mchid: str | None = None) -> int:
        """Send the notifications held back by ``reorder`` (of one merchant, or all)."""
        with self._lock:
            owners = [mchid] if mchid is not None else list(self._held)
            released = [self._held.pop(owner) for owner in owners if owner in self._held]
        for sequence in released:
            self._dispatcher.call_later(0, functools.partial(self._send_in_order, sequence))
        return len(released)

    def deliveries(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first."""
        with self._lock:
            return [asdict(entry) | {"attempts": list(entry.attempts)} for entry in self._log]

    def close(self) -> None:
        """Release the HTTP client (the dispatcher is closed by its owner)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- delivering -------------------------------------------------------------------------
    def _record(self, notice: Notice, outcome: Outcome) -> Delivery:
        entry = Delivery(
            notice.id, notice.event_type, notice.mchid, notice.url, notice.kind, outcome
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
        headers = signature_headers(
            self._private_key,
            self._public_key_id,
            int(self._clock()),
            notice.body,
            forge=notice.kind == "forged",
        )
        headers["Content-Type"] = "application/json"
        status: int | str
        try:
            status = self._http().post(notice.url, content=notice.body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        acknowledged = isinstance(status, int) and 200 <= status < 300
        # A forged copy is a one-off probe of the receiver's verification, never retried.
        retry = (
            not acknowledged and notice.kind != "forged" and attempt < len(self._retry_schedule_s)
        )
        with self._lock:
            delivery.attempts.append(status)
            delivery.outcome = "delivered" if acknowledged else "retrying" if retry else "failed"
        if retry:
            self._dispatcher.call_later(
                self._retry_schedule_s[attempt],
                lambda: self._attempt(notice, delivery, attempt + 1),
            )
