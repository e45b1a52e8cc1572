"""``paydesk jobs list|retry`` and ``paydesk worker``.

``cli/main.py`` wires them: ``app.add_typer(jobs_app, name="jobs")`` and
``app.command("worker")(worker_command)``.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer
from rich.table import Table

from paydesk.cli.common import clear_errors, console, database, fail, settings_or_exit
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.db.uow import unit_of_work
from paydesk.jobs import service
from paydesk.jobs.models import JobStatus
from paydesk.jobs.worker import JobModuleError, Worker

LAST_ERROR_CHARS_SHOWN = 60

jobs_app = typer.Typer(help="Inspect and retry background jobs.", no_args_is_help=True)


@jobs_app.command("list")
@clear_errors
def list_command(
    status: JobStatus | None = typer.Option(None, "--status", help="Only jobs in this status."),
    kind: str | None = typer.Option(None, "--kind", help="Only jobs of this kind."),
    merchant: str | None = typer.Option(None, "--merchant", help="Only this merchant's jobs."),
    limit: int = typer.Option(
        PAGE_SIZE_DEFAULT, "--limit", min=1, max=PAGE_SIZE_MAX, help="Jobs per page."
    ),
    after: str | None = typer.Option(None, "--after", help="Start after this job id."),
) -> None:
    """List jobs, oldest first."""
    db = database()
    try:
        with unit_of_work(db, read_only=True) as session:
            page = service.list_jobs(
                session,
                status=status.value if status is not None else None,
                merchant_id=merchant,
                kind=kind,
                limit=limit,
                after_id=after,
            )
    finally:
        db.dispose()
    if not page.items:
        console.print("no jobs")
        return
    table = Table("id", "kind", "merchant", "status", "attempts", "run at", "last error")
    for job in page.items:
        error = job.last_error or ""
        if len(error) > LAST_ERROR_CHARS_SHOWN:
            error = error[: LAST_ERROR_CHARS_SHOWN - 1] + "…"
        table.add_row(
            job.id,
            job.kind,
            job.merchant_id or "-",
            job.status,
            f"{job.attempts}/{job.attempts_max}",
            job.run_at.isoformat(timespec="seconds"),
            error,
        )
    console.print(table)
    if page.has_more:
        console.print(f"more: --after {page.items[-1].id}")


@jobs_app.command("retry")
@clear_errors
def retry_command(job_id: str = typer.Argument(..., help="The dead or failed job.")) -> None:
    """Run a dead job (or a failed one waiting for its retry) again now."""
    db = database()
    try:
        with unit_of_work(db) as session:
            job = service.retry_job(session, job_id)
    finally:
        db.dispose()
    console.print(f"job {job.id} ({job.kind}) is pending and will run again now")


def worker_command(
    once: bool = typer.Option(False, "--once", help="Run one batch of due jobs, then exit."),
    worker_id: str | None = typer.Option(
        None, "--worker-id", help="Name in locked_by (default host:pid:random)."
    ),
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C; the current job finishes first."""
    settings = settings_or_exit()
    db = database()
    try:
        worker = Worker(db, settings, worker_id)
    except (JobModuleError, ValueError) as exc:
        db.dispose()
        raise fail(str(exc), 2) from None
    try:
        if once:
            ran = worker.run_once()
            console.print(f"ran {ran} job(s)")
            return
        stop_event = threading.Event()
        _stop_on_signals(stop_event)
        worker.run_forever(stop_event)
    finally:
        db.dispose()


def _stop_on_signals(stop_event: threading.Event) -> None:
    """First SIGTERM/SIGINT: finish the current job and exit. A second one: exit at once."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop_event.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
