"""Failure injection: the ways a real channel misbehaves, on demand.

Faults are set globally or per merchant (``mch_id``), in process through
``SimulatorConfig.faults`` or over HTTP with ``POST /simulator/faults``. They are state of this
process only.

Counters apply to the next *n* API calls, answers or notifications and count down: a
merchant's own counter is used first, then the global one. Durations and the ``hold_refunds``
switch stay in force until changed; a merchant gets the larger (or true) of its own value and
the global one.

- ``fail_next_n``: the next n signed API calls answer ``result_code`` FAIL ``SYSTEMERROR``
  (signed) and change nothing.
- ``timeout_next_n``: the next n signed API calls do their work, then hold the answer until
  the caller hangs up (at most ``SimulatorConfig.hold_s_max``): the caller times out not
  knowing the outcome.
- ``delay_s``: every signed API call is answered this late, after its work is done.
- ``forge_answer``: the next n signed answers carry a ``sign`` made with another key.
- ``drop_notifications``: the next n notifications are never sent.
- ``duplicate_notifications``: the next n notifications are delivered twice.
- ``reorder``: the next notification is held back and delivered after the one following it
  (or on ``POST /simulator/notifications/release``).
- ``forge_notification``: the next n notifications are preceded by a copy whose ``sign`` is
  wrong (the genuine one follows).
- ``refund_delay_s``: refunds stay ``PROCESSING`` this long before succeeding.
- ``hold_refunds``: refunds stay ``PROCESSING`` until ``POST
  /simulator/refunds/{out_refund_no}/complete``.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields, replace

COUNT_MAX = 1000
DURATION_S_MAX = 600.0

COUNTERS = (
    "fail_next_n",
    "timeout_next_n",
    "forge_answer",
    "drop_notifications",
    "duplicate_notifications",
    "reorder",
    "forge_notification",
)
DURATIONS = ("delay_s", "refund_delay_s")
SWITCHES = ("hold_refunds",)


@dataclass
class FaultSettings:
    """The faults in force at one level (global, or one merchant)."""

    fail_next_n: int = 0
    timeout_next_n: int = 0
    forge_answer: int = 0
    delay_s: float = 0.0
    drop_notifications: int = 0
    duplicate_notifications: int = 0
    reorder: int = 0
    forge_notification: int = 0
    refund_delay_s: float = 0.0
    hold_refunds: bool = False


FAULT_NAMES = tuple(item.name for item in fields(FaultSettings))


class FaultError(ValueError):
    """A fault setting with an unknown name or a value out of bounds."""


def _checked(name: str, value: object) -> int | float | bool:
    if name in COUNTERS:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX:
            raise FaultError(f"{name} must be an integer from 0 to {COUNT_MAX}")
        return value
    if name in DURATIONS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FaultError(f"{name} must be a number of seconds")
        if not 0 <= value <= DURATION_S_MAX:
            raise FaultError(f"{name} must be from 0 to {DURATION_S_MAX} seconds")
        return float(value)
    if name in SWITCHES:
        if not isinstance(value, bool):
            raise FaultError(f"{name} must be true or false")
        return value
    raise FaultError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")


class FaultBook:
    """The faults of one simulator, global and per merchant, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global = FaultSettings()
        self._merchants: dict[str, FaultSettings] = {}

    def set(self, mch_id: str | None = None, **changes: object) -> FaultSettings:
        """Change some faults at one level (global when ``mch_id`` is None); returns them."""
        checked = {name: _checked(name, value) for name, value in changes.items()}
        with self._lock:
            current = self._global if mch_id is None else self._merchants.get(mch_id)
            updated = replace(current or FaultSettings(), **checked)  # type: ignore[arg-type]
            if mch_id is None:
                self._global = updated
            else:
                self._merchants[mch_id] = updated
            return replace(updated)

    def reset(self) -> None:
        """Clear every fault, global and per merchant."""
        with self._lock:
            self._global = FaultSettings()
            self._merchants.clear()

    def snapshot(self) -> dict[str, object]:
        """``{"global": {...}, "merchants": {mch_id: {...}}}``."""
        with self._lock:
            return {
                "global": asdict(self._global),
                "merchants": {key: asdict(value) for key, value in self._merchants.items()},
            }

    def take(self, mch_id: str, counter: str) -> bool:
        """Use up one unit of a counter fault for ``mch_id``; False when none is left."""
        if counter not in COUNTERS:
            raise FaultError(f"{counter!r} is not a counter fault")
        with self._lock:
            for level in (self._merchants.get(mch_id), self._global):
                if level is not None and getattr(level, counter) > 0:
                    setattr(level, counter, getattr(level, counter) - 1)
                    return True
            return False

    def duration_s(self, mch_id: str, name: str) -> float:
        """A duration fault in force for ``mch_id`` (the larger of merchant and global)."""
        if name not in DURATIONS:
            raise FaultError(f"{name!r} is not a duration fault")
        with self._lock:
            own = self._merchants.get(mch_id)
            return max(float(getattr(self._global, name)), float(getattr(own, name, 0.0)))

    def hold_refunds(self, mch_id: str) -> bool:
        with self._lock:
            own = self._merchants.get(mch_id)
            return self._global.hold_refunds or (own is not None and own.hold_refunds)
