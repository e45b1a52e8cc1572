"""Idempotency-Key: replays return the first response; one key, one effect."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.api.app import create_app
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.idempotency import service as idempotency
from paydesk.merchants.models import App
from tests.integration.conftest import World
from tests.support.server import serving


def _apps_named(db: Database, name: str) -> int:
    with db.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(App).where(App.name == name)
        return int(connection.execute(query).scalar_one())


def test_replay_returns_the_stored_response(client: TestClient, world: World, db: Database) -> None:
    headers = {**world.a.headers, "Idempotency-Key": "create-app-1"}
    first = client.post("/v1/apps", json={"name": "Shop", "merchant_id": None}, headers=headers)
    # Same content, other key order and spacing: still the same request.
    again = client.post(
        "/v1/apps",
        content=b'{ "merchant_id": null,   "name": "Shop" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _apps_named(db, "Shop") == 1


def test_same_key_different_body_is_a_conflict(
    client: TestClient, world: World, db: Database
) -> None:
    headers = {**world.a.headers, "Idempotency-Key": "k-2"}
    assert client.post("/v1/apps", json={"name": "One"}, headers=headers).status_code == 201
    response = client.post("/v1/apps", json={"name": "Two"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert _apps_named(db, "Two") == 0
    # The same key on another path is a different request too.
    response = client.post("/v1/keys", json={}, headers=headers)
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_a_failed_request_stores_nothing(client: TestClient, world: World, db: Database) -> None:
    headers = {**world.a.headers, "Idempotency-Key": "k-3"}
    bad = client.post("/v1/apps", json={"name": ""}, headers=headers)
    assert bad.status_code == 400
    good = client.post("/v1/apps", json={"name": "Fixed"}, headers=headers)
    assert good.status_code == 201
    assert _apps_named(db, "Fixed") == 1


def test_keys_are_scoped_per_merchant(client: TestClient, world: World, db: Database) -> None:
    for tenant in (world.a, world.b):
        response = client.post(
            "/v1/apps", json={"name": "Same"}, headers={**tenant.headers, "Idempotency-Key": "x"}
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert _apps_named(db, "Same") == 2


def test_malformed_key_is_refused(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/apps",
        json={"name": "x"},
        headers={**world.a.headers, "Idempotency-Key": "a" * 300},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


THREADS = 8


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_duplicates_produce_one_effect(
    db: Database, world: World, tmp_path_factory: pytest.TempPathFactory, round_: int
) -> None:
    """Eight threads send the same request with one key at the same moment over real HTTP."""
    settings = load_settings(database_url=db.url, data_dir=tmp_path_factory.mktemp("d"))
    app = create_app(settings, db, run_worker=False)
    name = f"Concurrent {round_}"
    barrier = threading.Barrier(THREADS)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    with serving(app) as base_url:

        def send() -> None:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                barrier.wait()
                response = http.post(
                    "/v1/apps",
                    json={"name": name},
                    headers={**world.a.headers, "Idempotency-Key": f"race-{round_}"},
                )
            with lock:
                results.append(response)

        threads = [threading.Thread(target=send) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert len(results) == THREADS
    assert {response.status_code for response in results} == {201}
    assert len({response.json()["id"] for response in results}) == 1
    replayed = [r for r in results if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == THREADS - 1
    assert _apps_named(db, name) == 1


def test_a_claim_committed_in_progress_answers_in_use(
    client: TestClient, world: World, db: Database
) -> None:
    """A request that committed part of its work (a payment attempt written before the
    channel call) holds its key in progress: a retry meanwhile is told to wait, not replayed
    with an empty answer, and not run twice."""
    headers = {**world.a.headers, "Idempotency-Key": "in-flight"}
    body = {"name": "Shop", "merchant_id": None}
    with unit_of_work(db) as session:
        idempotency.begin(
            session,
            merchant_id=world.a.merchant_id,
            key="in-flight",
            request_hash=idempotency.fingerprint("POST", "/v1/apps", json.dumps(body).encode()),
            method="POST",
            path="/v1/apps",
            ttl=timedelta(hours=1),
        )
    waiting = client.post("/v1/apps", json=body, headers=headers)
    assert (waiting.status_code, waiting.json()["error"]["code"]) == (
        409,
        "idempotency_key_in_use",
    )
    assert _apps_named(db, "Shop") == 0
    with unit_of_work(db) as session:
        idempotency.release(session, world.a.merchant_id, "in-flight")
    assert client.post("/v1/apps", json=body, headers=headers).status_code == 201
