"""``paydesk fees``: fee agreements with channel accounts and merchants (docs/fees.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from paydesk.cli.common import (
    clear_errors,
    console,
    database,
    fail,
    period,
    read_json_object,
)
from paydesk.db.uow import unit_of_work
from paydesk.fees import events, remitting, reports, service
from paydesk.fees.records import FeeRun
from paydesk.payments import fee_flow, fee_recompute, fee_schedule

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
    document = read_json_object(agreement_file, DOCUMENT_BYTES_MAX)
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


@fees_app.command("report")
@clear_errors
def fees_report(
    start: str = typer.Option(..., "--from", help="ISO 8601 with a zone, inclusive."),
    end: str = typer.Option(..., "--to", help="ISO 8601 with a zone, exclusive."),
    by: reports.GroupBy = typer.Option(reports.GroupBy.DAY, "--by"),
    merchant: str | None = typer.Option(None, help="One merchant; default every one."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on standard output."),
) -> None:
    """Fee income, channel cost and margin."""
    start_at, end_at = period(start, end)
    with unit_of_work(database(), read_only=True) as session:
        rows = reports.report(session, start=start_at, end=end_at, by=by, merchant_id=merchant)
    if as_csv:
        typer.echo(reports.to_csv(rows), nl=False)
        return
    for row in rows:
        console.print(
            f"{row.group}  {row.currency}  income {row.fee_income}  cost {row.channel_cost}"
            f"  margin {row.margin}  passed through {row.passed_through}"
            f"  ({row.charges} charges, {row.unmatched} unmatched)"
        )


@fees_app.command("recompute")
@clear_errors
def fees_recompute(
    party_type: str | None = typer.Option(None, help="channel or merchant (a new run)."),
    party_id: str | None = typer.Option(None, help="The channel account or merchant id."),
    start: str | None = typer.Option(None, "--from", help="ISO 8601 with a zone, inclusive."),
    end: str | None = typer.Option(None, "--to", help="ISO 8601 with a zone, exclusive."),
    resume: str | None = typer.Option(None, help="Resume the run with this id."),
) -> None:
    """Price a party's payments of a period again under its agreements now and post the
    differences as adjustments; stopped, it resumes with --resume RUN."""
    db = database()
    if resume is not None:
        run_id = resume
    else:
        if party_type is None or party_id is None or start is None or end is None:
            raise fail("give --party-type, --party-id, --from and --to (or --resume RUN)")
        start_at, end_at = period(start, end)
        with unit_of_work(db) as session:
            run_id = fee_recompute.start(
                session,
                party_type=party_type,
                party_id=party_id,
                period_start=start_at,
                period_end=end_at,
            ).id
    with unit_of_work(db, read_only=True) as session:
        run = session.get(FeeRun, run_id)
        if run is None:
            raise fail(f"no fee run {run_id}")
        total = run.processed + fee_recompute.remaining(session, run)
    console.print(f"run {run_id}: {total} payments (resume with --resume {run_id})")
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("recomputing", total=total or 1, completed=run.processed)
        done = fee_recompute.run_to_end(
            db, run_id, on_batch=lambda r: progress.update(task, completed=r.processed)
        )
    console.print(
        f"run {run_id} done: {done.processed} payments, {done.adjusted} adjusted by"
        f" {done.adjustment_minor:+d} in all, {done.unmatched} matching no entry"
    )


@fees_app.command("close-period")
@clear_errors
def fees_close_period(
    party_type: str = typer.Option(..., help="channel or merchant."),
    party_id: str = typer.Option(..., help="The channel account or merchant id."),
    start: str = typer.Option(..., "--from", help="ISO 8601 with a zone, inclusive."),
    end: str = typer.Option(..., "--to", help="ISO 8601 with a zone, exclusive."),
) -> None:
    """Close a period of graduated and volume entries: post the final fee less the
    provisional ones, once."""
    start_at, end_at = period(start, end)
    closed = fee_recompute.close_period(
        database(),
        party_type=party_type,
        party_id=party_id,
        period_start=start_at,
        period_end=end_at,
    )
    if not closed:
        console.print("no graduated or volume entry priced a payment of the period")
    for item in closed:
        console.print(
            f"{item.agreement}/{item.entry}: adjust {item.adjustment_minor:+d} {item.currency}"
            f" ({item.text})"
        )


@fees_app.command("event")
@clear_errors
def fees_event(
    merchant: str = typer.Option(..., help="Whose event it is."),
    event_file: Path = typer.Option(..., "--file", help="The event, one JSON object."),
) -> None:
    """Charge the fee and cost of a billable event (a verification, a payout, ...); the same
    reference again replays."""
    event = events.BillableEvent.model_validate(read_json_object(event_file, DOCUMENT_BYTES_MAX))
    with unit_of_work(database()) as session:
        event_id, charges = events.charge_event(
            session, merchant, event, fee_flow.books(session, merchant)
        )
        lines = [
            f"  {c.kind} {c.status} {c.amount_minor} {c.currency}: {c.explanation.get('text')}"
            for c in charges
        ]
    console.print(f"{event_id}: {len(lines)} charges")
    for line in lines:
        console.print(line)


@fees_app.command("remittances")
@clear_errors
def fees_remittances(
    start: str = typer.Option(..., "--from", help="ISO 8601 with a zone, inclusive."),
    end: str = typer.Option(..., "--to", help="ISO 8601 with a zone, exclusive."),
    merchant: str | None = typer.Option(None, help="One merchant; default every one."),
) -> None:
    """Costs remitted to their payees (made in the period)."""
    start_at, end_at = period(start, end)
    with unit_of_work(database(), read_only=True) as session:
        rows = remitting.list_remittances(session, merchant_id=merchant, start=start_at, end=end_at)
        lines = [
            f"{r.id}  {r.merchant_id}  {r.payee} via {r.channel_account_id}  {r.schedule}"
            f"  {r.period_key}  {r.amount_minor:+d} {r.currency} by {r.method}"
            for r in rows
        ]
    for line in lines:
        console.print(line)


@fees_app.command("run-schedule")
@clear_errors
def fees_run_schedule() -> None:
    """Do now what the hourly job does: remit ended days and months, close ended months."""
    with unit_of_work(database()) as session:
        done = fee_schedule.run_schedule(session)
    console.print(
        f"{done.remitted} remittances ({done.remitted_minor:+d} in all),"
        f" {len(done.closed)} months closed"
    )
    for party_type, party_id, month in done.closed:
        console.print(f"  closed {party_type} {party_id} {month}")
