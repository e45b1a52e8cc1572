"""Health, metrics, OpenAPI and JSON logs."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from fastapi.testclient import TestClient

from paydesk.core.logging import configure_logging
from paydesk.core.settings import LogFormat
from paydesk.db.engine import Database
from tests.integration.conftest import World


def test_healthz_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migrations"]["current"] == body["migrations"]["head"]


def test_healthz_is_unavailable_when_migrations_are_behind(
    client: TestClient, db: Database
) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'older'")
    try:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "migrations_pending"
    finally:
        from paydesk.db.migrate import head_revision

        with db.engine.begin() as connection:
            connection.exec_driver_sql(
                f"UPDATE alembic_version SET version_num = '{head_revision()}'"
            )


def test_metrics_count_requests_by_route(client: TestClient, world: World) -> None:
    client.get("/v1/merchant", headers=world.a.headers)
    text = client.get("/metrics").text
    assert "paydesk_http_requests_total" in text
    assert 'route="/v1/merchant"' in text
    assert "paydesk_http_request_duration_seconds_bucket" in text


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/apps" in spec["paths"]
    post = spec["paths"]["/v1/apps"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post.get("parameters", []))
    assert client.get("/docs").status_code == 200


def test_logs_are_json_lines_with_the_request_id(
    client: TestClient, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", LogFormat.JSON)
    try:
        client.get("/v1/merchant", headers={**world.a.headers, "X-Request-Id": "trace-42"})
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        request_logs = [r for r in records if r.get("event") == "http_request"]
        assert request_logs, lines
        assert request_logs[-1]["request_id"] == "trace-42"
        assert request_logs[-1]["status"] == 200
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
