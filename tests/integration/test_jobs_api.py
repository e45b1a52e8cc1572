"""Jobs through the API: dead letters are visible, retried by hand, and private per merchant."""

from __future__ import annotations

from fastapi.testclient import TestClient

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.service import enqueue
from paydesk.jobs.worker import Worker
from tests.integration.conftest import World
from tests.support.job_handlers import FAILING_NAMES
from tests.support.jobs import app_count, worker_settings


def _dead_job(db: Database, merchant_id: str, name: str) -> str:
    FAILING_NAMES.add(name)
    with unit_of_work(db) as session:
        job = enqueue(
            session, "test.switchable", {"name": name}, merchant_id=merchant_id, attempts_max=1
        )
    Worker(db, worker_settings(db)).run_once()
    return job.id


def test_dead_job_is_listed_and_retried_through_the_api(
    client: TestClient, world: World, db: Database
) -> None:
    job_id = _dead_job(db, world.a.merchant_id, "api-retry")
    dead = client.get("/v1/jobs?status=dead", headers=world.a.headers).json()["data"]
    assert [job["id"] for job in dead] == [job_id]
    assert dead[0]["attempts"] == 1
    assert dead[0]["last_error"]

    FAILING_NAMES.discard("api-retry")
    retried = client.post(f"/v1/jobs/{job_id}/retry", headers=world.a.headers)
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    Worker(db, worker_settings(db)).run_once()
    job = client.get(f"/v1/jobs/{job_id}", headers=world.a.headers).json()
    assert job["status"] == "succeeded"
    assert app_count(db, "api-retry") == 1

    again = client.post(f"/v1/jobs/{job_id}/retry", headers=world.a.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "job_not_retryable")


def test_jobs_are_private_to_their_merchant(client: TestClient, world: World, db: Database) -> None:
    job_id = _dead_job(db, world.a.merchant_id, "private")
    assert client.get("/v1/jobs", headers=world.b.headers).json()["data"] == []
    assert client.get(f"/v1/jobs/{job_id}", headers=world.b.headers).status_code == 404
    response = client.post(f"/v1/jobs/{job_id}/retry", headers=world.b.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "job_not_found")
    # The platform admin sees every merchant's dead letters.
    admin_view = client.get("/v1/jobs?status=dead", headers=world.admin).json()["data"]
    assert job_id in {job["id"] for job in admin_view}
    FAILING_NAMES.discard("private")
