"""``paydesk``: serve, worker, migrate, demo, and the operator's commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from paydesk.channels.accounts import registry
from paydesk.cli.channels import channels_app
from paydesk.cli.common import console, database, fail, settings_or_exit
from paydesk.cli.features import features_app
from paydesk.cli.fees import fees_app
from paydesk.cli.fx import fx_app
from paydesk.cli.jobs import jobs_app, worker_command
from paydesk.cli.merchants import apps_app, keys_app, merchants_app
from paydesk.cli.routing import routing_app
from paydesk.cli.wallet import ledger_app, wallet_app
from paydesk.cli.webhooks import webhooks_app
from paydesk.core.logging import configure_logging
from paydesk.db import migrate as migrations
from paydesk.db.uow import unit_of_work

if TYPE_CHECKING:
    from paydesk.demo import DemoKeys

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
app.add_typer(routing_app, name="routing")
app.add_typer(fx_app, name="fx")
app.add_typer(features_app, name="features")
app.add_typer(fees_app, name="fees")
app.add_typer(webhooks_app, name="webhooks")
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
    """Create the demo merchant, its app and sandbox channel accounts, and print fresh demo keys
    (earlier ones are revoked)."""
    from paydesk.demo import seed
    from paydesk.sandbox import credentials as sandbox_credentials

    settings = settings_or_exit()
    db = database()
    if not migrations.is_current(db):
        raise fail("the database is not migrated: run `paydesk migrate` first")
    sandbox = None
    if settings.sandbox_enabled:
        try:
            sandbox = sandbox_credentials.load_or_create(settings.data_dir)
        except sandbox_credentials.SandboxCredentialsError as exc:
            raise fail(str(exc)) from None
    with unit_of_work(db) as session:
        keys = seed(session, sandbox=sandbox, secret=settings.secret())
    verb = "created" if keys.created else "found"
    console.print(f"Demo merchant {verb}: [bold]{keys.merchant.name}[/bold] ({keys.merchant.id})")
    console.print(f"Demo app: {keys.app.name} ({keys.app.id})")
    console.print("Keys (shown once; earlier demo keys were revoked):")
    console.print(f"  merchant test key: [green]{keys.test_key}[/green]")
    console.print(f"  platform admin key: [green]{keys.admin_key}[/green]")
    _print_quick_start(settings.public_url, settings.sandbox_base_url, keys)


def _print_quick_start(url: str, sandbox_url: str | None, keys: DemoKeys) -> None:
    def say(line: str = "") -> None:  # copied into a shell: no markup, no wrapping
        console.print(line, markup=False, highlight=False)

    if not keys.sandbox_accounts:
        say("Sandbox disabled (PAYDESK_SANDBOX_ENABLED=false): no sandbox channel accounts.")
        return
    say(f"Sandbox channel accounts (simulators served by this Paydesk at {sandbox_url}):")
    for ensured in keys.sandbox_accounts.values():
        account = ensured.account
        identity = registry.spec_of(account.channel).identity_fields
        shown = " ".join(f"{k}={account.public_fields.get(k)}" for k in identity)
        say(f"  {account.channel:<9} {account.id}  {account.name!r} ({ensured.outcome}) {shown}")
    say()
    say("Try it once `paydesk serve` runs (docs/sandbox.md):")
    say(f"  URL={url}")
    say(f"  KEY={keys.test_key}")
    auth = '-H "Authorization: Bearer $KEY" -H "Content-Type: application/json"'
    order = (
        '{"merchant_order_no": "demo-1", "amount": 100, "currency": "CNY", "subject": "Demo", '
        f'"notify_url": "{sandbox_url}/webhook-inbox"}}'
    )
    say(f"  curl -X POST $URL/v1/orders {auth} -d '{order}'")
    say("  # a new merchant_order_no for each order; the answer's id is the order id")
    say(f"""  curl -X POST $URL/v1/orders/<id>/pay {auth} -d '{{"method": "wechat_native"}}'""")
    say("  # the answer's action.qr_code is the simulator's pay page: open it in a browser and")
    say("  # press Pay; the channel notifies Paydesk, and the order is paid")
    say('  curl $URL/v1/orders/<id> -H "Authorization: Bearer $KEY"   # status: succeeded')
    say(f"  webhook inbox (the order's notify_url): {sandbox_url}/webhook-inbox")


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

    # --host/--port win over the environment, and the default public URL follows them.
    bind = {name: value for name, value in (("host", host), ("port", port)) if value}
    settings = settings_or_exit(**bind)
    configure_logging(settings.log_level, settings.log_format)
    db = database()
    if not migrations.is_current(db):
        raise fail("the database is not migrated: run `paydesk migrate` first")
    bind_host, bind_port = settings.host, settings.port
    application = create_app(settings, db, run_worker=worker)
    base = f"http://{bind_host}:{bind_port}"
    console.print(f"Paydesk on [bold]{base}[/bold]")
    console.print(f"  API docs: {base}/docs   OpenAPI: {base}/openapi.json")
    console.print(f"  health:   {base}/healthz   metrics: {base}/metrics")
    console.print(f"  try:      curl -H 'Authorization: Bearer <key>' {base}/v1/merchant")
    if settings.sandbox_base_url:
        console.print(
            f"  sandbox:  {settings.sandbox_base_url}/ (channel simulators, webhook inbox)"
        )
    uvicorn.run(application, host=bind_host, port=bind_port, log_config=None, access_log=False)


def main() -> None:
    app()
