"""Orders through /v1/orders: create, find, list, close; unique order numbers; isolation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.integration.conftest import World


def _order(client: TestClient, world: World, no: str, **extra: Any) -> Any:
    body = {"merchant_order_no": no, "amount": 1234, "currency": "CNY", "subject": "Gems", **extra}
    return client.post("/v1/orders", json=body, headers=world.a.headers)


def test_create_find_list_and_close(client: TestClient, world: World) -> None:
    created = _order(client, world, "A-1", user_id="u1", metadata={"sku": "gems-60"})
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["status"], order["amount"], order["livemode"]) == ("created", 1234, False)
    assert order["app_id"] == world.a.app_id  # the key's app by default
    by_id = client.get(f"/v1/orders/{order['id']}", headers=world.a.headers).json()
    assert by_id == order
    by_no = client.get("/v1/orders?merchant_order_no=A-1", headers=world.a.headers).json()
    assert [o["id"] for o in by_no["data"]] == [order["id"]]
    _order(client, world, "A-2")
    listed = client.get("/v1/orders?status=created&limit=1", headers=world.a.headers).json()
    assert listed["has_more"] and listed["data"][0]["id"] == order["id"]

    closed = client.post(f"/v1/orders/{order['id']}/close", headers=world.a.headers).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    again = client.post(f"/v1/orders/{order['id']}/close", headers=world.a.headers)
    assert again.status_code == 200


def test_order_numbers_are_unique_per_merchant(client: TestClient, world: World) -> None:
    assert _order(client, world, "DUP").status_code == 201
    second = _order(client, world, "DUP")
    assert (second.status_code, second.json()["error"]["code"]) == (409, "order_exists")
    other = client.post(
        "/v1/orders",
        json={"merchant_order_no": "DUP", "amount": 5, "currency": "CNY", "subject": "x"},
        headers=world.b.headers,
    )
    assert other.status_code == 201  # another merchant's number space


def test_bad_orders_are_refused(client: TestClient, world: World) -> None:
    cases = [
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -1}, "invalid_amount"),
        ({"currency": "XXX"}, "unknown_currency"),
        ({"merchant_order_no": "has space"}, "invalid_request"),
        ({"notify_url": "ftp://x"}, "invalid_request"),
        ({"notify_url": "https://shop.example/cb#part"}, "invalid_request"),
        ({"expires_in_s": 10}, "invalid_request"),
        ({"app_id": world.b.app_id}, "app_not_found"),
        ({"colour": "red"}, "unknown_field"),
    ]
    for index, (extra, code) in enumerate(cases):
        response = _order(client, world, f"BAD-{index}", **extra)
        assert response.json()["error"]["code"] == code, (extra, response.text)
    assert client.get("/v1/orders", headers=world.a.headers).json()["data"] == []


def test_orders_are_private_and_per_mode(client: TestClient, world: World) -> None:
    order = _order(client, world, "PRIV").json()
    assert client.get(f"/v1/orders/{order['id']}", headers=world.b.headers).status_code == 404
    assert (
        client.post(f"/v1/orders/{order['id']}/close", headers=world.b.headers).status_code == 404
    )
    live = client.post(
        "/v1/keys", json={"mode": "live", "merchant_id": world.a.merchant_id}, headers=world.admin
    ).json()["secret"]
    live_headers = {"Authorization": f"Bearer {live}"}
    assert client.get(f"/v1/orders/{order['id']}", headers=live_headers).status_code == 404
    assert client.get("/v1/orders", headers=live_headers).json()["data"] == []


def test_pay_with_balance_moves_money_once(client: TestClient, world: World) -> None:
    recharge = {"currency": "CNY", "amount": 2000, "reference": "top-up"}
    client.post("/v1/wallets/payer/recharge", json=recharge, headers=world.a.headers)
    order = _order(client, world, "PAY-1", user_id="payer").json()
    paid = client.post(
        f"/v1/orders/{order['id']}/pay", json={"method": "balance"}, headers=world.a.headers
    )
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert (body["order"]["status"], body["order"]["amount_paid"]) == ("succeeded", 1234)
    assert (body["attempt"]["status"], body["attempt"]["channel"]) == ("succeeded", "wallet")
    wallet = client.get("/v1/wallets/payer", headers=world.a.headers).json()
    assert wallet["balances"][0]["balance"] == 2000 - 1234
    again = client.post(
        f"/v1/orders/{order['id']}/pay", json={"method": "balance"}, headers=world.a.headers
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "order_not_payable")
    wallet = client.get("/v1/wallets/payer", headers=world.a.headers).json()
    assert wallet["balances"][0]["balance"] == 2000 - 1234
    closing = client.post(f"/v1/orders/{order['id']}/close", headers=world.a.headers)
    assert closing.json()["error"]["code"] == "illegal_transition"


def test_a_balance_too_low_changes_nothing(client: TestClient, world: World) -> None:
    client.post(
        "/v1/wallets/poor/recharge",
        json={"currency": "CNY", "amount": 100, "reference": "r"},
        headers=world.a.headers,
    )
    order = _order(client, world, "PAY-2", user_id="poor").json()
    refused = client.post(
        f"/v1/orders/{order['id']}/pay", json={"method": "balance"}, headers=world.a.headers
    )
    assert refused.json()["error"]["code"] == "exceeds_floor"
    after = client.get(f"/v1/orders/{order['id']}", headers=world.a.headers).json()
    assert (after["status"], after["amount_paid"]) == ("created", 0)
    unknown = client.post(
        f"/v1/orders/{order['id']}/pay", json={"method": "cheque"}, headers=world.a.headers
    )
    assert unknown.json()["error"]["code"] == "method_not_available"
    no_account = client.post(
        f"/v1/orders/{order['id']}/pay", json={"method": "wechat_native"}, headers=world.a.headers
    )
    assert no_account.json()["error"]["code"] == "no_channel_account"
    after = client.get(f"/v1/orders/{order['id']}", headers=world.a.headers).json()
    assert after["status"] == "created"
