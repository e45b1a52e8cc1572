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
import threading
from dataclasses import dataclass
from typing import Any

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


class FaultBook:
    """The global plan and the per-merchant plans."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global = FaultPlan()
        self._per_merchant: dict[str, FaultPlan] = {}

    def set(self, plan: FaultPlan, mer_id: str | None = None) -> None:
        with self._lock:
            if mer_id is None:
                self._global = dataclasses.replace(plan)
            else:
                self._per_merchant[mer_id] = dataclasses.replace(plan)

    def clear(self, mer_id: str | None = None) -> None:
        """Removes one merchant's plan, or (no merchant) every plan."""
        with self._lock:
            if mer_id is None:
                self._global = FaultPlan()
                self._per_merchant.clear()
            else:
                self._per_merchant.pop(mer_id, None)

    def _in_force(self, mer_id: str) -> FaultPlan:
        return self._per_merchant.get(mer_id, self._global)

    def plan_for(self, mer_id: str) -> FaultPlan:
        with self._lock:
            return dataclasses.replace(self._in_force(mer_id))

    def _take(self, mer_id: str, name: str) -> bool:
        with self._lock:
            plan = self._in_force(mer_id)
            left = getattr(plan, name)
            if left <= 0:
                return False
            setattr(plan, name, left - 1)
            return True

    def take_failure(self, mer_id: str) -> bool:
        """Whether this call is to fail; counts it down."""
        return self._take(mer_id, "fail_next_n")

    def take_timeout(self, mer_id: str) -> bool:
        """Whether this call's answer is to be held; counts it down."""
        return self._take(mer_id, "timeout_next_n")

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "global": self._global.to_dict(),
                "merchants": {m: plan.to_dict() for m, plan in self._per_merchant.items()},
            }
