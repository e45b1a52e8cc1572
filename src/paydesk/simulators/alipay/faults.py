"""Failure injection: what a connector must survive, switched on globally or for one app.

A plan for an app replaces the global plan for that app (it is not merged with it). Faults:

- ``fail_next_n``: the next n gateway API calls answer a signed 20000 ACQ.SYSTEM_ERROR and
  change nothing (the count is taken from the plan in force).
- ``delay_s``: gateway API calls answer this late (client timeouts).
- ``drop_notifications``: notifications are recorded but never sent.
- ``duplicate_notifications``: every notification is delivered twice (same notify_id).
- ``reorder``: a notification waits until the next one of the app has been sent, or until
  ``reorder_hold_s``, so a later event reaches the merchant first.
- ``forge_notification``: notifications are signed with a stranger's key.
- ``refund_delay_s``: refunds are accepted with ``fund_change=N`` and move money this late.

Faults apply to the server-to-server gateway calls, not to pages opened by a browser. State is
in memory behind a lock: per process, like the rest of the simulator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from paydesk.simulators.common.faults import PlanBook

FAIL_NEXT_N_MAX = 1000
DELAY_S_MAX = 120.0
REFUND_DELAY_S_MAX = 3600.0


@dataclass
class FaultPlan:
    fail_next_n: int = 0
    delay_s: float = 0.0
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    reorder: bool = False
    forge_notification: bool = False
    refund_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.fail_next_n <= FAIL_NEXT_N_MAX:
            raise ValueError(f"fail_next_n must be within 0..{FAIL_NEXT_N_MAX}")
        if not 0 <= self.delay_s <= DELAY_S_MAX:
            raise ValueError(f"delay_s must be within 0..{DELAY_S_MAX}")
        if not 0 <= self.refund_delay_s <= REFUND_DELAY_S_MAX:
            raise ValueError(f"refund_delay_s must be within 0..{REFUND_DELAY_S_MAX}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FaultBook(PlanBook[FaultPlan]):
    """The global plan and the per-app plans."""

    def __init__(self) -> None:
        super().__init__(FaultPlan, parties="apps")

    def take_failure(self, party: str) -> bool:
        """Whether this call is to fail; counts it down."""
        return self.take(party, "fail_next_n")
