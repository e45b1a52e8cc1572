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

from dataclasses import dataclass, fields

from paydesk.simulators.common.faults import FaultError, MerchantFaults

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


class FaultBook(MerchantFaults[FaultSettings]):
    """The faults of one simulator, global and per merchant (``mch_id``)."""

    def __init__(self) -> None:
        super().__init__(FaultSettings, counters=COUNTERS, durations=DURATIONS, switches=SWITCHES)

    def hold_refunds(self, merchant: str) -> bool:
        """Whether refunds of ``merchant`` wait to be completed on demand."""
        return self.switch(merchant, "hold_refunds")


__all__ = ["FAULT_NAMES", "FaultBook", "FaultError", "FaultSettings"]
