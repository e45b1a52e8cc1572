"""The book of faults a simulator is told to inject, set globally or per merchant.

Each simulator names its faults in a dataclass of settings (defaults: no fault) and sorts them
into three kinds:

- counters (an int): the next *n* calls or notifications misbehave, counting down; a
  merchant's own counter is used first, then the global one;
- durations (seconds): in force until changed; a merchant gets the larger of its own value
  and the global one;
- switches (a bool): in force until changed; on if on for the merchant or globally.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, fields, replace
from typing import Any, Generic, TypeVar

COUNT_MAX = 1000
DURATION_S_MAX = 600.0

S = TypeVar("S")


class FaultError(ValueError):
    """A fault setting with an unknown name or a value out of bounds."""


class MerchantFaults(Generic[S]):
    """Faults of one simulator, global and per merchant, behind one lock."""

    def __init__(
        self,
        settings: type[S],
        *,
        counters: tuple[str, ...],
        durations: tuple[str, ...] = (),
        switches: tuple[str, ...] = (),
    ) -> None:
        self._settings = settings
        self._names = tuple(item.name for item in fields(settings))  # type: ignore[arg-type]
        self._counters, self._durations, self._switches = counters, durations, switches
        self._lock = threading.Lock()
        self._global: S = settings()
        self._merchants: dict[str, S] = {}

    def _checked(self, name: str, value: object) -> int | float | bool:
        if name in self._counters:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX:
                raise FaultError(f"{name} must be an integer from 0 to {COUNT_MAX}")
            return value
        if name in self._durations:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError(f"{name} must be a number of seconds")
            if not 0 <= value <= DURATION_S_MAX:
                raise FaultError(f"{name} must be from 0 to {DURATION_S_MAX} seconds")
            return float(value)
        if name in self._switches:
            if not isinstance(value, bool):
                raise FaultError(f"{name} must be true or false")
            return value
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(self._names)}")

    def set(self, merchant: str | None = None, **changes: object) -> S:
        """Change some faults at one level (global when ``merchant`` is None); returns them."""
        checked: dict[str, Any] = {name: self._checked(name, v) for name, v in changes.items()}
        with self._lock:
            current = self._global if merchant is None else self._merchants.get(merchant)
            updated = replace(current or self._settings(), **checked)  # type: ignore[type-var]
            if merchant is None:
                self._global = updated
            else:
                self._merchants[merchant] = updated
            return replace(updated)  # type: ignore[type-var]

    def reset(self) -> None:
        """Clear every fault, global and per merchant."""
        with self._lock:
            self._global = self._settings()
            self._merchants.clear()

    def snapshot(self) -> dict[str, object]:
        """The faults in force: ``{"global": {...}, "merchants": {merchant: {...}}}``."""
        with self._lock:
            return {
                "global": asdict(self._global),  # type: ignore[call-overload]
                "merchants": {
                    key: asdict(value)  # type: ignore[call-overload]
                    for key, value in self._merchants.items()
                },
            }

    def take(self, merchant: str, counter: str) -> bool:
        """Use up one unit of a counter fault for ``merchant``; False when none is left."""
        if counter not in self._counters:
            raise FaultError(f"{counter!r} is not a counter fault")
        with self._lock:
            for level in (self._merchants.get(merchant), self._global):
                if level is not None and getattr(level, counter) > 0:
                    setattr(level, counter, getattr(level, counter) - 1)
                    return True
            return False

    def duration_s(self, merchant: str, name: str) -> float:
        """A duration fault in force for ``merchant`` (the larger of merchant and global)."""
        if name not in self._durations:
            raise FaultError(f"{name!r} is not a duration fault")
        with self._lock:
            own = self._merchants.get(merchant)
            return max(float(getattr(self._global, name)), float(getattr(own, name, 0.0)))

    def switch(self, merchant: str, name: str) -> bool:
        """Whether a switch fault is on for ``merchant`` (its own or the global one)."""
        if name not in self._switches:
            raise FaultError(f"{name!r} is not a switch fault")
        with self._lock:
            own = self._merchants.get(merchant)
            return bool(getattr(self._global, name)) or bool(getattr(own, name, False))


class PlanBook(Generic[S]):
    """Fault plans of the Alipay and UnionPay kind: one global plan, and plans per app or
    merchant that replace it for that party (they are not merged). Counters count down in the
    plan in force."""

    def __init__(self, plan: type[S], *, parties: str) -> None:
        self._plan = plan
        self._parties = parties
        """How :meth:`to_dict` names the per-party plans (``apps``, ``merchants``)."""
        self._lock = threading.Lock()
        self._global: S = plan()
        self._own: dict[str, S] = {}

    def set(self, plan: S, party: str | None = None) -> None:
        """Puts ``plan`` in force globally, or for one party."""
        with self._lock:
            if party is None:
                self._global = replace(plan)  # type: ignore[type-var]
            else:
                self._own[party] = replace(plan)  # type: ignore[type-var]

    def clear(self, party: str | None = None) -> None:
        """Removes one party's plan, or (no party) every plan."""
        with self._lock:
            if party is None:
                self._global = self._plan()
                self._own.clear()
            else:
                self._own.pop(party, None)

    def plan_for(self, party: str) -> S:
        """A copy of the plan in force for ``party``."""
        with self._lock:
            return replace(self._own.get(party, self._global))  # type: ignore[type-var]

    def take(self, party: str, counter: str) -> bool:
        """Whether this call is to misbehave by ``counter``; counts it down."""
        with self._lock:
            plan = self._own.get(party, self._global)
            left = getattr(plan, counter)
            if left <= 0:
                return False
            setattr(plan, counter, left - 1)
            return True

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "global": asdict(self._global),  # type: ignore[call-overload]
                self._parties: {
                    key: asdict(plan)  # type: ignore[call-overload]
                    for key, plan in self._own.items()
                },
            }
