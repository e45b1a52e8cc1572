"""Circuit breakers, one per channel account, in this server process.

Closed: payments go through. ``failures_to_open`` channel errors or time-outs in a row open
it: the account is skipped for ``open_s``. Then it is half open: payments may go to it again
(ranked after healthy accounts); the first outcome closes it (a success) or opens it again (a
failure). Each process keeps its own breakers, as each process sees its own calls fail; a
process that restarts starts closed and learns again within ``failures_to_open`` calls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from paydesk.channels.router.decide import CircuitState


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None


class Breakers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def state(self, account_id: str, now: float, open_s: float) -> CircuitState:
        with self._lock:
            circuit = self._circuits.get(account_id)
            if circuit is None or circuit.opened_at is None:
                return CircuitState.CLOSED
            if now - circuit.opened_at < open_s:
                return CircuitState.OPEN
            return CircuitState.HALF_OPEN

    def succeeded(self, account_id: str) -> None:
        with self._lock:
            self._circuits.pop(account_id, None)

    def failed(self, account_id: str, now: float, failures_to_open: int) -> bool:
        """Count a failure; True when this failure opened (or re-opened) the circuit."""
        with self._lock:
            circuit = self._circuits.setdefault(account_id, _Circuit())
            circuit.failures += 1
            if circuit.opened_at is not None or circuit.failures >= failures_to_open:
                # Half open (or still open) and failing again: open for another period.
                circuit.opened_at = now
                return True
            return False

    def reset(self) -> None:
        with self._lock:
            self._circuits.clear()


BREAKERS = Breakers()
"""The process's breakers."""
