"""``paydesk merchants|apps|keys``: the operator's commands for merchants and their keys."""

from __future__ import annotations

import typer
from rich.table import Table

from paydesk.cli.common import clear_errors, console, database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import auth, service
from paydesk.merchants.models import KeyMode, MerchantKind

ACTOR = "cli"

merchants_app = typer.Typer(help="Create and list merchants.", no_args_is_help=True)
apps_app = typer.Typer(help="Create and list a merchant's apps.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@merchants_app.command("create")
@clear_errors
def merchants_create(
    name: str = typer.Argument(..., help="Display name."),
    kind: MerchantKind = typer.Option(MerchantKind.MERCHANT, help="Place in the hierarchy."),
    parent: str = typer.Option(None, help="Parent merchant id (default: the platform)."),
) -> None:
    """Create a merchant under the platform or under another merchant."""
    with unit_of_work(database()) as session:
        merchant = service.create_merchant(
            session, name=name, kind=kind, parent_id=parent, actor=ACTOR
        )
    console.print(f"created {merchant.kind} {merchant.id} ({merchant.name})")


@merchants_app.command("list")
@clear_errors
def merchants_list(
    parent: str = typer.Option(None, help="Only the direct children of this merchant."),
    limit: int = typer.Option(50, help="At most this many (1-100)."),
    after: str = typer.Option(None, help="Continue after this id."),
) -> None:
    """List merchants, in order of creation."""
    with unit_of_work(database(), read_only=True) as session:
        page = service.list_merchants(session, parent_id=parent, after_id=after, limit=limit)
    table = Table("id", "kind", "name", "status", "parent", "depth")
    for merchant in page.items:
        table.add_row(
            merchant.id,
            merchant.kind,
            merchant.name,
            merchant.status,
            merchant.parent_id or "",
            str(merchant.depth),
        )
    console.print(table)
    if page.has_more:
        console.print(f"more: --after {page.items[-1].id}")


@apps_app.command("create")
@clear_errors
def apps_create(merchant: str, name: str) -> None:
    """Create an app for MERCHANT."""
    with unit_of_work(database()) as session:
        app = service.create_app(session, merchant, name, actor=ACTOR)
    console.print(f"created app {app.id} ({app.name}) for {app.merchant_id}")


@apps_app.command("list")
@clear_errors
def apps_list(merchant: str = typer.Option(None, help="Only this merchant's apps.")) -> None:
    """List apps."""
    with unit_of_work(database(), read_only=True) as session:
        page = service.list_apps(session, merchant, limit=100)
    table = Table("id", "merchant", "name")
    for app in page.items:
        table.add_row(app.id, app.merchant_id, app.name)
    console.print(table)


@keys_app.command("create")
@clear_errors
def keys_create(
    merchant: str = typer.Option(None, help="The merchant the key acts for."),
    app: str = typer.Option(None, help="Tie the key to one of the merchant's apps."),
    mode: KeyMode = typer.Option(KeyMode.TEST, help="test (sandbox) or live."),
    label: str = typer.Option("", help="A note to tell keys apart."),
    admin: bool = typer.Option(False, "--admin", help="A platform admin key instead."),
) -> None:
    """Create an API key and print it once."""
    if admin == (merchant is not None):
        raise typer.BadParameter("give either --merchant or --admin")
    with unit_of_work(database()) as session:
        if admin:
            issued = auth.issue_admin_key(session, label=label, actor=ACTOR)
        else:
            issued = auth.issue_key(
                session, merchant_id=merchant, mode=mode, app_id=app, label=label, actor=ACTOR
            )
    console.print(f"created {issued.key.role} key {issued.key.id} ({issued.key.mode})")
    console.print("secret (shown once, store it now):")
    typer.echo(issued.secret)


@keys_app.command("list")
@clear_errors
def keys_list(merchant: str = typer.Option(None, help="Only this merchant's keys.")) -> None:
    """List keys (their prefixes, never their secrets)."""
    with unit_of_work(database(), read_only=True) as session:
        page = auth.list_keys(session, merchant, limit=100)
    table = Table("id", "merchant", "role", "mode", "prefix", "label", "revoked")
    for key in page.items:
        table.add_row(
            key.id,
            key.merchant_id,
            key.role,
            key.mode,
            key.display_prefix,
            key.label,
            key.revoked_at.isoformat() if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
@clear_errors
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once; requests with it fail from now on."""
    with unit_of_work(database()) as session:
        key = auth.revoke_key(session, None, key_id, actor=ACTOR)
    console.print(f"revoked {key.id}")
