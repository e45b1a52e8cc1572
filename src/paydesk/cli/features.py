"""``paydesk features``: feature flags for gray release (docs/features.md)."""

from __future__ import annotations

import typer

from paydesk.cli.common import clear_errors, console, database
from paydesk.db.uow import unit_of_work
from paydesk.features import service

features_app = typer.Typer(help="Feature flags for gray release.", no_args_is_help=True)


@features_app.command("list")
@clear_errors
def features_list() -> None:
    """Every feature, its default, and who has it."""
    with unit_of_work(database(), read_only=True) as session:
        for flag in service.all_flags(session):
            who = "everyone" if flag.enabled_for_all else "whitelist"
            console.print(
                f"{flag.name}: {who} (default {'on' if flag.default else 'off'});"
                f" merchants {flag.merchants or '-'}; users {flag.users or '-'}"
            )


@features_app.command("set")
@clear_errors
def features_set(
    name: str = typer.Argument(...),
    enabled_for_all: bool = typer.Option(False, "--all/--whitelist", help="On for everyone?"),
    merchant: list[str] = typer.Option([], help="A whitelisted merchant (repeat)."),
    user: list[str] = typer.Option([], help="A whitelisted user (repeat)."),
) -> None:
    """Replace a feature's flag."""
    with unit_of_work(database()) as session:
        flag = service.set_flag(
            session, name, enabled_for_all=enabled_for_all, merchants=merchant, users=user
        )
    console.print(f"{flag.name}: {'everyone' if flag.enabled_for_all else 'whitelist'}")
