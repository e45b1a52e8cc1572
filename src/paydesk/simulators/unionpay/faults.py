"""Failure injection: what a connector must survive, switched on globally or for one merchant.

A plan for a merchant replaces the global plan for that merchant (it is not merged). Faults
apply to the server-to-server calls (``queryTrans``, ``backTransReq``, ``fileTransfer``) and
to notifications, not to pages opened by a browser.

- ``fail_next_n``: the next n calls fail before doing anything: a signed respCode 06 (系统繁忙)
  with ``fail_status`` 200, or that HTTP status (a 5xx) with an HTML body.
- ``delay_s``: calls are answered this late, after their work is done.
- ``timeout_next_n``: the next n calls do their work, then hold the answer until the client
  gives up (at most ``HOLD_MAX_S``): its outcome is unknown to the caller.
- ``corrupt_signature``: answers carry a signature that does not verify.
- ``drop_notifications``: notifications are logged as dropped, never sent.
- ``duplicate_notifications``: every notification is delivered twice.
- ``reorder``: a notification waits until the next one of the merchant has been sent (or
  ``reorder_hold_s``), so a later event reaches the merchant first.
- ``forge_notification``: notifications are signed by a stranger whose certificate (with
  UnionPay's CN) chains to no trusted root.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from paydesk.simulators.common.faults import PlanBook

COUNT_MAX = 1000
DELAY_S_MAX = 120.0
HOLD_MAX_S = 60.0


@dataclass
class FaultPlan:
    fail_next_n: int = 0
    fail_status: int = 200
    delay_s: float = 0.0
    timeout_next_n: int = 0
    corrupt_signature: bool = False
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    reorder: bool = False
    forge_notification: bool = False

    def __post_init__(self) -> None:
        for name in ("fail_next_n", "timeout_next_n"):
            if not 0 <= getattr(self, name) <= COUNT_MAX:
                raise ValueError(f"{name} must be within 0..{COUNT_MAX}")
        if self.fail_status != 200 and not 500 <= self.fail_status <= 599:
            raise ValueError("fail_status must be 200 (a signed respCode 06) or a 5xx")
        if not 0 <= self.delay_s <= DELAY_S_MAX:
            raise ValueError(f"delay_s must be within 0..{DELAY_S_MAX}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FaultBook(PlanBook[FaultPlan]):
    """The global plan and the per-merchant plans."""

    def __init__(self) -> None:
        super().__init__(FaultPlan, parties="merchants")

    def take_failure(self, party: str) -> bool:
        """Whether this call is to fail; counts it down."""
        return self.take(party, "fail_next_n")

    def take_timeout(self, mer_id: str) -> bool:
        """Whether this call's answer is to be held; counts it down."""
        return self.take(mer_id, "timeout_next_n")
