"""Wallets through the API: every operation one balanced journal, replays apply once, bad
input changes nothing, and one merchant never reaches another's wallets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.core import clock
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.fees import events
from paydesk.fees import service as fees
from paydesk.fees.accounts import fee_account
from paydesk.fees.records import FeeCharge
from paydesk.jobs.worker import Worker
from paydesk.ledger.accounts import balance
from paydesk.ledger.models import LedgerAccount, LedgerBalance
from tests.integration.conftest import Tenant, World


class Wallets:
    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant
        self._refs = 0

    def call(self, user: str, op: str, **body: Any) -> Any:
        if "reference" not in body and op not in {"freeze", "unfreeze"}:
            self._refs += 1
            body["reference"] = f"ref-{self._refs}"
        return self.client.post(f"/v1/wallets/{user}/{op}", json=body, headers=self.tenant.headers)

    def balance(self, user: str, currency: str, zone: str = "") -> dict[str, Any]:
        wallet = self.client.get(
            f"/v1/wallets/{user}?zone={zone}", headers=self.tenant.headers
        ).json()
        for line in wallet["balances"]:
            if line["currency"] == currency:
                return line  # type: ignore[no-any-return]
        return {"balance": 0, "available": 0, "paid": 0, "gifted": 0, "pending": 0}


@pytest.fixture
def wallets(client: TestClient, world: World) -> Wallets:
    for code, kind in (("GEMS", "coins"), ("PTS", "points")):
        response = client.post(
            f"/v1/apps/{world.a.app_id}/currencies",
            json={"code": code, "exponent": 0, "name": code, "kind": kind},
            headers=world.a.headers,
        )
        assert response.status_code == 201, response.text
    return Wallets(client, world.a)


def _ledger_sums_to_zero(db: Database) -> None:
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(LedgerAccount.currency, sa.func.sum(LedgerBalance.balance))
            .join(LedgerBalance, LedgerBalance.account_id == LedgerAccount.id)
            .group_by(LedgerAccount.currency)
        ).all()
    assert rows and all(total == 0 for _, total in rows), rows


def test_an_unknown_user_cannot_spend(wallets: Wallets) -> None:
    response = wallets.call("nobody", "consume", currency="GEMS", amount=1)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "wallet_not_found")
    response = wallets.call("nobody", "transfer", currency="CNY", amount=1, to_user_id="x")
    assert response.json()["error"]["code"] == "wallet_not_found"


def test_money_recharge_consume_transfer(wallets: Wallets, db: Database) -> None:
    assert wallets.call("alice", "recharge", currency="CNY", amount=1000).status_code == 200
    spent = wallets.call("alice", "consume", currency="CNY", amount=300).json()
    assert spent["balance"]["balance"] == 700
    moved = wallets.call("alice", "transfer", currency="CNY", amount=200, to_user_id="bob")
    assert moved.json()["balance"]["balance"] == 500
    assert wallets.balance("bob", "CNY")["balance"] == 200
    totals = wallets.client.get("/v1/wallets/alice/totals", headers=wallets.tenant.headers).json()
    assert totals == [
        {
            "currency": "CNY",
            "saved": 1000,
            "spent": 300,
            "presented": 0,
            "expired": 0,
            "withdrawn": 0,
        }
    ]
    _ledger_sums_to_zero(db)


def test_coins_spend_gifted_first_and_cancel_restores_parts(wallets: Wallets) -> None:
    wallets.call("p1", "recharge", currency="GEMS", amount=100)
    wallets.call("p1", "present", currency="GEMS", amount=30)
    paid = wallets.call("p1", "consume", currency="GEMS", amount=50, reference="bill-1").json()
    assert paid["parts"] == {"paid": 20, "gifted": 30}
    assert (paid["balance"]["paid"], paid["balance"]["gifted"]) == (80, 0)
    cancelled = wallets.call(
        "p1", "cancel", consume_reference="bill-1", reference="cancel-1"
    ).json()
    assert (cancelled["balance"]["paid"], cancelled["balance"]["gifted"]) == (100, 30)
    again = wallets.call("p1", "cancel", consume_reference="bill-1", reference="cancel-2")
    assert again.json()["error"]["code"] == "journal_already_reversed"


def test_paid_first_setting(wallets: Wallets) -> None:
    app = wallets.tenant.app_id
    response = wallets.client.put(
        f"/v1/apps/{app}/wallet-settings",
        json={"spend_order": "paid_first"},
        headers=wallets.tenant.headers,
    )
    assert response.status_code == 200
    wallets.call("p2", "recharge", currency="GEMS", amount=10)
    wallets.call("p2", "present", currency="GEMS", amount=10)
    parts = wallets.call("p2", "consume", currency="GEMS", amount=15).json()["parts"]
    assert parts == {"paid": 10, "gifted": 5}


def test_a_repeated_reference_applies_once(wallets: Wallets) -> None:
    first = wallets.call("carol", "recharge", currency="CNY", amount=500, reference="order-9")
    again = wallets.call("carol", "recharge", currency="CNY", amount=500, reference="order-9")
    assert again.json()["replayed"] and again.json()["journal_id"] == first.json()["journal_id"]
    assert wallets.balance("carol", "CNY")["balance"] == 500
    other = wallets.call("carol", "recharge", currency="CNY", amount=501, reference="order-9")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "journal_key_reused")
    assert wallets.balance("carol", "CNY")["balance"] == 500


@pytest.mark.parametrize(
    ("op", "body", "code"),
    [
        ("consume", {"currency": "CNY", "amount": 0}, "invalid_amount"),
        ("consume", {"currency": "CNY", "amount": -5}, "invalid_amount"),
        ("consume", {"currency": "CNY", "amount": 1.5}, "invalid_request"),
        ("consume", {"currency": "XYZ", "amount": 5}, "unknown_currency"),
        ("consume", {"currency": "CNY", "amount": 5000}, "exceeds_floor"),
        ("recharge", {"currency": "PTS", "amount": 5}, "operation_not_supported"),
        (
            "transfer",
            {"currency": "GEMS", "amount": 1, "to_user_id": "x"},
            "operation_not_supported",
        ),
        ("transfer", {"currency": "CNY", "amount": 1, "to_user_id": "dave"}, "invalid_request"),
        ("consume", {"currency": "CNY", "amount": 5, "app_id": "app_missing"}, "app_not_found"),
        ("consume", {"currency": "USD", "amount": 5}, "wallet_not_found"),
        ("withdrawals", {"currency": "USD", "amount": 5}, "wallet_not_found"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    wallets: Wallets, op: str, body: dict[str, Any], code: str
) -> None:
    wallets.call("dave", "recharge", currency="CNY", amount=100)
    response = wallets.call("dave", op, **body)
    assert response.status_code >= 400
    assert response.json()["error"]["code"] == code, response.text
    assert wallets.balance("dave", "CNY")["balance"] == 100


def test_frozen_wallet_refuses_spending_but_takes_credit(wallets: Wallets) -> None:
    wallets.call("erin", "recharge", currency="CNY", amount=100)
    frozen = wallets.call("erin", "freeze", currency=None)
    assert frozen.json()["balances"][0]["frozen"] is True
    refused = wallets.call("erin", "consume", currency="CNY", amount=10)
    assert refused.json()["error"]["code"] == "account_frozen"
    assert wallets.call("erin", "recharge", currency="CNY", amount=5).status_code == 200
    wallets.call("erin", "unfreeze")
    assert wallets.call("erin", "consume", currency="CNY", amount=10).status_code == 200
    assert wallets.balance("erin", "CNY")["balance"] == 95


def test_withdrawal_reserves_then_completes_or_fails(wallets: Wallets) -> None:
    wallets.call("fay", "recharge", currency="CNY", amount=1000)
    hold = wallets.call("fay", "withdrawals", currency="CNY", amount=600).json()
    line = wallets.balance("fay", "CNY")
    assert (line["balance"], line["available"], line["pending"]) == (1000, 400, 600)
    assert wallets.call("fay", "consume", currency="CNY", amount=500).json()["error"]["code"] == (
        "exceeds_floor"
    )
    done = wallets.client.post(
        f"/v1/withdrawals/{hold['id']}/complete", headers=wallets.tenant.headers
    ).json()
    assert done["status"] == "posted"
    assert wallets.balance("fay", "CNY")["balance"] == 400
    second = wallets.call("fay", "withdrawals", currency="CNY", amount=100).json()
    failed = wallets.client.post(
        f"/v1/withdrawals/{second['id']}/fail", headers=wallets.tenant.headers
    ).json()
    assert failed["status"] == "voided"
    assert wallets.balance("fay", "CNY")["available"] == 400


def test_unclaimed_withdrawal_expires_through_the_job(wallets: Wallets, db: Database) -> None:
    wallets.call("gus", "recharge", currency="CNY", amount=100)
    wallets.call("gus", "withdrawals", currency="CNY", amount=100, ttl_s=60)
    assert wallets.balance("gus", "CNY")["available"] == 0
    later = clock.now() + timedelta(minutes=2)
    clock.set_clock(lambda: later)
    try:
        Worker(db, load_settings(database_url=db.url)).run_once()
    finally:
        clock.set_clock(None)
    assert wallets.balance("gus", "CNY")["available"] == 100


def test_gifted_coins_and_points_expire_on_schedule(wallets: Wallets, db: Database) -> None:
    wallets.client.put(
        f"/v1/apps/{wallets.tenant.app_id}/wallet-settings",
        json={"gifted_ttl_days": 7, "points_ttl_days": 30},
        headers=wallets.tenant.headers,
    )
    wallets.call("hal", "present", currency="GEMS", amount=40)
    wallets.call("hal", "recharge", currency="GEMS", amount=10)
    wallets.call("hal", "present", currency="PTS", amount=500)
    wallets.call("hal", "consume", currency="GEMS", amount=15)  # 15 of the gifted 40
    later = clock.now() + timedelta(days=8)
    clock.set_clock(lambda: later)
    try:
        Worker(db, load_settings(database_url=db.url)).run_once()
    finally:
        clock.set_clock(None)
    gems = wallets.balance("hal", "GEMS")
    assert (gems["paid"], gems["gifted"]) == (10, 0)  # the 25 gifted left expired
    assert wallets.balance("hal", "PTS")["balance"] == 500  # points last 30 days
    totals = {
        line["currency"]: line
        for line in wallets.client.get(
            "/v1/wallets/hal/totals", headers=wallets.tenant.headers
        ).json()
    }
    assert totals["GEMS"]["expired"] == 25
    _ledger_sums_to_zero(db)


def test_statement_has_running_balance(wallets: Wallets) -> None:
    for amount in (100, 50):
        wallets.call("ivy", "recharge", currency="CNY", amount=amount)
    wallets.call("ivy", "consume", currency="CNY", amount=30)
    statement = wallets.client.get(
        "/v1/wallets/ivy/statement?currency=CNY&part=cash&limit=2",
        headers=wallets.tenant.headers,
    ).json()
    assert [line["balance_after"] for line in statement["lines"]] == [100, 150]
    rest = wallets.client.get(
        f"/v1/wallets/ivy/statement?currency=CNY&part=cash&after={statement['next_after']}",
        headers=wallets.tenant.headers,
    ).json()
    assert [(line["kind"], line["balance_after"]) for line in rest["lines"]] == [
        ("wallet.consume", 120)
    ]


def test_zones_partition_balances(wallets: Wallets) -> None:
    wallets.call("jo", "recharge", currency="GEMS", amount=10, zone="1")
    assert wallets.balance("jo", "GEMS", zone="1")["balance"] == 10
    assert wallets.balance("jo", "GEMS", zone="2")["balance"] == 0


def test_another_merchant_cannot_reach_these_wallets(
    wallets: Wallets, world: World, client: TestClient
) -> None:
    wallets.call("kim", "recharge", currency="CNY", amount=100)
    response = client.post(
        "/v1/wallets/kim/consume",
        json={"app_id": world.a.app_id, "currency": "CNY", "amount": 10, "reference": "x"},
        headers=world.b.headers,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "app_not_found")
    own = client.get("/v1/wallets/kim", headers=world.b.headers).json()
    assert own["balances"] == []  # B's app has its own, empty, user kim
    assert wallets.balance("kim", "CNY")["balance"] == 100


def test_cancel_only_reaches_the_same_users_app_and_zone(wallets: Wallets) -> None:
    wallets.call("lee", "recharge", currency="GEMS", amount=10, zone="1")
    wallets.call("lee", "consume", currency="GEMS", amount=4, zone="1", reference="b-1")
    for who, zone in (("lee", "2"), ("other", "1")):
        response = wallets.call(
            who, "cancel", consume_reference="b-1", reference=f"c-{who}", zone=zone
        )
        assert response.json()["error"]["code"] == "consume_not_found"
    assert wallets.balance("lee", "GEMS", zone="1")["balance"] == 6


def test_the_merchant_wallet_mirrors_its_users(wallets: Wallets) -> None:
    wallets.call("mo", "recharge", currency="CNY", amount=300)
    wallets.call("mo", "consume", currency="CNY", amount=120)
    lines = wallets.client.get("/v1/merchant/wallet", headers=wallets.tenant.headers).json()
    by_kind = {(line["kind"], line["currency"]): line["balance"] for line in lines}
    assert by_kind == {("funding", "CNY"): -300, ("revenue", "CNY"): 120}


def test_a_completed_withdrawal_pays_its_payout_fee_once(wallets: Wallets, db: Database) -> None:
    merchant = wallets.tenant.merchant_id
    with unit_of_work(db) as session:
        fees.add_agreement(
            session,
            party_type="merchant",
            party_id=merchant,
            document={
                "id": "payouts-2026",
                "party": "shop",
                "party_type": "merchant",
                "currency": "CNY",
                "valid_from": "2026-01-01T00:00:00+08:00",
                "refund_policy": "none",
                "interfaces": [
                    {
                        "id": "wallet",
                        "entries": [
                            {
                                "id": "payout",
                                "when": {"scenario": "payout", "method": "wallet_withdrawal"},
                                "fee": {"kind": "percentage", "rate_bps": 100, "min_minor": 2},
                            }
                        ],
                    }
                ],
            },
        )
    wallets.call("hal", "recharge", currency="CNY", amount=1000)
    hold = wallets.call("hal", "withdrawals", currency="CNY", amount=600).json()
    for _ in range(2):  # completing again replays: one fee
        done = wallets.client.post(
            f"/v1/withdrawals/{hold['id']}/complete", headers=wallets.tenant.headers
        )
        assert done.json()["status"] == "posted", done.text
    with unit_of_work(db, read_only=True) as session:
        charges = session.scalars(
            sa.select(FeeCharge).where(
                FeeCharge.source_id == events.event_id(merchant, f"payout:{hold['id']}")
            )
        ).all()
        assert [(c.kind, c.scenario, c.status, c.amount_minor) for c in charges] == [
            ("merchant_fee", "payout", "posted", 6)  # 1% of 600
        ]
        billed = fee_account(session, merchant, ("merchant", merchant, events.BILLED), "CNY")
        assert balance(session, merchant, billed.id).balance == -6  # the merchant owes it
    _ledger_sums_to_zero(db)
