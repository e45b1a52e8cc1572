"""Feature flags for gray release: defaults, a feature on for a whitelist of merchants first
(an agent's whitelisting covers its sub-merchants), and the features they gate: sandbox mode
refuses live orders, the hosted cashier can be held back."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import auth, service
from paydesk.merchants.models import KeyMode, MerchantKind
from tests.integration.conftest import World

ORDER = {"amount": 500, "currency": "CNY", "subject": "Gems"}


def _live_key(db: Database, merchant_id: str) -> dict[str, str]:
    with unit_of_work(db) as session:
        issued = auth.issue_key(session, merchant_id=merchant_id, mode=KeyMode.LIVE, actor="t")
    return {"Authorization": f"Bearer {issued.secret}"}


def _flag(client: TestClient, world: World, name: str, **body: Any) -> Any:
    answer = client.put(f"/v1/features/{name}", json=body, headers=world.admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_flags_list_their_defaults_and_only_admins_change_them(
    client: TestClient, world: World
) -> None:
    flags = {f["name"]: f for f in client.get("/v1/features", headers=world.admin).json()}
    assert set(flags) == {"hosted_cashier", "fx_settlement", "sandbox_mode"}
    assert flags["hosted_cashier"]["enabled_for_all"] is True
    assert flags["sandbox_mode"]["enabled_for_all"] is False
    denied = client.put(
        "/v1/features/sandbox_mode", json={"enabled_for_all": True}, headers=world.a.headers
    )
    assert denied.status_code == 403
    unknown = client.put(
        "/v1/features/teleport", json={"enabled_for_all": True}, headers=world.admin
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_feature")


def test_sandbox_mode_refuses_live_orders_of_whitelisted_merchants_and_their_children(
    client: TestClient, world: World, db: Database
) -> None:
    with unit_of_work(db) as session:
        agent = service.create_merchant(
            session, name="Agent", kind=MerchantKind.AGENT, parent_id=None, actor="t"
        )
        shop = service.create_merchant(
            session, name="Shop", kind=MerchantKind.MERCHANT, parent_id=agent.id, actor="t"
        )
    shop_live = _live_key(db, shop.id)
    other_live = _live_key(db, world.b.merchant_id)
    _flag(client, world, "sandbox_mode", enabled_for_all=False, merchants=[agent.id])

    refused = client.post(
        "/v1/orders", json={**ORDER, "merchant_order_no": "L-1"}, headers=shop_live
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "merchant_in_sandbox_mode"
    elsewhere = client.post(
        "/v1/orders", json={**ORDER, "merchant_order_no": "L-2"}, headers=other_live
    )
    assert elsewhere.status_code == 201, elsewhere.text
    in_test_mode = client.post(
        "/v1/orders", json={**ORDER, "merchant_order_no": "T-1"}, headers=world.a.headers
    )
    assert in_test_mode.status_code == 201

    _flag(client, world, "sandbox_mode", enabled_for_all=False)  # the shop goes live
    assert (
        client.post(
            "/v1/orders", json={**ORDER, "merchant_order_no": "L-3"}, headers=shop_live
        ).status_code
        == 201
    )


def test_the_hosted_cashier_in_gray_release(client: TestClient, world: World) -> None:
    orders = {}
    for tenant, no in ((world.a, "C-A"), (world.b, "C-B")):
        created = client.post(
            "/v1/orders", json={**ORDER, "merchant_order_no": no}, headers=tenant.headers
        )
        orders[tenant.merchant_id] = created.json()["id"]
    _flag(client, world, "hosted_cashier", enabled_for_all=False, merchants=[world.a.merchant_id])

    link = client.get(f"/v1/orders/{orders[world.a.merchant_id]}/cashier", headers=world.a.headers)
    assert link.status_code == 200, link.text
    page = client.get("/" + link.json()["url"].split("/", 3)[3])  # the path and its token
    assert page.status_code == 200 and "Merchant A" in page.text
    held = client.get(f"/v1/orders/{orders[world.b.merchant_id]}/cashier", headers=world.b.headers)
    assert (held.status_code, held.json()["error"]["code"]) == (403, "feature_disabled")
