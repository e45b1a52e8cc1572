"""Merchants, apps, keys and virtual currencies through the API; tenant isolation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.conftest import World


def test_admin_builds_a_hierarchy_of_any_depth(client: TestClient, world: World) -> None:
    agent = client.post(
        "/v1/merchants", json={"name": "Agent", "kind": "agent"}, headers=world.admin
    ).json()
    parent = agent["id"]
    chain = [agent]
    for kind in ["merchant", "sub_merchant", "store"]:
        response = client.post(
            "/v1/merchants",
            json={"name": kind, "kind": kind, "parent_id": parent},
            headers=world.admin,
        )
        assert response.status_code == 201, response.text
        chain.append(response.json())
        parent = response.json()["id"]
    assert [m["depth"] for m in chain] == [1, 2, 3, 4]
    subtree = client.get(f"/v1/merchants?subtree_of={agent['id']}", headers=world.admin).json()
    assert {m["id"] for m in subtree["data"]} == {m["id"] for m in chain}
    children = client.get(f"/v1/merchants?parent_id={agent['id']}", headers=world.admin).json()
    assert [m["id"] for m in children["data"]] == [chain[1]["id"]]

    response = client.post(
        "/v1/merchants", json={"name": "x", "parent_id": "mch_missing"}, headers=world.admin
    )
    assert response.json()["error"]["code"] == "invalid_parent"


def test_merchant_keys_cannot_manage_merchants(client: TestClient, world: World) -> None:
    response = client.post("/v1/merchants", json={"name": "Evil"}, headers=world.a.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"
    assert client.get("/v1/merchants", headers=world.a.headers).status_code == 403


def test_merchant_a_can_neither_read_nor_change_anything_of_b(
    client: TestClient, world: World
) -> None:
    a, b = world.a.headers, world.b
    b_key_id = client.get("/v1/keys", headers=b.headers).json()["data"][0]["id"]
    reads = [
        f"/v1/apps/{b.app_id}",
        f"/v1/apps/{b.app_id}/currencies",
    ]
    for path in reads:
        response = client.get(path, headers=a)
        assert response.status_code == 404, path
    writes = [
        ("PATCH", f"/v1/apps/{b.app_id}", {"name": "hijacked"}),
        ("POST", f"/v1/apps/{b.app_id}/currencies", {"code": "GEMS", "exponent": 0, "name": "g"}),
        ("POST", f"/v1/keys/{b_key_id}/revoke", None),
        ("POST", "/v1/keys", {"app_id": b.app_id}),
        ("POST", "/v1/keys", {"merchant_id": b.merchant_id}),
        ("POST", "/v1/apps", {"name": "x", "merchant_id": b.merchant_id}),
    ]
    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=a)
        assert response.status_code == 404, (method, path, response.text)
    # Lists never show B's objects, even when asked for them by id.
    listed = client.get(f"/v1/apps?merchant_id={b.merchant_id}", headers=a).json()["data"]
    assert {app["merchant_id"] for app in listed} == {world.a.merchant_id}
    keys = client.get("/v1/keys", headers=a).json()["data"]
    assert {key["merchant_id"] for key in keys} == {world.a.merchant_id}
    # And B's objects are untouched and B's key still works.
    assert client.get(f"/v1/apps/{b.app_id}", headers=b.headers).json()["name"] == "Merchant B app"
    assert client.get("/v1/merchant", headers=b.headers).json()["id"] == b.merchant_id


def test_keys_are_shown_once_hashed_and_mode_prefixed(client: TestClient, world: World) -> None:
    created = client.post(
        "/v1/keys", json={"mode": "test", "label": "ci"}, headers=world.a.headers
    ).json()
    assert created["secret"].startswith("pd_test_sk_")
    assert created["secret"].startswith(created["display_prefix"])
    listed = client.get("/v1/keys", headers=world.a.headers).json()["data"]
    assert all("secret" not in key for key in listed)
    assert (
        client.get("/v1/merchant", headers={"Authorization": f"Bearer {created['secret']}"}).json()[
            "id"
        ]
        == world.a.merchant_id
    )
    # A test-mode key cannot mint a live key; an admin can.
    response = client.post("/v1/keys", json={"mode": "live"}, headers=world.a.headers)
    assert response.json()["error"]["code"] == "mode_not_allowed"
    live = client.post(
        "/v1/keys", json={"mode": "live", "merchant_id": world.a.merchant_id}, headers=world.admin
    ).json()
    assert live["secret"].startswith("pd_live_sk_")


def test_suspended_merchant_keys_stop_working(client: TestClient, world: World) -> None:
    response = client.post(f"/v1/merchants/{world.a.merchant_id}/suspend", headers=world.admin)
    assert response.json()["status"] == "suspended"
    response = client.get("/v1/merchant", headers=world.a.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "merchant_suspended")
    client.post(f"/v1/merchants/{world.a.merchant_id}/activate", headers=world.admin)
    assert client.get("/v1/merchant", headers=world.a.headers).status_code == 200


def test_virtual_currency_registration(client: TestClient, world: World) -> None:
    path = f"/v1/apps/{world.a.app_id}/currencies"
    body = {"code": "GOLD_COIN", "exponent": 0, "name": "Gold"}
    assert client.post(path, json=body, headers=world.a.headers).status_code == 201
    again = client.post(path, json=body, headers=world.a.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "currency_exists")
    listed = client.get(path, headers=world.a.headers).json()
    assert [(c["code"], c["exponent"]) for c in listed] == [("GOLD_COIN", 0)]


def test_pagination_walks_every_app_once(client: TestClient, world: World) -> None:
    for index in range(5):
        client.post("/v1/apps", json={"name": f"app {index}"}, headers=world.a.headers)
    seen: list[str] = []
    after = None
    while True:
        query = f"?limit=2&after={after}" if after else "?limit=2"
        page = client.get(f"/v1/apps{query}", headers=world.a.headers).json()
        seen += [app["id"] for app in page["data"]]
        if not page["has_more"]:
            break
        after = page["next_after"]
    assert len(seen) == 6 == len(set(seen))
    assert client.get("/v1/apps?limit=1000", headers=world.a.headers).status_code == 400
