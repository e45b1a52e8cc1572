"""Job handlers for the tests. Each observable effect is an ``App`` row named from the payload.

Workers import this module through the ``job_modules`` setting
(``PAYDESK_JOB_MODULES=tests.support.job_handlers`` in a subprocess).
"""

from __future__ import annotations

import time
from pathlib import Path

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.jobs.registry import JobContext, PermanentJobError, job_handler
from paydesk.merchants.models import App

FAILING_NAMES: set[str] = set()
"""Names for which ``test.switchable`` fails; a test removes a name to let the job succeed."""
SLEEP_S_MAX = 60.0


def add_app(ctx: JobContext) -> None:
    """The effect: an App of the job's merchant named ``payload["name"]``."""
    now = clock.now()
    assert ctx.merchant_id is not None, "effect jobs need a merchant"
    ctx.session.add(
        App(
            id=new_id("app"),
            merchant_id=ctx.merchant_id,
            name=str(ctx.payload["name"]),
            created_at=now,
            updated_at=now,
        )
    )


@job_handler("test.effect")
def effect(ctx: JobContext) -> None:
    add_app(ctx)
    pause_s = float(ctx.payload.get("pause_s", 0))
    if pause_s:
        time.sleep(min(pause_s, SLEEP_S_MAX))


@job_handler("test.effect_then_fail")
def effect_then_fail(ctx: JobContext) -> None:
    add_app(ctx)
    raise RuntimeError(str(ctx.payload.get("message", "failed after the effect")))


@job_handler("test.fail")
def fail(ctx: JobContext) -> None:
    raise RuntimeError(str(ctx.payload.get("message", "boom")))


@job_handler("test.fail_permanent")
def fail_permanent(ctx: JobContext) -> None:
    raise PermanentJobError(str(ctx.payload.get("message", "cannot ever work")))


@job_handler("test.switchable")
def switchable(ctx: JobContext) -> None:
    name = str(ctx.payload["name"])
    if name in FAILING_NAMES:
        raise RuntimeError(f"{name} is switched off")
    add_app(ctx)


@job_handler("test.slow_effect")
def slow_effect(ctx: JobContext) -> None:
    """On the first attempt: touch ``marker_path`` (if given), sleep ``sleep_s``; then the effect.

    Only the first attempt sleeps, so a test can kill a worker mid-job and have the next
    attempt finish quickly.
    """
    if ctx.attempt == 1:
        marker = ctx.payload.get("marker_path")
        if marker:
            Path(str(marker)).touch()
        time.sleep(min(float(ctx.payload.get("sleep_s", 0)), SLEEP_S_MAX))
    add_app(ctx)
