"""The ledger through /v1/ledger: accounts, journals, reversals, holds, as-of balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.conftest import World


def _open(client: TestClient, world: World, owner: str, **rules: Any) -> str:
    body = {"owner_type": "user", "owner_id": owner, "kind": "cash", "currency": "CNY", **rules}
    response = client.post("/v1/ledger/accounts", json=body, headers=world.a.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_journal_reversal_and_as_of_balance(client: TestClient, world: World) -> None:
    bank = _open(client, world, "bank", floor_rule="unbounded", slots=4)
    alice = _open(client, world, "alice")
    assert _open(client, world, "alice") == alice  # the same account, not a second one
    body = {
        "idempotency_key": "j-1",
        "kind": "funding",
        "legs": [
            {"account_id": bank, "amount": -500, "currency": "CNY"},
            {"account_id": alice, "amount": 500, "currency": "CNY"},
        ],
    }
    posted = client.post("/v1/ledger/journals", json=body, headers=world.a.headers).json()
    assert sum(entry["amount"] for entry in posted["entries"]) == 0
    replay = client.post("/v1/ledger/journals", json=body, headers=world.a.headers).json()
    assert replay["replayed"] and replay["id"] == posted["id"]
    before_reversal = datetime.now(UTC)

    reversal = client.post(
        f"/v1/ledger/journals/{posted['id']}/reverse",
        json={"idempotency_key": "r-1"},
        headers=world.a.headers,
    ).json()
    assert reversal["reverses_id"] == posted["id"]
    now = client.get(f"/v1/ledger/accounts/{alice}/balance", headers=world.a.headers).json()
    assert now["balance"] == 0
    then = client.get(
        f"/v1/ledger/accounts/{alice}/balance",
        params={"as_of": before_reversal.isoformat()},
        headers=world.a.headers,
    ).json()
    assert then["balance"] == 500
    statement = client.get(f"/v1/ledger/accounts/{alice}/statement", headers=world.a.headers).json()
    assert [line["balance_after"] for line in statement["lines"]] == [500, 0]


def test_unbalanced_and_foreign_legs_are_refused(client: TestClient, world: World) -> None:
    alice = _open(client, world, "alice")
    foreign = client.post(
        "/v1/ledger/accounts",
        json={"owner_type": "user", "owner_id": "eve", "kind": "cash", "currency": "CNY"},
        headers=world.b.headers,
    ).json()["id"]
    legs = [
        {"account_id": alice, "amount": -5, "currency": "CNY"},
        {"account_id": foreign, "amount": 5, "currency": "CNY"},
    ]
    response = client.post(
        "/v1/ledger/journals",
        json={"idempotency_key": "x", "kind": "t", "legs": legs},
        headers=world.a.headers,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "account_not_found")
    legs[1]["account_id"] = alice
    legs[1]["amount"] = 4
    response = client.post(
        "/v1/ledger/journals",
        json={"idempotency_key": "y", "kind": "t", "legs": legs},
        headers=world.a.headers,
    )
    assert response.json()["error"]["code"] in {"duplicate_account", "unbalanced"}
    assert client.get(f"/v1/ledger/accounts/{foreign}", headers=world.a.headers).status_code == 404


def test_hold_post_in_part_and_sub_accounts(client: TestClient, world: World) -> None:
    bank = _open(client, world, "bank", floor_rule="unbounded")
    master = _open(client, world, "corp")
    sub = _open(client, world, "corp-travel", parent_id=master)
    client.post(
        "/v1/ledger/journals",
        json={
            "idempotency_key": "fund",
            "kind": "funding",
            "legs": [
                {"account_id": bank, "amount": -300, "currency": "CNY"},
                {"account_id": master, "amount": 300, "currency": "CNY"},
            ],
        },
        headers=world.a.headers,
    )
    hold = client.post(
        "/v1/ledger/holds",
        json={
            "idempotency_key": "h",
            "debit_account_id": master,
            "credit_account_id": sub,
            "amount": 200,
            "currency": "CNY",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        headers=world.a.headers,
    ).json()
    balance = client.get(f"/v1/ledger/accounts/{master}/balance", headers=world.a.headers).json()
    assert (balance["balance"], balance["available"]) == (300, 100)
    posted = client.post(
        f"/v1/ledger/holds/{hold['id']}/post", json={"amount": 150}, headers=world.a.headers
    ).json()
    assert {entry["amount"] for entry in posted["entries"]} == {-150, 150}
    balance = client.get(f"/v1/ledger/accounts/{master}/balance", headers=world.a.headers).json()
    assert (balance["balance"], balance["available"]) == (150, 150)
    children = client.get(
        f"/v1/ledger/accounts/{master}/subaccounts", headers=world.a.headers
    ).json()
    assert [child["id"] for child in children] == [sub]
