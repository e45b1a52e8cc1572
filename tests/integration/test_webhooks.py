"""Merchant webhooks end to end, on SQLite and PostgreSQL: the API, emit in the caller's
transaction, the delivery job against a real HTTP receiver (uvicorn on loopback), retries with
a moved clock (no sleeping), the delivery log, replays, the notify secret, isolation.

The receiver verifies every signature with ``paydesk.webhooks.signing.verify``, as a merchant
would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydesk.cli.webhooks import webhooks_app
from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job, JobStatus
from paydesk.jobs.worker import Worker
from paydesk.merchants import auth
from paydesk.merchants.models import KeyMode
from paydesk.webhooks import delivery as delivery_module
from paydesk.webhooks import service
from paydesk.webhooks.events import DELIVER_JOB, EventType, emit
from paydesk.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from paydesk.webhooks.signing import SignatureMismatch, verify
from tests.integration.conftest import Tenant, World
from tests.support.jobs import MovableClock
from tests.support.server import serving

ENDPOINTS = "/v1/webhook-endpoints"
EVENTS = "/v1/webhook-events"
NOTIFY = "/v1/webhook-notify-secret"
ORDER = {"object": "order", "id": "ord_1", "status": "succeeded", "amount": 100}


# --- the receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """The (test) clock's unix time when it arrived."""

    @property
    def signature(self) -> str:
        return self.headers["paydesk-signature"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers the statuses in ``script`` first, then 200."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay_s: float = 0.0

    def reset(self) -> None:
        self.requests.clear()
        self.script.clear()
        self.delay_s = 0.0

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def hook(path: str, request: Request) -> Response:
            body = await request.body()
            self.requests.append(
                Received(path, dict(request.headers), body, clock.now().timestamp())
            )
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            status = self.script.pop(0) if self.script else 200
            headers = {"Location": self.url("elsewhere")} if 300 <= status < 400 else None
            return Response(f"answer {status}", status_code=status, headers=headers)

        return app


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    with serving(receiver.app()) as base_url:
        receiver.base_url = base_url
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Iterator[Receiver]:
    receiver_server.reset()
    yield receiver_server
    receiver_server.reset()


@pytest.fixture
def moving_clock() -> Iterator[MovableClock]:
    movable = MovableClock()
    clock.set_clock(movable)
    try:
        yield movable
    finally:
        clock.set_clock(None)


@pytest.fixture
def worker(db: Database, client: TestClient) -> Worker:
    """A worker with the API's settings, so both use the same server secret."""
    settings = client.app.state.services.settings  # type: ignore[attr-defined]
    return Worker(db, settings, "webhook-worker")


def drain(worker: Worker) -> None:
    for _ in range(20):
        if worker.run_once() == 0:
            return
    raise AssertionError("jobs still due after 20 rounds")


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The body of a request that passes ``verify`` when it arrived (by the test clock)."""
    verify(secret, received.signature, received.body, now=received.at)
    document: dict[str, Any] = received.json()
    return document


# --- helpers ---------------------------------------------------------------------------------


def create_endpoint(client: TestClient, tenant: Tenant, url: str, **body: Any) -> dict[str, Any]:
    response = client.post(ENDPOINTS, json={"url": url, **body}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def emit_event(
    db: Database,
    tenant: Tenant,
    event_type: EventType = EventType.ORDER_SUCCEEDED,
    *,
    notify_url: str | None = None,
    livemode: bool = False,
) -> str:
    with unit_of_work(db) as session:
        event = emit(
            session,
            merchant_id=tenant.merchant_id,
            livemode=livemode,
            type=event_type,
            data=ORDER,
            notify_url=notify_url,
        )
        return event.id


def event_detail(client: TestClient, tenant: Tenant, event_id: str) -> dict[str, Any]:
    response = client.get(f"{EVENTS}/{event_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


def count(db: Database, model: Any) -> int:
    with unit_of_work(db, read_only=True) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def delivery_jobs(db: Database) -> list[Job]:
    with unit_of_work(db, read_only=True) as session:
        return list(session.scalars(sa.select(Job).where(Job.kind == DELIVER_JOB)))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- delivery --------------------------------------------------------------------------------


def test_an_event_is_delivered_once_with_a_valid_signature(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    endpoint = create_endpoint(client, world.a, receiver.url("a"), description="main")
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["secret_display"] == secret[:10]
    assert (endpoint["status"], endpoint["event_types"], endpoint["livemode"]) == (
        "enabled",
        ["*"],
        False,
    )

    event_id = emit_event(db, world.a)
    drain(worker)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    document = verified(secret, got)
    assert document["id"] == event_id and document["type"] == "order.succeeded"
    assert document["livemode"] is False and document["data"] == ORDER
    assert isinstance(document["created"], int)
    assert got.body == json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    assert got.headers["paydesk-event-id"] == event_id
    assert got.headers["paydesk-event-type"] == "order.succeeded"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Paydesk-Webhooks/1"
    with pytest.raises(SignatureMismatch):
        verified("whsec_" + "x" * 43, got)

    detail = event_detail(client, world.a, event_id)
    assert detail["data"] == ORDER and detail["type"] == "order.succeeded"
    [delivery] = detail["deliveries"]
    assert delivery["endpoint_id"] == endpoint["id"] and delivery["url"] == receiver.url("a")
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "succeeded",
        1,
        200,
    )
    assert delivery["last_response_excerpt"] == "answer 200"
    assert delivery["succeeded_at"] is not None and delivery["next_attempt_at"] is None
    [attempt] = delivery["attempt_log"]
    assert (attempt["attempt"], attempt["status_code"], attempt["error"]) == (1, 200, None)
    assert attempt["duration_ms"] >= 0
    job = client.get(f"/v1/jobs/{delivery['job_id']}", headers=world.a.headers).json()
    assert (job["kind"], job["status"]) == (DELIVER_JOB, "succeeded")

    drain(worker)  # nothing more to send
    assert len(receiver.requests) == 1
    assert secret not in json.dumps(detail)


def test_failures_are_retried_on_the_schedule_and_logged(
    db: Database,
    client: TestClient,
    world: World,
    receiver: Receiver,
    worker: Worker,
    moving_clock: MovableClock,
) -> None:
    secret = create_endpoint(client, world.a, receiver.url("flaky"))["secret"]
    receiver.script[:] = [500, 500]
    event_id = emit_event(db, world.a)

    for attempt, delay_s in ((1, 60), (2, 300)):
        worker.run_once()
        [delivery] = event_detail(client, world.a, event_id)["deliveries"]
        assert (delivery["status"], delivery["attempts"]) == ("failed_retrying", attempt)
        assert (delivery["last_status_code"], delivery["last_error"]) == (500, "HTTP 500")
        wait_s = (at(delivery["next_attempt_at"]) - moving_clock()).total_seconds()
        assert delay_s * 0.9 <= wait_s <= delay_s * 1.1
        with unit_of_work(db, read_only=True) as session:
            job = session.get(Job, delivery["job_id"])
            assert job is not None and job.status == JobStatus.PENDING
            assert job.run_at == at(delivery["next_attempt_at"])  # one schedule, not two
        assert worker.run_once() == 0  # not due yet
        moving_clock.advance(wait_s)

    worker.run_once()
    assert len(receiver.requests) == 3
    bodies = {received.body for received in receiver.requests}
    assert len(bodies) == 1  # the same event every time
    for received in receiver.requests:  # each signed afresh, all valid
        verified(secret, received)
    stamps = [received.signature.split(",")[0] for received in receiver.requests]
    assert len(set(stamps)) == 3

    [delivery] = event_detail(client, world.a, event_id)["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == (
        "succeeded",
        3,
        None,
    )
    log = [(a["attempt"], a["status_code"], a["error"]) for a in delivery["attempt_log"]]
    assert log == [(1, 500, "HTTP 500"), (2, 500, "HTTP 500"), (3, 200, None)]


def test_the_last_failed_attempt_makes_the_delivery_dead(
    db: Database,
    client: TestClient,
    world: World,
    receiver: Receiver,
    worker: Worker,
    moving_clock: MovableClock,
) -> None:
    create_endpoint(client, world.a, receiver.url("down"))
    receiver.script[:] = [503] * 12
    event_id = emit_event(db, world.a)
    started = moving_clock()
    for _ in range(12):
        assert worker.run_once() >= 1
        [delivery] = event_detail(client, world.a, event_id)["deliveries"]
        if delivery["next_attempt_at"] is not None:
            moving_clock.current = at(delivery["next_attempt_at"])
    span_h = (moving_clock() - started).total_seconds() / 3600
    assert 21 < span_h < 27  # about a day of retries
    assert (delivery["status"], delivery["attempts"]) == ("dead", 12)
    assert delivery["next_attempt_at"] is None and len(delivery["attempt_log"]) == 12
    with unit_of_work(db, read_only=True) as session:
        job = session.get(Job, delivery["job_id"])
        assert job is not None and (job.status, job.attempts) == (JobStatus.DEAD, 12)
    moving_clock.advance(7 * 24 * 3600)
    drain(worker)
    assert len(receiver.requests) == 12


def test_no_answer_and_redirects_are_failed_attempts(
    db: Database,
    client: TestClient,
    world: World,
    receiver: Receiver,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery_module, "TIMEOUT_S", 0.3)
    create_endpoint(client, world.a, receiver.url("slow"))
    receiver.delay_s = 1.5
    slow_id = emit_event(db, world.a)
    worker.run_once()
    [delivery] = event_detail(client, world.a, slow_id)["deliveries"]
    assert delivery["status"] == "failed_retrying" and delivery["last_status_code"] is None
    assert delivery["last_error"] == "timed out after 0.3 s"

    receiver.reset()
    receiver.script[:] = [302]
    redirected_id = emit_event(db, world.a, EventType.ORDER_CLOSED)
    worker.run_once()
    [delivery] = event_detail(client, world.a, redirected_id)["deliveries"]
    assert delivery["last_status_code"] == 302
    assert delivery["last_error"].startswith("HTTP 302 (redirects are not followed")
    assert [r.path for r in receiver.requests] == ["slow"]  # the Location was not followed


def test_emit_in_a_rolled_back_transaction_sends_nothing(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    create_endpoint(client, world.a, receiver.url("a"))
    with pytest.raises(RuntimeError), unit_of_work(db) as session:
        emit(
            session,
            merchant_id=world.a.merchant_id,
            livemode=False,
            type=EventType.ORDER_SUCCEEDED,
            data=ORDER,
            notify_url=receiver.url("notify"),
        )
        raise RuntimeError("the payment that caused the event failed")
    drain(worker)
    assert receiver.requests == []
    assert count(db, WebhookEvent) == 0 and count(db, WebhookDelivery) == 0
    assert delivery_jobs(db) == []
    assert client.get(EVENTS, headers=world.a.headers).json()["data"] == []


def test_endpoints_get_the_types_they_subscribed_to(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    create_endpoint(client, world.a, receiver.url("closed"), event_types=["order.closed"])
    create_endpoint(client, world.a, receiver.url("all"))
    disabled = create_endpoint(client, world.a, receiver.url("disabled"))
    update = client.post(
        f"{ENDPOINTS}/{disabled['id']}", json={"enabled": False}, headers=world.a.headers
    )
    assert update.json()["status"] == "disabled"
    create_endpoint(client, world.b, receiver.url("other-merchant"))
    emit_event(db, world.a, EventType.ORDER_SUCCEEDED)
    emit_event(db, world.a, EventType.ORDER_SUCCEEDED, livemode=True)  # no live endpoints
    emit_event(db, world.a, EventType.ORDER_CLOSED)
    drain(worker)
    got = sorted((r.path, r.json()["type"]) for r in receiver.requests)
    assert got == [
        ("all", "order.closed"),
        ("all", "order.succeeded"),
        ("closed", "order.closed"),
    ]


def test_a_disabled_or_deleted_endpoint_makes_pending_deliveries_dead(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    disabled = create_endpoint(client, world.a, receiver.url("d"))
    deleted = create_endpoint(client, world.a, receiver.url("x"))
    event_id = emit_event(db, world.a)
    client.post(f"{ENDPOINTS}/{disabled['id']}", json={"enabled": False}, headers=world.a.headers)
    assert client.delete(f"{ENDPOINTS}/{deleted['id']}", headers=world.a.headers).json() == {
        "id": deleted["id"],
        "deleted": True,
    }
    drain(worker)
    assert receiver.requests == []
    reasons = {
        d["endpoint_id"]: (d["status"], d["last_error"], d["attempts"])
        for d in event_detail(client, world.a, event_id)["deliveries"]
    }
    assert reasons == {
        disabled["id"]: ("dead", "the webhook endpoint is disabled", 0),
        deleted["id"]: ("dead", "the webhook endpoint was deleted", 0),
    }
    jobs = delivery_jobs(db)
    assert {job.status for job in jobs} == {JobStatus.DEAD}
    assert {job.attempts for job in jobs} == {1}


# --- replay ----------------------------------------------------------------------------------


def test_replay_delivers_again(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    first = create_endpoint(client, world.a, receiver.url("one"))
    event_id = emit_event(db, world.a)
    drain(worker)
    second = create_endpoint(client, world.a, receiver.url("two"))

    response = client.post(f"{EVENTS}/{event_id}/replay", headers=world.a.headers)
    assert response.status_code == 200, response.text
    replayed = response.json()["deliveries"]
    assert sorted(d["endpoint_id"] for d in replayed) == sorted([first["id"], second["id"]])
    assert {d["status"] for d in replayed} == {"pending"}
    drain(worker)
    assert [r.path for r in receiver.requests].count("one") == 2
    assert [r.path for r in receiver.requests].count("two") == 1
    verified(second["secret"], receiver.requests[-1])
    assert {r.json()["id"] for r in receiver.requests} == {event_id}

    only = client.post(
        f"{EVENTS}/{event_id}/replay",
        json={"endpoint_id": second["id"]},
        headers={**world.a.headers, "Idempotency-Key": "replay-two"},
    )
    assert [d["endpoint_id"] for d in only.json()["deliveries"]] == [second["id"]]
    again = client.post(
        f"{EVENTS}/{event_id}/replay",
        json={"endpoint_id": second["id"]},
        headers={**world.a.headers, "Idempotency-Key": "replay-two"},
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    drain(worker)
    assert [r.path for r in receiver.requests].count("two") == 2
    detail = event_detail(client, world.a, event_id)
    assert len(detail["deliveries"]) == 4
    assert {d["status"] for d in detail["deliveries"]} == {"succeeded"}

    client.post(f"{ENDPOINTS}/{second['id']}", json={"enabled": False}, headers=world.a.headers)
    refused = client.post(
        f"{EVENTS}/{event_id}/replay", json={"endpoint_id": second["id"]}, headers=world.a.headers
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        409,
        "webhook_endpoint_disabled",
    )


def test_replay_with_no_target_is_refused(db: Database, client: TestClient, world: World) -> None:
    event_id = emit_event(db, world.a)
    response = client.post(f"{EVENTS}/{event_id}/replay", headers=world.a.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "webhook_no_targets")
    assert count(db, WebhookDelivery) == 0


# --- notify_url and its secret ---------------------------------------------------------------


def test_notify_url_deliveries_are_signed_with_the_notify_secret(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    assert client.get(NOTIFY, headers=world.a.headers).json() == {
        "livemode": False,
        "exists": False,
        "secret_display": None,
        "created_at": None,
        "rotated_at": None,
    }
    rolled = client.post(f"{NOTIFY}/roll", headers=world.a.headers)
    assert rolled.status_code == 200, rolled.text
    notify_secret = rolled.json()["secret"]
    shown = client.get(NOTIFY, headers=world.a.headers).json()
    assert shown["exists"] is True and shown["secret_display"] == notify_secret[:10]
    assert "secret" not in shown

    event_id = emit_event(db, world.a, notify_url=receiver.url("orders/notify?o=1"))
    drain(worker)
    [got] = receiver.requests
    assert got.path == "orders/notify"
    assert verified(notify_secret, got)["id"] == event_id
    [delivery] = event_detail(client, world.a, event_id)["deliveries"]
    assert delivery["endpoint_id"] is None and delivery["status"] == "succeeded"
    assert delivery["url"] == receiver.url("orders/notify?o=1")

    new_secret = client.post(f"{NOTIFY}/roll", headers=world.a.headers).json()["secret"]
    assert new_secret != notify_secret
    replayed = client.post(f"{EVENTS}/{event_id}/replay", headers=world.a.headers).json()
    assert [d["endpoint_id"] for d in replayed["deliveries"]] == [None]
    drain(worker)
    latest = receiver.requests[-1]
    verified(new_secret, latest)
    with pytest.raises(SignatureMismatch):
        verified(notify_secret, latest)

    # The other mode has its own secret, and B has none.
    assert client.get(NOTIFY, headers=world.b.headers).json()["exists"] is False


def test_the_notify_secret_is_made_by_the_first_delivery_that_needs_it(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    emit_event(db, world.a, notify_url=receiver.url("n1"))
    emit_event(db, world.a, notify_url=receiver.url("n2"))
    drain(worker)
    assert len(receiver.requests) == 2
    shown = client.get(NOTIFY, headers=world.a.headers).json()
    assert shown["exists"] is True and "secret" not in shown
    server_secret = client.app.state.services.secret  # type: ignore[attr-defined]
    with unit_of_work(db) as session:  # what the merchant gets by rolling it
        made = service.ensure_notify_secret(
            session, world.a.merchant_id, False, server_secret=server_secret
        )
    assert made[:10] == shown["secret_display"]
    for received in receiver.requests:  # both deliveries, one secret
        verified(made, received)


# --- the endpoints API -----------------------------------------------------------------------


def test_endpoint_lifecycle_and_secret_roll(
    db: Database, client: TestClient, world: World, receiver: Receiver, worker: Worker
) -> None:
    a = world.a.headers
    created = create_endpoint(
        client, world.a, receiver.url("v1"), event_types=["order.succeeded"], description=" x "
    )
    endpoint_id = created["id"]
    assert endpoint_id.startswith("whe_") and created["description"] == "x"
    fetched = client.get(f"{ENDPOINTS}/{endpoint_id}", headers=a).json()
    assert "secret" not in fetched and fetched["secret_display"] == created["secret_display"]

    changed = client.post(
        f"{ENDPOINTS}/{endpoint_id}",
        json={"url": receiver.url("v2"), "event_types": ["*"], "description": "new"},
        headers=a,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["url"], changed.json()["event_types"]) == (receiver.url("v2"), ["*"])

    rolled = client.post(f"{ENDPOINTS}/{endpoint_id}/roll-secret", headers=a)
    assert rolled.status_code == 200, rolled.text
    new_secret = rolled.json()["secret"]
    assert new_secret != created["secret"]
    emit_event(db, world.a, EventType.REFUND_SUCCEEDED)
    drain(worker)
    [got] = receiver.requests
    assert got.path == "v2"
    verified(new_secret, got)
    with pytest.raises(SignatureMismatch):
        verified(created["secret"], got)

    with unit_of_work(db, read_only=True) as session:
        stored = session.get(WebhookEndpoint, endpoint_id)
        assert stored is not None and new_secret not in stored.secret_encrypted
        assert stored.secret_encrypted.startswith("v1:")

    page = client.get(ENDPOINTS, params={"limit": 1}, headers=a).json()
    assert [e["id"] for e in page["data"]] == [endpoint_id] and page["has_more"] is False
    assert client.delete(f"{ENDPOINTS}/{endpoint_id}", headers=a).status_code == 200
    gone = client.get(f"{ENDPOINTS}/{endpoint_id}", headers=a)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "webhook_endpoint_not_found")
    assert client.get(ENDPOINTS, headers=a).json()["data"] == []


def test_event_list_pages_and_filters(db: Database, client: TestClient, world: World) -> None:
    ids = [emit_event(db, world.a) for _ in range(3)]
    closed = emit_event(db, world.a, EventType.ORDER_CLOSED)
    page = client.get(EVENTS, params={"limit": 2}, headers=world.a.headers).json()
    assert [e["id"] for e in page["data"]] == ids[:2] and page["has_more"] is True
    rest = client.get(EVENTS, params={"after": page["next_after"]}, headers=world.a.headers).json()
    assert [e["id"] for e in rest["data"]] == [ids[2], closed] and rest["has_more"] is False
    only = client.get(EVENTS, params={"type": "order.closed"}, headers=world.a.headers).json()
    assert [e["id"] for e in only["data"]] == [closed]


# --- isolation and bad input -----------------------------------------------------------------


def test_merchants_see_only_their_own_webhooks(
    db: Database, client: TestClient, world: World
) -> None:
    endpoint = create_endpoint(client, world.a, "https://a.example/hooks")
    event_id = emit_event(db, world.a)
    b = world.b.headers
    assert client.get(ENDPOINTS, headers=b).json()["data"] == []
    assert client.get(EVENTS, headers=b).json()["data"] == []
    for response in (
        client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=b),
        client.post(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": False}, headers=b),
        client.post(f"{ENDPOINTS}/{endpoint['id']}/roll-secret", headers=b),
        client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=b),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "webhook_endpoint_not_found",
        )
    for response in (
        client.get(f"{EVENTS}/{event_id}", headers=b),
        client.post(f"{EVENTS}/{event_id}/replay", headers=b),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "webhook_event_not_found",
        )
    # B's event cannot be replayed to A's endpoint either.
    b_event = emit_event(db, world.b)
    crossed = client.post(
        f"{EVENTS}/{b_event}/replay", json={"endpoint_id": endpoint["id"]}, headers=b
    )
    assert crossed.json()["error"]["code"] == "webhook_endpoint_not_found"

    # A's live key sees A's live mode: not the test-mode endpoint and event.
    with unit_of_work(db) as session:
        live = auth.issue_key(
            session, merchant_id=world.a.merchant_id, mode=KeyMode.LIVE, actor="test"
        ).secret
    live_headers = {"Authorization": f"Bearer {live}"}
    assert client.get(ENDPOINTS, headers=live_headers).json()["data"] == []
    assert client.get(f"{EVENTS}/{event_id}", headers=live_headers).status_code == 404
    live_endpoint = create_endpoint(client, Tenant(world.a.merchant_id, "", live), "https://l.x/")
    assert live_endpoint["livemode"] is True

    admin = client.get(ENDPOINTS, headers=world.admin)
    assert (admin.status_code, admin.json()["error"]["code"]) == (400, "merchant_key_required")
    # A's own view is intact.
    assert client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=world.a.headers).status_code == 200


BAD_CREATES: list[tuple[dict[str, Any], str, str]] = [
    ({"url": "ftp://example.com/hook"}, "invalid_url", "url"),
    ({"url": "not a url"}, "invalid_url", "url"),
    ({"url": "https://"}, "invalid_url", "url"),
    ({"url": "https://example.com/#frag"}, "invalid_url", "url"),
    ({"url": "https://example.com/" + "a" * 500}, "invalid_url", "url"),
    (
        {"url": "https://example.com/", "event_types": ["order.paid"]},
        "unknown_event_type",
        "event_types",
    ),
    ({"url": "https://example.com/", "event_types": []}, "invalid_event_types", "event_types"),
    (
        {"url": "https://example.com/", "event_types": ["*", "order.closed"]},
        "invalid_event_types",
        "event_types",
    ),
    (
        {"url": "https://example.com/", "event_types": ["order.closed", "order.closed"]},
        "invalid_event_types",
        "event_types",
    ),
    ({"url": "https://example.com/", "secret": "mine"}, "unknown_field", "secret"),
    ({"event_types": ["*"]}, "missing_field", "url"),
]


def test_bad_input_is_refused_and_nothing_is_stored(
    db: Database, client: TestClient, world: World
) -> None:
    for body, code, param in BAD_CREATES:
        response = client.post(ENDPOINTS, json=body, headers=world.a.headers)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert (error["code"], error.get("param")) == (code, param), body
    assert count(db, WebhookEndpoint) == 0


def test_bad_updates_and_filters_change_nothing(
    db: Database, client: TestClient, world: World
) -> None:
    a = world.a.headers
    endpoint = create_endpoint(client, world.a, "https://example.com/ok")
    for body, code in (
        ({"url": "javascript:alert(1)", "description": "changed"}, "invalid_url"),
        ({"event_types": ["refund.created"], "enabled": False}, "unknown_event_type"),
        ({"colour": "red"}, "unknown_field"),
    ):
        response = client.post(f"{ENDPOINTS}/{endpoint['id']}", json=body, headers=a)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    after = client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=a).json()
    assert (after["url"], after["status"], after["description"]) == (
        "https://example.com/ok",
        "enabled",
        "",
    )
    bad_filter = client.get(EVENTS, params={"type": "order.paid"}, headers=a)
    assert (bad_filter.status_code, bad_filter.json()["error"]["code"]) == (
        400,
        "unknown_event_type",
    )


def test_emit_refuses_what_a_caller_gets_wrong(db: Database, world: World) -> None:
    for kwargs in (
        {"type": "order.paid", "data": ORDER},
        {"type": EventType.ORDER_SUCCEEDED, "data": {"amount": float("nan")}},
        {"type": EventType.ORDER_SUCCEEDED, "data": {"at": datetime.now()}},
    ):
        with pytest.raises(ValueError), unit_of_work(db) as session:
            emit(session, merchant_id=world.a.merchant_id, livemode=False, **kwargs)
    assert count(db, WebhookEvent) == 0


def test_an_unusable_notify_url_does_not_fail_the_change(
    db: Database, client: TestClient, world: World
) -> None:
    """An order's notify_url is the merchant's input: the payment goes on, the log says why."""
    event_id = emit_event(db, world.a, notify_url="https://shop.example/notify#paid")
    [delivery] = event_detail(client, world.a, event_id)["deliveries"]
    assert (delivery["status"], delivery["job_id"], delivery["attempts"]) == ("dead", None, 0)
    assert delivery["last_error"].startswith("notify_url must not have a #fragment")
    assert delivery_jobs(db) == []
    replay = client.post(f"{EVENTS}/{event_id}/replay", headers=world.a.headers)
    assert replay.json()["error"]["code"] == "webhook_no_targets"


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_lists_shows_and_replays(
    db: Database,
    client: TestClient,
    world: World,
    receiver: Receiver,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAYDESK_CONFIG_FILE", raising=False)
    monkeypatch.setenv("PAYDESK_DATABASE_URL", db.url)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    endpoint = create_endpoint(client, world.a, receiver.url("cli"))
    receiver.script[:] = [500]
    event_id = emit_event(db, world.a)
    other_id = emit_event(db, world.b, EventType.ORDER_CLOSED)
    worker.run_once()

    listed = runner.invoke(webhooks_app, ["endpoints", "--merchant", world.a.merchant_id])
    assert listed.exit_code == 0, listed.output
    assert endpoint["id"] in listed.output and receiver.url("cli") in listed.output
    assert endpoint["secret"] not in listed.output

    events = runner.invoke(webhooks_app, ["events", "--type", "order.succeeded", "--test"])
    assert events.exit_code == 0, events.output
    assert event_id in events.output and other_id not in events.output

    shown = runner.invoke(webhooks_app, ["show", event_id])
    assert shown.exit_code == 0, shown.output
    assert "failed_retrying" in shown.output and "#1" in shown.output
    assert "HTTP 500" in shown.output and "next attempt" in shown.output

    replayed = runner.invoke(webhooks_app, ["replay", event_id, "--endpoint", endpoint["id"]])
    assert replayed.exit_code == 0, replayed.output
    assert "1 new deliveries" in replayed.output
    worker.run_once()
    assert [r.path for r in receiver.requests] == ["cli", "cli"]
    assert len(event_detail(client, world.a, event_id)["deliveries"]) == 2

    missing = runner.invoke(webhooks_app, ["show", "evt_nope"])
    assert missing.exit_code == 1 and "webhook_event_not_found" in missing.output
