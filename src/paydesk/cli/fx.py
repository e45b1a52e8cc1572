"""``paydesk fx``: record and list exchange rates (docs/fx.md)."""

from __future__ import annotations

from datetime import datetime

import typer

from paydesk.cli.common import clear_errors, console, database, fail
from paydesk.db.uow import unit_of_work
from paydesk.fx import service

fx_app = typer.Typer(help="Exchange rates.", no_args_is_help=True)


@fx_app.command("set-rate")
@clear_errors
def fx_set_rate(
    base: str = typer.Argument(..., help="The currency of 1 unit: USD."),
    quote: str = typer.Argument(..., help="The currency it is worth: CNY."),
    rate: str = typer.Argument(..., help="How much quote 1 base is worth: 7.1234."),
    source: str = typer.Option(..., help="Who said it: ecb, bank-of-china, manual:ops..."),
    as_of: str | None = typer.Option(None, help="Valid from (ISO 8601 with zone); default now."),
) -> None:
    """Record a rate; conversions use the latest one not older than the merchant allows."""
    valid_from = None
    if as_of is not None:
        try:
            valid_from = datetime.fromisoformat(as_of)
        except ValueError:
            raise fail(f"--as-of {as_of!r} is not an ISO 8601 time") from None
    with unit_of_work(database()) as session:
        record = service.record_rate(
            session, base=base, quote=quote, rate=rate, source=source, as_of=valid_from
        )
        console.print(
            f"{record.id}: 1 {record.base} = {record.rate} {record.quote}"
            f" ({record.source}, from {record.as_of.isoformat()})"
        )


@fx_app.command("rates")
@clear_errors
def fx_rates(
    base: str | None = typer.Option(None),
    quote: str | None = typer.Option(None),
    limit: int = typer.Option(20),
) -> None:
    """The latest rates recorded, newest first."""
    with unit_of_work(database(), read_only=True) as session:
        for record in service.list_rates(session, base, quote, limit):
            console.print(
                f"{record.id}  1 {record.base} = {record.rate} {record.quote}"
                f"  {record.source}  {record.as_of.isoformat()}"
            )
