"""Back-off, the retry-or-dead decision, schedule slots and error summaries of the job runner."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from paydesk.jobs.domain import (
    ATTEMPTS_MAX_DEFAULT,
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    FailureAction,
    backoff_delay_s,
    error_summary,
    failure_action,
    first_slot_start,
    schedule_slot,
)


def test_ceiling_doubles_each_attempt_and_delay_stays_within_equal_jitter_bounds() -> None:
    rng = random.Random(7)
    for attempt in range(1, 30):
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
        for _ in range(50):
            delay = backoff_delay_s(attempt, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_delay_grows_until_the_cap() -> None:
    lowest = [backoff_delay_s(n, rng=_ConstantRandom(0.0)) for n in range(1, 12)]
    highest = [backoff_delay_s(n, rng=_ConstantRandom(1.0)) for n in range(1, 12)]
    assert lowest == sorted(lowest) and len(set(lowest)) == len(lowest)
    # Below the cap (attempts 1 to 10), attempt n+1's shortest delay is attempt n's longest.
    assert lowest[1:10] == highest[0:9]
    assert highest[0] == BACKOFF_BASE_S
    assert max(highest) == BACKOFF_CAP_S


def test_delay_is_capped_even_for_absurd_attempt_numbers() -> None:
    assert backoff_delay_s(10_000, base_s=1, cap_s=5, rng=random.Random(1)) <= 5
    assert backoff_delay_s(3, base_s=10, cap_s=15, rng=_ConstantRandom(1.0)) == 15


def test_seeded_rng_repeats_the_same_delays() -> None:
    first = [backoff_delay_s(n, rng=random.Random(42)) for n in range(1, 13)]
    second = [backoff_delay_s(n, rng=random.Random(42)) for n in range(1, 13)]
    assert first == second


def test_default_attempts_span_roughly_a_day() -> None:
    failed = range(1, ATTEMPTS_MAX_DEFAULT)  # no delay after the last attempt
    shortest_h = sum(backoff_delay_s(n, rng=_ConstantRandom(0.0)) for n in failed) / 3600
    longest_h = sum(backoff_delay_s(n, rng=_ConstantRandom(1.0)) for n in failed) / 3600
    assert 14 < shortest_h < 15
    assert 29 < longest_h < 30
    assert 20 < (shortest_h + longest_h) / 2 < 24


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt: int) -> None:
    with pytest.raises(ValueError):
        backoff_delay_s(attempt)


@pytest.mark.parametrize(
    ("attempt", "attempts_max", "permanent", "action"),
    [
        (1, 12, False, FailureAction.RETRY),
        (11, 12, False, FailureAction.RETRY),
        (12, 12, False, FailureAction.DEAD),
        (13, 12, False, FailureAction.DEAD),
        (1, 1, False, FailureAction.DEAD),
        (1, 12, True, FailureAction.DEAD),
    ],
)
def test_failure_action(attempt: int, attempts_max: int, permanent: bool, action: str) -> None:
    assert failure_action(attempt, attempts_max, permanent=permanent) is action


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_schedule_slot_runs_the_current_slot_once_after_downtime() -> None:
    slot_start, next_run_at = schedule_slot(
        _at("2030-01-01T00:00:00"), 3600, _at("2030-01-01T05:30:00")
    )
    assert slot_start == _at("2030-01-01T05:00:00")
    assert next_run_at == _at("2030-01-01T06:00:00")


def test_schedule_slot_on_time() -> None:
    due = _at("2030-01-01T00:00:00")
    assert schedule_slot(due, 60, due) == (due, due + timedelta(seconds=60))
    with pytest.raises(ValueError):
        schedule_slot(due, 60, due - timedelta(seconds=1))


def test_first_slot_is_aligned_to_the_interval() -> None:
    assert first_slot_start(_at("2030-01-01T05:31:12"), 3600) == _at("2030-01-01T05:00:00")
    assert first_slot_start(_at("2030-01-01T05:31:12"), 86400) == _at("2030-01-01T00:00:00")


def test_error_summary_masks_secrets_and_is_bounded() -> None:
    text = error_summary(
        "HTTPError",
        "POST https://user:hunter2@example.com failed; token=abc123 "
        'api_key: "k-999" key pd_live_sk_ABCDEF012345',
    )
    for secret in ("hunter2", "abc123", "k-999", "ABCDEF012345"):
        assert secret not in text
    assert text.startswith("HTTPError: POST https://")
    assert len(error_summary("E", "x" * 10_000)) == 2000
    assert error_summary("", "no handler") == "no handler"


class _ConstantRandom(random.Random):
    """``uniform(a, b)`` always at the same fraction of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction
