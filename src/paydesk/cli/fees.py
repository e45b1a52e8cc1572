"""``paydesk fees``: fee agreements with channel accounts and merchants (docs/fees.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from paydesk.cli.common import clear_errors, console, database, fail
from paydesk.db.uow import unit_of_work
from paydesk.fees import service

fees_app = typer.Typer(help="Fee agreements.", no_args_is_help=True)
DOCUMENT_BYTES_MAX = 512 * 1024


@fees_app.command("add")
@clear_errors
def fees_add(
    party_type: str = typer.Option(..., help="channel (a channel account) or merchant."),
    party_id: str = typer.Option(..., help="The channel account or merchant id."),
    agreement_file: Path = typer.Option(..., "--file", help="The agreement, one JSON object."),
) -> None:
    """Check and store an agreement; a bad one is refused naming the field."""
    try:
        if agreement_file.stat().st_size > DOCUMENT_BYTES_MAX:
            raise fail(f"{agreement_file}: larger than {DOCUMENT_BYTES_MAX} bytes")
        document = json.loads(agreement_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{agreement_file}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{agreement_file}: not a JSON file ({exc})") from None
    if not isinstance(document, dict):
        raise fail(f"{agreement_file}: must hold one JSON object")
    with unit_of_work(database()) as session:
        row = service.add_agreement(
            session, party_type=party_type, party_id=party_id, document=document
        )
    console.print(f"{row.id}: agreement {row.name!r} with {row.party_type} {row.party_id}")


@fees_app.command("list")
@clear_errors
def fees_list(
    party_type: str | None = typer.Option(None), party_id: str | None = typer.Option(None)
) -> None:
    """The agreements stored."""
    with unit_of_work(database(), read_only=True) as session:
        for row in service.list_agreements(session, party_type, party_id):
            document = row.document
            console.print(
                f"{row.id}  {row.party_type} {row.party_id}  {row.name!r}  {row.status}"
                f"  {document.get('currency')} from {document.get('valid_from')}"
                f" to {document.get('valid_to') or '-'}"
            )


@fees_app.command("retire")
@clear_errors
def fees_retire(agreement_id: str) -> None:
    """Stop an agreement from pricing anything (its charges stay)."""
    with unit_of_work(database()) as session:
        row = service.retire_agreement(session, agreement_id)
    console.print(f"{row.id}: retired")
