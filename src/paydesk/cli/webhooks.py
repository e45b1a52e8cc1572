"""``paydesk webhooks``: the operator's view of merchants' webhooks, across merchants.

``endpoints`` and ``events`` list; ``show`` prints an event with every delivery and every
attempt; ``replay`` sends an event again. No command prints a signing secret.
"""

from __future__ import annotations

import json

import typer

from paydesk.cli.common import clear_errors, console, database
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.db.uow import unit_of_work
from paydesk.webhooks import service

ACTOR = "cli"
DATA_CHARS_SHOWN = 2000

webhooks_app = typer.Typer(
    help="Merchants' webhook endpoints, events and their delivery log; replay events.",
    no_args_is_help=True,
)


def _say(line: str) -> None:
    # Plain lines, not tables: ids and URLs must survive a narrow terminal whole.
    console.print(line, markup=False, highlight=False)


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"


@webhooks_app.command("endpoints")
@clear_errors
def endpoints_command(
    merchant: str = typer.Option(None, help="Only this merchant's endpoints."),
    live: bool = typer.Option(None, "--live/--test", help="Only live-mode or test-mode ones."),
    limit: int = typer.Option(PAGE_SIZE_DEFAULT, min=1, max=PAGE_SIZE_MAX, help="Per page."),
    after: str = typer.Option(None, help="Continue after this id."),
) -> None:
    """List webhook endpoints (not deleted ones), oldest first."""
    db = database()
    try:
        with unit_of_work(db, read_only=True) as session:
            page = service.list_endpoints(session, merchant, live, after_id=after, limit=limit)
    finally:
        db.dispose()
    for endpoint in page.items:
        _say(
            f"{endpoint.id}  {endpoint.merchant_id}  {_mode(endpoint.livemode)}  "
            f"{endpoint.status}  {endpoint.url}  types={','.join(endpoint.event_types)}  "
            f"secret={endpoint.secret_display}…"
        )
    if not page.items:
        _say("no webhook endpoints")
    if page.has_more:
        _say(f"more: --after {page.items[-1].id}")


@webhooks_app.command("events")
@clear_errors
def events_command(
    merchant: str = typer.Option(None, help="Only this merchant's events."),
    live: bool = typer.Option(None, "--live/--test", help="Only live-mode or test-mode ones."),
    event_type: str = typer.Option(None, "--type", help="Only events of this type."),
    limit: int = typer.Option(PAGE_SIZE_DEFAULT, min=1, max=PAGE_SIZE_MAX, help="Per page."),
    after: str = typer.Option(None, help="Continue after this id."),
) -> None:
    """List webhook events, oldest first."""
    db = database()
    try:
        with unit_of_work(db, read_only=True) as session:
            page = service.list_events(
                session,
                merchant,
                live,
                event_type=event_type,
                after_id=after,
                limit=limit,
            )
    finally:
        db.dispose()
    for event in page.items:
        _say(
            f"{event.id}  {event.merchant_id}  {_mode(event.livemode)}  {event.type}  "
            f"{event.created_at.isoformat(timespec='seconds')}"
        )
    if not page.items:
        _say("no webhook events")
    if page.has_more:
        _say(f"more: --after {page.items[-1].id}")


@webhooks_app.command("show")
@clear_errors
def show_command(event_id: str = typer.Argument(..., help="The event (evt_...).")) -> None:
    """Show an event, its data, and every delivery with every attempt."""
    db = database()
    try:
        with unit_of_work(db, read_only=True) as session:
            detail = service.event_detail(session, None, None, event_id)
    finally:
        db.dispose()
    event = detail.event
    _say(f"event {event.id}  {event.type}  {_mode(event.livemode)}  merchant {event.merchant_id}")
    _say(f"  created {event.created_at.isoformat(timespec='seconds')}")
    data = json.dumps(event.data, sort_keys=True, ensure_ascii=False)
    if len(data) > DATA_CHARS_SHOWN:
        data = data[: DATA_CHARS_SHOWN - 1] + "…"
    _say(f"  data {data}")
    if not detail.deliveries:
        _say("  no deliveries (no endpoint took this type, and no notify_url)")
    for item in detail.deliveries:
        delivery = item.delivery
        target = delivery.endpoint_id or "notify_url"
        _say(
            f"  delivery {delivery.id}  {target}  {delivery.url}  {delivery.status}  "
            f"attempts={delivery.attempts}"
        )
        if delivery.next_attempt_at is not None and delivery.status != "succeeded":
            _say(f"    next attempt {delivery.next_attempt_at.isoformat(timespec='seconds')}")
        if delivery.last_error and not item.attempts:
            _say(f"    {delivery.last_error}")
        for attempt in item.attempts:
            answer = f"HTTP {attempt.status_code}" if attempt.status_code else "no answer"
            error = f"  {attempt.error}" if attempt.error else ""
            _say(
                f"    #{attempt.attempt}  {attempt.at.isoformat(timespec='seconds')}  "
                f"{answer}  {attempt.duration_ms} ms{error}"
            )
        if delivery.last_response_excerpt:
            excerpt = delivery.last_response_excerpt.replace("\n", " ")[:200]
            _say(f"    last response: {excerpt}")


@webhooks_app.command("replay")
@clear_errors
def replay_command(
    event_id: str = typer.Argument(..., help="The event (evt_...)."),
    endpoint: str = typer.Option(None, help="Only to this endpoint (whe_...)."),
) -> None:
    """Send an event again: to one endpoint, or to every current target."""
    db = database()
    try:
        with unit_of_work(db) as session:
            deliveries = service.replay_event(
                session, None, None, event_id, endpoint_id=endpoint, actor=ACTOR
            )
            made = [(d.id, d.endpoint_id or "notify_url", d.url) for d in deliveries]
    finally:
        db.dispose()
    _say(f"replaying {event_id}: {len(made)} new deliveries, sent by the worker")
    for delivery_id, target, url in made:
        _say(f"  {delivery_id}  {target}  {url}")
