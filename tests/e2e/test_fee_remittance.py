"""Remittance rules, the fee schedule and billable events, end to end on a real server with
its WeChat Pay simulator: costs remitted per transaction by netting or monthly by transfer
(borne by the platform or passed through to the merchant), months of volume entries closed
by the schedule once, and a verification scenario configured from scratch and charged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from paydesk.cli.main import app
from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.fees import accounts as fee_accounts
from paydesk.fees import events
from paydesk.ledger.accounts import balance
from paydesk.payments import fee_schedule, postings
from tests.support.fees import (
    add_agreement,
    admin,
    channel_agreement,
    merchant_agreement,
    paid_order,
)
from tests.support.ledger_invariants import check_entries
from tests.support.payments import get, wait_refund
from tests.support.sandbox import SandboxServer, sandbox_server

CN = timezone(timedelta(hours=8))


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        yield server


def with_rule(sandbox: SandboxServer, rule: dict[str, Any], refunds: str = "none") -> None:
    document = channel_agreement(sandbox.wechat_account_id)
    document["remittance"] = rule
    document["refund_policy"] = refunds
    added = add_agreement(sandbox, "channel", sandbox.wechat_account_id, document)
    assert added.status_code == 201, added.text


def balances(sandbox: SandboxServer, **specs: tuple[str, str, str]) -> dict[str, int]:
    """Balances of the merchant's fee accounts by name, and its receivable and clearing,
    after checking every journal balances."""
    merchant, account = sandbox.merchant_id, sandbox.wechat_account_id
    with unit_of_work(sandbox.db) as session:
        check_entries(session, merchant)
        found = {
            "receivable": postings.receivable_account(session, merchant, "CNY"),
            "clearing": postings.clearing_account(session, merchant, account, "CNY"),
        }
        for name, spec in specs.items():
            found[name] = fee_accounts.fee_account(session, merchant, spec, "CNY")
        return {name: balance(session, merchant, a.id).balance for name, a in found.items()}


def remittances(sandbox: SandboxServer) -> list[dict[str, Any]]:
    window = {
        "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    answer = httpx.get(
        f"{sandbox.base_url}/v1/fees/remittances", headers=sandbox.headers, params=window
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def next_month_start(at: datetime) -> datetime:
    local = at.astimezone(CN)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=CN)


def test_costs_netted_per_transaction_leave_nothing_payable(sandbox: SandboxServer) -> None:
    with_rule(sandbox, {"when": "per_transaction", "by": "netting"}, refunds="proportional")
    payable = ("channel_account", sandbox.wechat_account_id, "cost_payable")

    order_id = paid_order(sandbox, 10_000)
    # 0.25% = 25 accrued, then deducted by the channel from what it owes (the clearing)
    assert balances(sandbox, payable=payable) == {
        "receivable": 10_000,
        "clearing": -9_975,
        "payable": 0,
    }
    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": order_id, "amount": 4_000},
    )
    assert refund.status_code == 201, refund.text
    wait_refund(sandbox, refund.json()["id"], "succeeded")
    # 10 of the cost comes back (proportional) and the channel settles it back: -10 remitted
    assert balances(sandbox, payable=payable) == {
        "receivable": 6_000,
        "clearing": -9_975 + 4_000 - 10,
        "payable": 0,
    }
    made = [(r["schedule"], r["method"], r["payee"], r["amount"]) for r in remittances(sandbox)]
    assert made == [
        ("per_transaction", "netting", "channel", 25),
        ("per_transaction", "netting", "channel", -10),
    ]


def test_costs_passed_through_are_remitted_monthly_by_transfer_once(
    sandbox: SandboxServer,
) -> None:
    assert (
        add_agreement(
            sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"])
        ).status_code
        == 201
    )
    with_rule(sandbox, {"payer": "merchant", "payee": "visa", "when": "monthly", "by": "transfer"})
    specs = {
        "payable": ("fee_payee", f"visa:{sandbox.wechat_account_id}", "cost_payable"),
        "remitted": fee_accounts.REMITTED,
        "channel_costs": fee_accounts.CHANNEL_COSTS,
    }
    order_id = paid_order(sandbox, 10_000)
    charges = {c["kind"]: c for c in get(sandbox, f"/v1/orders/{order_id}/fees")}
    assert (charges["channel_cost"]["amount"], charges["channel_cost"]["borne_by"]) == (
        25,
        "merchant",
    )
    # the merchant pays its fee (60) and the cost (25); the platform bears nothing
    assert balances(sandbox, **specs) == {
        "receivable": 9_915,
        "clearing": -10_000,
        "payable": 25,
        "remitted": 0,
        "channel_costs": 0,
    }
    window = {
        "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "group_by": "merchant",
    }
    (row,) = get(sandbox, "/v1/fees/report?" + str(httpx.QueryParams(window)))
    assert (row["fee_income"], row["channel_cost"], row["passed_through"], row["margin"]) == (
        60,
        0,
        25,
        60,
    )

    # The month has not ended: the schedule remits nothing yet.
    ran = httpx.post(f"{sandbox.base_url}/v1/fees/schedule/run", headers=admin(sandbox))
    assert ran.status_code == 200 and ran.json()["remittances"] == 0, ran.text
    after = next_month_start(clock.now()) + timedelta(hours=1)
    for _ in range(2):  # the second run finds the month remitted
        with unit_of_work(sandbox.db) as session:
            fee_schedule.run_schedule(session, now=after)
    assert balances(sandbox, **specs) == {
        "receivable": 9_915,
        "clearing": -10_000,
        "payable": 0,
        "remitted": 25,
        "channel_costs": 0,
    }
    (made,) = remittances(sandbox)
    month = clock.now().astimezone(CN).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert (made["schedule"], made["method"], made["payee"], made["amount"]) == (
        "monthly",
        "transfer",
        "visa",
        25,
    )
    assert made["period_key"] == f"{month.isoformat()}/P1M"


def test_the_schedule_closes_an_ended_month_once(sandbox: SandboxServer) -> None:
    volume = merchant_agreement(["wechat_native"])
    volume["interfaces"][0]["entries"][0]["fee"] = {
        "kind": "volume",
        "basis": "count",
        "tiers": [{"up_to": 1, "rate_bps": 60}, {"rate_bps": 30}],
        "provisional": {"kind": "percentage", "rate_bps": 60},
    }
    assert add_agreement(sandbox, "merchant", sandbox.merchant_id, volume).status_code == 201
    paid_order(sandbox, 10_000)
    paid_order(sandbox, 5_000)  # provisional 60 + 30; the month's volume tier: 0.30% = 45
    income = ("platform", "fees", "fee_income")
    assert balances(sandbox, income=income)["income"] == 90
    month_start = clock.now().astimezone(CN).replace(day=1, hour=0, minute=0, second=0)
    month = (
        "merchant",
        sandbox.merchant_id,
        f"{month_start.replace(microsecond=0).isoformat()}/P1M",
    )
    month_end = next_month_start(clock.now())
    with unit_of_work(sandbox.db) as session:  # within a day of the end: not yet
        early = fee_schedule.run_schedule(session, now=month_end + timedelta(hours=2))
    assert month not in early.closed
    assert balances(sandbox, income=income)["income"] == 90
    later = month_end + fee_schedule.CLOSE_GRACE + timedelta(hours=1)
    with unit_of_work(sandbox.db) as session:
        done = fee_schedule.run_schedule(session, now=later)
    assert month in done.closed
    assert balances(sandbox, income=income)["income"] == 45
    with unit_of_work(sandbox.db) as session:
        again = fee_schedule.run_schedule(session, now=later + timedelta(days=1))
    assert again.closed == []
    assert balances(sandbox, income=income)["income"] == 45


def verification_entry(fee: dict[str, Any]) -> dict[str, Any]:
    return {"id": "kyc", "when": {"scenario": "verification"}, "fee": fee}


def test_a_verification_scenario_is_configured_and_charged_without_code(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The scenario exists nowhere in the code: agreements name it (one through the CLI, one
    through the API), and events of it are quoted, charged once, and reported."""
    merchant_doc = merchant_agreement(["wechat_native"])
    merchant_doc["interfaces"][0]["entries"].append(
        verification_entry(
            {
                "kind": "per_call",
                "tiers": [{"up_to": 1, "fee_minor": 150}, {"fee_minor": 120}],
                "call_fee_minor": 10,
            }
        )
    )
    path = tmp_path / "merchant.json"
    path.write_text(json.dumps(merchant_doc))
    added = CliRunner().invoke(
        app,
        [
            *("fees", "add", "--party-type", "merchant"),
            *("--party-id", sandbox.merchant_id, "--file", str(path)),
        ],
        env={"PAYDESK_DATABASE_URL": sandbox.db.url},
    )
    assert added.exit_code == 0, added.output
    channel_doc = channel_agreement(sandbox.wechat_account_id)
    channel_doc["interfaces"][0]["entries"].append(
        verification_entry({"kind": "per_call", "tiers": [{"fee_minor": 50}]})
    )
    assert (
        add_agreement(sandbox, "channel", sandbox.wechat_account_id, channel_doc).status_code == 201
    )

    quote = get(
        sandbox,
        "/v1/fees/quote?amount=0&currency=CNY&method=wechat_native&scenario=verification"
        "&verified_items=3",
    )
    assert quote["merchant_fee"]["amount"] == 3 * 120 + 10
    assert [a["cost"]["amount"] for a in quote["accounts"]] == [150]

    event = {
        "reference": "kyc-0001",
        "scenario": "verification",
        "currency": "CNY",
        "verified_items": 3,
        "channel_account_id": sandbox.wechat_account_id,
    }
    first = httpx.post(f"{sandbox.base_url}/v1/fees/events", headers=sandbox.headers, json=event)
    assert first.status_code == 201, first.text
    charged = {c["kind"]: c for c in first.json()["charges"]}
    assert charged["merchant_fee"]["amount"] == 370
    assert (
        "per_call tier 2 (items > 1): 3 items x 120"
        in charged["merchant_fee"]["explanation"]["text"]
    )
    assert charged["channel_cost"]["amount"] == 150
    again = httpx.post(f"{sandbox.base_url}/v1/fees/events", headers=sandbox.headers, json=event)
    assert again.status_code == 201 and again.json() == first.json()  # a retry: once
    reused = httpx.post(
        f"{sandbox.base_url}/v1/fees/events",
        headers=sandbox.headers,
        json={**event, "verified_items": 4},
    )
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "reference_reused"
    bad = httpx.post(
        f"{sandbox.base_url}/v1/fees/events",
        headers=sandbox.headers,
        json={**event, "reference": "kyc-0002", "verified_items": 0},
    )
    # no item verified: the per-call entries cannot price it; reported, never charged zero
    assert bad.status_code == 201, bad.text
    assert [(c["status"], c["explanation"]["error"]) for c in bad.json()["charges"]] == [
        ("unmatched", "invalid_fee_transaction"),
        ("unmatched", "invalid_fee_transaction"),
    ]

    billed = ("merchant", sandbox.merchant_id, events.BILLED)
    assert balances(
        sandbox,
        billed=billed,
        income=fee_accounts.FEE_INCOME,
        payable=("channel_account", sandbox.wechat_account_id, "cost_payable"),
    ) == {"receivable": 0, "clearing": 0, "billed": -370, "income": 370, "payable": 150}
    window = {
        "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "group_by": "scenario",
    }
    (row,) = get(sandbox, "/v1/fees/report?" + str(httpx.QueryParams(window)))
    assert (row["group"], row["fee_income"], row["channel_cost"], row["margin"]) == (
        "verification",
        370,
        150,
        220,
    )
