"""Circuit breakers: open after failures in a row, half open after the wait, closed by a
success, opened again by a failed probe."""

from __future__ import annotations

from paydesk.channels.router.breaker import Breakers
from paydesk.channels.router.decide import CircuitState


def test_failures_in_a_row_open_the_circuit_for_the_wait() -> None:
    breakers = Breakers()
    assert breakers.failed("a", 0.0, failures_to_open=3) is False
    assert breakers.failed("a", 1.0, failures_to_open=3) is False
    assert breakers.state("a", 1.0, open_s=30) is CircuitState.CLOSED
    assert breakers.failed("a", 2.0, failures_to_open=3) is True
    assert breakers.state("a", 2.0, open_s=30) is CircuitState.OPEN
    assert breakers.state("a", 31.9, open_s=30) is CircuitState.OPEN
    assert breakers.state("a", 32.0, open_s=30) is CircuitState.HALF_OPEN
    assert breakers.state("b", 32.0, open_s=30) is CircuitState.CLOSED


def test_a_success_between_failures_starts_the_count_again() -> None:
    breakers = Breakers()
    breakers.failed("a", 0.0, failures_to_open=2)
    breakers.succeeded("a")
    assert breakers.failed("a", 1.0, failures_to_open=2) is False
    assert breakers.state("a", 1.0, open_s=30) is CircuitState.CLOSED


def test_a_half_open_probe_closes_on_success_and_reopens_on_failure() -> None:
    breakers = Breakers()
    breakers.failed("a", 0.0, failures_to_open=1)
    assert breakers.state("a", 10.0, open_s=10) is CircuitState.HALF_OPEN
    assert breakers.failed("a", 10.0, failures_to_open=1) is True  # the probe failed
    assert breakers.state("a", 15.0, open_s=10) is CircuitState.OPEN
    assert breakers.state("a", 20.0, open_s=10) is CircuitState.HALF_OPEN
    breakers.succeeded("a")  # the probe succeeded
    assert breakers.state("a", 20.0, open_s=10) is CircuitState.CLOSED
