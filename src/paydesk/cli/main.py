"""``paydesk``: serve, worker, migrate, demo, and the operator's commands."""

from __future__ import annotations

import typer

from paydesk.cli.channels import channels_app
from paydesk.cli.common import console, database, fail, settings_or_exit
from paydesk.cli.jobs import jobs_app, worker_command
from paydesk.cli.merchants import apps_app, keys_app, merchants_app
from paydesk.cli.wallet import ledger_app, wallet_app
from paydesk.core.logging import configure_logging
from paydesk.db import migrate as migrations
from paydesk.db.uow import unit_of_work

app = typer.Typer(
    name="paydesk",
    help="Paydesk: a self-hosted billing and payment platform.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(merchants_app, name="merchants")
app.add_typer(apps_app, name="apps")
app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")
app.add_typer(wallet_app, name="wallet")
app.add_typer(ledger_app, name="ledger")
app.add_typer(channels_app, name="channels")
app.command("worker", help="Run due jobs until stopped (Ctrl-C finishes the current job).")(
    worker_command
)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (SQLite or PostgreSQL)."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    db = database()
    before = migrations.current_revision(db)
    migrations.upgrade(db)
    after = migrations.current_revision(db)
    state = "already current" if before == after else f"{before or 'empty'} -> {after}"
    console.print(f"database migrated ({state}): {db.engine.url.render_as_string()}")


@app.command()
def demo() -> None:
    """Create the demo merchant and app, and print fresh demo keys (earlier ones are revoked)."""
    from paydesk.demo import seed

    db = database()
    if not migrations.is_current(db):
        raise fail("the database is not migrated: run `paydesk migrate` first")
    with unit_of_work(db) as session:
        keys = seed(session)
    verb = "created" if keys.created else "found"
    console.print(f"Demo merchant {verb}: [bold]{keys.merchant.name}[/bold] ({keys.merchant.id})")
    console.print(f"Demo app: {keys.app.name} ({keys.app.id})")
    console.print("Keys (shown once; earlier demo keys were revoked):")
    console.print(f"  merchant test key: [green]{keys.test_key}[/green]")
    console.print(f"  platform admin key: [green]{keys.admin_key}[/green]")


@app.command()
def serve(
    host: str = typer.Option(None, help="Default: PAYDESK_HOST or 127.0.0.1."),
    port: int = typer.Option(None, help="Default: PAYDESK_PORT or 8000."),
    worker: bool = typer.Option(
        None, "--worker/--no-worker", help="Run the job worker in this process."
    ),
) -> None:
    """Serve the API (and, by default on SQLite, the job worker)."""
    import uvicorn

    from paydesk.api.app import create_app

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)
    db = database()
    if not migrations.is_current(db):
        raise fail("the database is not migrated: run `paydesk migrate` first")
    bind_host = host or settings.host
    bind_port = port or settings.port
    application = create_app(settings, db, run_worker=worker)
    base = f"http://{bind_host}:{bind_port}"
    console.print(f"Paydesk on [bold]{base}[/bold]")
    console.print(f"  API docs: {base}/docs   OpenAPI: {base}/openapi.json")
    console.print(f"  health:   {base}/healthz   metrics: {base}/metrics")
    console.print(f"  try:      curl -H 'Authorization: Bearer <key>' {base}/v1/merchant")
    uvicorn.run(application, host=bind_host, port=bind_port, log_config=None, access_log=False)


def main() -> None:
    app()
