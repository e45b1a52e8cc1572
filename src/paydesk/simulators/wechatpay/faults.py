"""Failure injection: the ways a real channel misbehaves, on demand.

Faults are set globally or per merchant (``mchid``), in process through
``SimulatorConfig.faults`` or over HTTP with ``POST /simulator/faults``. They are state of this
process only, like everything else in the simulator.

Counters (``fail_next_n``, ``drop_notifications``, ``duplicate_notifications``, ``reorder``,
``forge_notification``) apply to the next *n* API calls or notifications and count down: a
merchant's own counter is used first, then the global one. Durations (``delay_s``,
``refund_delay_s``) and the ``hold_refunds`` switch stay in force until changed; a merchant
gets the larger of its own value and the global one.

- ``fail_next_n``: the next n signed API calls answer 500 ``SYSTEM_ERROR`` and change nothing.
- ``delay_s``: every signed API call is answered this late, after its work is done (a client
  that times out has still created, paid or refunded what it asked for, as with WeChat).
- ``drop_notifications``: the next n notifications are never sent.
- ``duplicate_notifications``: the next n notifications are delivered twice.
- ``reorder``: the next notification is held back and delivered after the one following it.
- ``forge_notification``: the next n notifications are preceded by a copy whose signature is
  wrong (the genuine one follows, so a receiver that rejects the forgery still gets paid).
- ``refund_delay_s``: refunds stay ``PROCESSING`` this long before succeeding.
- ``hold_refunds``: refunds stay ``PROCESSING`` until ``POST
  /simulator/refunds/{out_refund_no}/complete``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from paydesk.simulators.common.faults import FaultError, MerchantFaults

COUNTERS = (
    "fail_next_n",
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
    delay_s: float = 0.0
    drop_notifications: int = 0
    duplicate_notifications: int = 0
    reorder: int = 0
    forge_notification: int = 0
    refund_delay_s: float = 0.0
    hold_refunds: bool = False


FAULT_NAMES = tuple(item.name for item in fields(FaultSettings))


class FaultBook(MerchantFaults[FaultSettings]):
    """The faults of one simulator, global and per merchant (``mchid``)."""

    def __init__(self) -> None:
        super().__init__(FaultSettings, counters=COUNTERS, durations=DURATIONS, switches=SWITCHES)

    def hold_refunds(self, merchant: str) -> bool:
        """Whether refunds of ``merchant`` wait to be completed on demand."""
        return self.switch(merchant, "hold_refunds")


__all__ = ["FAULT_NAMES", "FaultBook", "FaultError", "FaultSettings"]
