"""``paydesk routing``: show and set a merchant's routing policy (docs/routing.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from paydesk.channels.router import service
from paydesk.cli.common import clear_errors, console, database, read_json_object
from paydesk.db.uow import unit_of_work

ACTOR = "cli"
POLICY_FILE_BYTES_MAX = 256 * 1024

routing_app = typer.Typer(help="A merchant's routing policy.", no_args_is_help=True)


@routing_app.command("show")
@clear_errors
def routing_show(merchant: str = typer.Option(..., help="The merchant.")) -> None:
    """Print the merchant's policy as JSON (version 0: the default, none stored)."""
    with unit_of_work(database(), read_only=True) as session:
        policy, version = service.get_policy(session, merchant)
    document = {"version": version, "policy": policy.model_dump(mode="json", by_alias=True)}
    console.print_json(json.dumps(document))


@routing_app.command("set")
@clear_errors
def routing_set(
    merchant: str = typer.Option(..., help="The merchant."),
    policy_file: Path = typer.Option(..., "--file", help="The whole policy, one JSON object."),
) -> None:
    """Check and store a policy; a bad one is refused with the reason and changes nothing."""
    document = read_json_object(policy_file, POLICY_FILE_BYTES_MAX)
    with unit_of_work(database()) as session:
        _, version = service.put_policy(session, merchant, document, actor=ACTOR)
    console.print(f"routing policy of {merchant} stored: version {version}")
