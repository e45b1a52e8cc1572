"""Channel payments settled in the merchant's currency: a CNY order paid through WeChat Pay
for a merchant settled in USD is converted once at the recorded rate (source and time kept,
named rounding, both amounts kept); refunds give back exactly what was converted; without a
fresh rate the conversion waits for one. Every journal balances in every currency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.fees import service as fees
from paydesk.fx import service as fx_service
from paydesk.ledger.accounts import balance
from paydesk.merchants import auth
from paydesk.payments import postings, settlement
from paydesk.payments.orders import lock_order
from tests.support.jobs import wait_until
from tests.support.ledger_invariants import check_entries
from tests.support.payments import (
    create_order,
    get,
    pay,
    set_faults,
    simulator_pay,
    wait_order,
    wait_refund,
)
from tests.support.sandbox import SandboxServer, sandbox_server


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        settings = httpx.put(
            f"{server.base_url}/v1/payment-settings",
            headers=server.headers,
            json={"settlement_currency": "USD", "fx_rounding": "half_even"},
        )
        assert settings.status_code == 200, settings.text
        assert settings.json()["settlement_currency"] == "USD"
        yield server


def record_rate(sandbox: SandboxServer, rate: str, *, age: timedelta = timedelta(0)) -> str:
    """Recorded through the API, with a platform admin key."""
    with unit_of_work(sandbox.db) as session:
        admin = auth.issue_admin_key(session, label="fx-test", actor="test").secret
    answer = httpx.post(
        f"{sandbox.base_url}/v1/fx-rates",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "base": "CNY",
            "quote": "USD",
            "rate": rate,
            "source": "test-bank",
            "as_of": (clock.now() - age).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    rate_id: str = answer.json()["id"]
    return rate_id


def money(sandbox: SandboxServer) -> dict[str, int]:
    """Receivables and FX positions in both currencies, after checking every journal."""
    with unit_of_work(sandbox.db) as session:
        check_entries(session, sandbox.merchant_id)
        merchant = sandbox.merchant_id
        found = {}
        for currency in ("CNY", "USD"):
            receivable = postings.receivable_account(session, merchant, currency)
            position = settlement.fx_position(session, merchant, currency)
            found[f"receivable_{currency}"] = balance(session, merchant, receivable.id).balance
            found[f"fx_{currency}"] = balance(session, merchant, position.id).balance
        return found


def paid_order(sandbox: SandboxServer, amount: int) -> str:
    created = create_order(sandbox, amount)
    answer = pay(sandbox, created["id"], "wechat_native")
    assert answer.status_code == 200, answer.text
    assert simulator_pay(sandbox, "wechatpay", answer.json()["attempt"]["id"]).status_code == 200
    wait_order(sandbox, created["id"], "succeeded")
    order_id: str = created["id"]
    return order_id


def refund(sandbox: SandboxServer, order_id: str, amount: int) -> None:
    answer = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": order_id, "amount": amount},
    )
    assert answer.status_code == 201, answer.text
    wait_refund(sandbox, answer.json()["id"], "succeeded")


def test_a_payment_is_converted_once_and_refunds_give_back_exactly(
    sandbox: SandboxServer,
) -> None:
    rate_id = record_rate(sandbox, "0.14037")
    order_id = paid_order(sandbox, 10_000)  # 100.00 CNY = 14.037 USD -> 14.04

    converted = get(sandbox, f"/v1/orders/{order_id}/settlement")
    assert (converted["from_currency"], converted["from_amount"]) == ("CNY", 10_000)
    assert (converted["to_currency"], converted["to_amount"]) == ("USD", 1_404)
    assert (converted["rate"], converted["rate_id"]) == ("0.14037", rate_id)
    assert (converted["rate_source"], converted["rounding"]) == ("test-bank", "half_even")
    assert converted["rate_inverted"] is False
    assert money(sandbox) == {
        "receivable_CNY": 0,
        "fx_CNY": 10_000,
        "receivable_USD": 1_404,
        "fx_USD": -1_404,
    }

    refund(sandbox, order_id, 2_500)  # 25.00 CNY back: 3.50925 USD -> 3.51
    assert money(sandbox) == {
        "receivable_CNY": 0,
        "fx_CNY": 7_500,
        "receivable_USD": 1_053,
        "fx_USD": -1_053,
    }
    refund(sandbox, order_id, 7_500)  # the rest takes what is left: 10.53 USD
    assert money(sandbox) == {"receivable_CNY": 0, "fx_CNY": 0, "receivable_USD": 0, "fx_USD": 0}
    after = get(sandbox, f"/v1/orders/{order_id}/settlement")
    assert (after["given_back_from"], after["given_back_to"]) == (10_000, 1_404)


def test_an_inverse_rate_is_used_exactly(sandbox: SandboxServer) -> None:
    with unit_of_work(sandbox.db) as session:
        fx_service.record_rate(
            session, base="USD", quote="CNY", rate="7.125", source="inverse-bank"
        )
    order_id = paid_order(sandbox, 7_125)  # 71.25 CNY / 7.125 = exactly 10.00 USD
    converted = get(sandbox, f"/v1/orders/{order_id}/settlement")
    assert converted["to_amount"] == 1_000
    assert converted["rate_inverted"] is True
    assert converted["rate"] == "8/57"  # 1 / 7.125 exactly: not a finite decimal


def test_without_a_fresh_rate_the_conversion_waits_for_one(sandbox: SandboxServer) -> None:
    record_rate(sandbox, "0.15", age=timedelta(days=3))  # too old: the default allows a day
    order_id = paid_order(sandbox, 2_000)
    missing = httpx.get(
        f"{sandbox.base_url}/v1/orders/{order_id}/settlement", headers=sandbox.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_converted"
    assert money(sandbox)["receivable_CNY"] == 2_000

    record_rate(sandbox, "0.14")
    with unit_of_work(sandbox.db) as session:  # what the waiting job does on its next run
        settlement.convert_paid_order(session, lock_order(session, order_id))
    assert get(sandbox, f"/v1/orders/{order_id}/settlement")["to_amount"] == 280
    assert money(sandbox)["receivable_CNY"] == 0 and money(sandbox)["receivable_USD"] == 280


def test_bad_settings_and_rates_are_refused(sandbox: SandboxServer) -> None:
    bad = httpx.put(
        f"{sandbox.base_url}/v1/payment-settings",
        headers=sandbox.headers,
        json={"fx_rounding": "sideways"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "fx_rounding"
    not_admin = httpx.post(
        f"{sandbox.base_url}/v1/fx-rates",
        headers=sandbox.headers,
        json={"base": "CNY", "quote": "USD", "rate": "0.14", "source": "me"},
    )
    assert not_admin.status_code == 403
    with unit_of_work(sandbox.db) as session:
        admin = auth.issue_admin_key(session, label="fx-test", actor="test").secret
    for body, param in (
        ({"base": "CNY", "quote": "USD", "rate": "0", "source": "x"}, "rate"),
        ({"base": "CNY", "quote": "USD", "rate": "abc", "source": "x"}, "rate"),
        ({"base": "CNY", "quote": "XXZ", "rate": "0.1", "source": "x"}, "quote"),
    ):
        answer = httpx.post(
            f"{sandbox.base_url}/v1/fx-rates",
            headers={"Authorization": f"Bearer {admin}"},
            json=body,
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["param"] == param
    assert get(sandbox, "/v1/fx-rates") == []


def test_a_converted_payment_with_a_fee_is_refunded_whole_and_a_refused_refund_undone(
    sandbox: SandboxServer,
) -> None:
    """The fee (0.60%, 60) left the CNY receivable before the conversion, so 9,940 CNY were
    converted: refunding all 10,000 takes the fee back, converts back what was converted, and
    a refused refund puts every part back where it was."""
    with unit_of_work(sandbox.db) as session:
        fees.add_agreement(
            session,
            party_type="merchant",
            party_id=sandbox.merchant_id,
            document={
                "id": "shop",
                "party": "shop",
                "party_type": "merchant",
                "currency": "CNY",
                "valid_from": "2026-01-01T00:00:00+00:00",
                "refund_policy": "proportional",
                "interfaces": [
                    {
                        "id": "all",
                        "entries": [{"id": "any", "fee": {"kind": "percentage", "rate_bps": 60}}],
                    }
                ],
            },
        )
    record_rate(sandbox, "0.14037")
    order_id = paid_order(sandbox, 10_000)
    converted = get(sandbox, f"/v1/orders/{order_id}/settlement")
    assert (converted["from_amount"], converted["to_amount"]) == (9_940, 1_395)  # 1395.2778
    before = money(sandbox)

    set_faults(sandbox, "wechatpay", hold_refunds=True)
    answer = httpx.post(
        f"{sandbox.base_url}/v1/refunds", headers=sandbox.headers, json={"order_id": order_id}
    )
    assert answer.status_code == 201, answer.text
    refund_id = answer.json()["id"]
    wait_until(
        lambda: (
            httpx.post(
                f"{sandbox.wechat_control_url}/simulator/refunds/{refund_id}/complete",
                json={"status": "CLOSED"},  # closed: the amount can be refunded again
            ).status_code
            == 200
        ),
        timeout_s=15,
        what="the refund to reach the channel",
    )
    wait_refund(sandbox, refund_id, "failed")
    assert money(sandbox) == before  # every part put back

    set_faults(sandbox, "wechatpay", hold_refunds=False)
    again = httpx.post(
        f"{sandbox.base_url}/v1/refunds", headers=sandbox.headers, json={"order_id": order_id}
    )
    assert again.status_code == 201, again.text
    wait_refund(sandbox, again.json()["id"], "succeeded")
    assert money(sandbox) == {"receivable_CNY": 0, "fx_CNY": 0, "receivable_USD": 0, "fx_USD": 0}
