"""Every failure answers {"error": {"code", "message", "param"?}} and changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.db.engine import Database
from paydesk.merchants.models import App
from tests.integration.conftest import World


def _app_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(App)).scalar_one())


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    assert "Traceback" not in body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def test_missing_malformed_and_revoked_keys(client: TestClient, world: World) -> None:
    response = client.get("/v1/apps")
    assert response.status_code == 401
    assert _error(response)["code"] == "missing_api_key"

    response = client.get("/v1/apps", headers={"Authorization": "Bearer pd_test_sk_nope"})
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_api_key"

    response = client.get("/v1/apps", headers={"Authorization": "Basic abc"})
    assert _error(response)["code"] == "missing_api_key"

    key_id = client.get("/v1/keys", headers=world.a.headers).json()["data"][0]["id"]
    assert client.post(f"/v1/keys/{key_id}/revoke", headers=world.a.headers).status_code == 200
    response = client.get("/v1/apps", headers=world.a.headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "api_key_revoked"


def test_malformed_json_changes_nothing(client: TestClient, world: World, db: Database) -> None:
    before = _app_count(db)
    response = client.post(
        "/v1/apps",
        content=b'{"name": "x",',
        headers={**world.a.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"
    assert _app_count(db) == before


def test_wrong_types_missing_and_unknown_fields(client: TestClient, world: World) -> None:
    response = client.post("/v1/apps", json={"name": 12}, headers=world.a.headers)
    error = _error(response)
    assert (response.status_code, error["code"], error["param"]) == (400, "invalid_request", "name")

    response = client.post("/v1/apps", json={}, headers=world.a.headers)
    error = _error(response)
    assert (error["code"], error["param"]) == ("missing_field", "name")

    response = client.post("/v1/apps", json={"name": "x", "nmae": "y"}, headers=world.a.headers)
    error = _error(response)
    assert (error["code"], error["param"]) == ("unknown_field", "nmae")


def test_oversized_body_is_refused_before_reading(
    client: TestClient, world: World, db: Database
) -> None:
    before = _app_count(db)
    huge = b'{"name": "' + b"x" * 2_000_000 + b'"}'
    response = client.post(
        "/v1/apps", content=huge, headers={**world.a.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"
    assert _app_count(db) == before


def test_unknown_route_and_method(client: TestClient) -> None:
    response = client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "route_not_found"
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_a_business_error_names_its_param(client: TestClient, world: World) -> None:
    response = client.post(
        f"/v1/apps/{world.a.app_id}/currencies",
        json={"code": "CNY", "exponent": 2, "name": "not virtual"},
        headers=world.a.headers,
    )
    error = _error(response)
    assert (response.status_code, error["code"], error["param"]) == (
        400,
        "invalid_currency_code",
        "code",
    )


def test_request_id_is_echoed(client: TestClient, world: World) -> None:
    response = client.get("/v1/merchant", headers={**world.a.headers, "X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = client.get("/v1/merchant", headers=world.a.headers).headers["x-request-id"]
    assert generated.startswith("req_")
    bad = client.get("/v1/merchant", headers={**world.a.headers, "X-Request-Id": "bad id\t"})
    assert bad.headers["x-request-id"].startswith("req_")
