"""Fees and costs of channel payments, end to end: the merchant's agreement and the channel
account's agreement price a WeChat Pay payment when it succeeds, post balanced journals, give
back under their refund policies when a refund succeeds, quote hypothetical payments, and
report (never silently zero) a payment no entry matches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from paydesk.cli.main import app
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.payments import fee_recompute
from tests.support.fees import (
    add_agreement,
    admin,
    books,
    channel_agreement,
    merchant_agreement,
    paid_order,
)
from tests.support.jobs import wait_until
from tests.support.payments import (
    create_order,
    get,
    pay,
    set_faults,
    wait_refund,
)
from tests.support.routing import put_policy, second_wechat_account
from tests.support.sandbox import SandboxServer, sandbox_server


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        yield server


def test_a_payment_pays_its_fee_and_accrues_its_cost_and_refunds_give_back(
    sandbox: SandboxServer,
) -> None:
    assert (
        add_agreement(
            sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"])
        ).status_code
        == 201
    )
    added = add_agreement(
        sandbox, "channel", sandbox.wechat_account_id, channel_agreement(sandbox.wechat_account_id)
    )
    assert added.status_code == 201, added.text

    order_id = paid_order(sandbox, 10_000)
    charges = {c["kind"]: c for c in get(sandbox, f"/v1/orders/{order_id}/fees")}
    assert charges["merchant_fee"]["amount"] == 60  # 0.60% of 100.00
    assert (
        "percentage 0.60% of 10000 = 60.000 -> 60 (half_up)"
        in charges["merchant_fee"]["explanation"]["text"]
    )
    assert charges["channel_cost"]["amount"] == 25  # 0.25%
    assert books(sandbox) == {
        "receivable": 9_940,
        "fee_income": 60,
        "channel_costs": -25,
        "cost_payable": 25,
    }

    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": order_id, "amount": 4_000},
    )
    assert refund.status_code == 201, refund.text
    wait_refund(sandbox, refund.json()["id"], "succeeded")
    kinds = {c["kind"]: c["amount"] for c in get(sandbox, f"/v1/orders/{order_id}/fees")}
    assert kinds["merchant_fee_return"] == 24  # proportional: 40% of the fee
    assert kinds["channel_cost_return"] == 0  # the channel keeps its cost ("none")
    # 9,940 - 4,000 refunded + 24 fee given back
    assert books(sandbox) == {
        "receivable": 5_964,
        "fee_income": 36,
        "channel_costs": -25,
        "cost_payable": 25,
    }


def test_a_payment_no_entry_matches_is_reported_not_charged_zero(
    sandbox: SandboxServer,
) -> None:
    add_agreement(sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["alipay_qr"]))
    order_id = paid_order(sandbox, 5_000)
    (charge,) = get(sandbox, f"/v1/orders/{order_id}/fees")
    assert (charge["kind"], charge["status"]) == ("merchant_fee", "unmatched")
    assert charge["explanation"]["error"] == "no_matching_entry"
    assert books(sandbox)["receivable"] == 5_000


def test_a_quote_prices_the_fee_and_each_accounts_cost(sandbox: SandboxServer) -> None:
    add_agreement(sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"]))
    add_agreement(
        sandbox, "channel", sandbox.wechat_account_id, channel_agreement(sandbox.wechat_account_id)
    )
    quote = get(sandbox, "/v1/fees/quote?amount=20000&currency=CNY&method=wechat_native")
    assert quote["merchant_fee"]["amount"] == 120
    (account,) = quote["accounts"]
    assert account["account_id"] == sandbox.wechat_account_id
    assert (account["cost"]["amount"], account["margin"]) == (50, 70)


def test_bad_agreements_are_refused(sandbox: SandboxServer) -> None:
    doc = merchant_agreement(["wechat_native"])
    doc["interfaces"][0]["entries"][0]["fee"] = {
        "kind": "percentage",
        "rate_bps": 60,
        "rate": "0.1",
    }
    bad = add_agreement(sandbox, "merchant", sandbox.merchant_id, doc)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_fee_agreement"
    assert bad.json()["error"]["param"].startswith("interfaces.0.entries.0.fee")
    ok = add_agreement(sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["x"]))
    assert ok.status_code == 201
    overlapping = merchant_agreement(["y"]) | {"id": "shop-2026-bis"}
    again = add_agreement(sandbox, "merchant", sandbox.merchant_id, overlapping)
    assert again.status_code == 409 and again.json()["error"]["code"] == "overlapping_agreements"
    not_admin = httpx.post(
        f"{sandbox.base_url}/v1/fee-agreements",
        headers=sandbox.headers,
        json={"party_type": "merchant", "party_id": sandbox.merchant_id, "document": doc},
    )
    assert not_admin.status_code == 403


def test_least_cost_routing_asks_the_fee_centre(sandbox: SandboxServer) -> None:
    first = sandbox.wechat_account_id
    second, _ = second_wechat_account(sandbox)
    # The configured costs say the first is cheaper; the agreements say the second is.
    put_policy(
        sandbox,
        {
            "default_strategy": "least_cost",
            "costs": {first: {"rate_bps": 10}, second: {"rate_bps": 90}},
        },
    )
    expensive = channel_agreement(first)
    expensive["interfaces"][0]["entries"][0]["fee"]["rate_bps"] = 60
    cheap = channel_agreement(second) | {"id": "wx-2026-b"}
    cheap["interfaces"][0]["entries"][0]["fee"]["rate_bps"] = 20
    assert add_agreement(sandbox, "channel", first, expensive).status_code == 201
    assert add_agreement(sandbox, "channel", second, cheap).status_code == 201

    created = create_order(sandbox, 10_000)
    answer = pay(sandbox, created["id"], "wechat_native")
    assert answer.status_code == 200, answer.text
    assert answer.json()["attempt"]["channel_account_id"] == second
    decision = get(sandbox, f"/v1/orders/{created['id']}/routing")[0]
    assert {c["account_id"]: c["cost"] for c in decision["candidates"]} == {first: 60, second: 20}


def test_the_report_sums_income_cost_and_margin_and_exports_csv(sandbox: SandboxServer) -> None:
    add_agreement(sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"]))
    add_agreement(
        sandbox, "channel", sandbox.wechat_account_id, channel_agreement(sandbox.wechat_account_id)
    )
    started = datetime.now(UTC)
    paid_order(sandbox, 10_000)  # fee 60, cost 25
    paid_order(sandbox, 5_000)  # fee 30, cost 13 (12.5 -> 13, half up)
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    by_channel = httpx.get(
        f"{sandbox.base_url}/v1/fees/report",
        headers=sandbox.headers,
        params={**window, "group_by": "channel"},
    )
    assert by_channel.status_code == 200, by_channel.text
    assert by_channel.json() == [
        {
            "group": sandbox.wechat_account_id,
            "currency": "CNY",
            "fee_income": 90,
            "channel_cost": 38,
            "margin": 52,
            "passed_through": 0,
            "charges": 4,
            "unmatched": 0,
        }
    ]
    as_csv = httpx.get(
        f"{sandbox.base_url}/v1/fees/report",
        headers=sandbox.headers,
        params={**window, "group_by": "scenario", "format": "csv"},
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines() == [
        "group,currency,fee_income,channel_cost,margin,passed_through,charges,unmatched",
        "collection,CNY,90,38,52,0,4,0",
    ]
    daily = httpx.get(
        f"{sandbox.base_url}/v1/fees/report", headers=sandbox.headers, params=window
    ).json()
    days = {started.date().isoformat(), now.date().isoformat()}  # one, unless midnight passed
    assert {row["group"] for row in daily} <= days
    assert sum(row["margin"] for row in daily) == 52


def test_a_changed_agreement_is_recomputed_once_and_resumably(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    first = add_agreement(
        sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"])
    ).json()
    started = datetime.now(UTC)
    orders = [paid_order(sandbox, 10_000), paid_order(sandbox, 5_000)]  # fees 60 and 30
    # The rate was agreed at 0.40%, not 0.60%: retire the first agreement, store the right one.
    retired = httpx.post(
        f"{sandbox.base_url}/v1/fee-agreements/{first['id']}/retire", headers=admin(sandbox)
    )
    assert retired.status_code == 200, retired.text
    corrected = merchant_agreement(["wechat_native"]) | {"id": "shop-2026-v2"}
    corrected["interfaces"][0]["entries"][0]["fee"]["rate_bps"] = 40
    assert add_agreement(sandbox, "merchant", sandbox.merchant_id, corrected).status_code == 201

    period = {
        "party_type": "merchant",
        "party_id": sandbox.merchant_id,
        "period_start": started - timedelta(minutes=1),
        "period_end": datetime.now(UTC) + timedelta(minutes=1),
    }
    with unit_of_work(sandbox.db) as session:
        run_id = fee_recompute.start(session, **period).id
    one = fee_recompute.step(sandbox.db, run_id, batch=1)  # stopped after one payment...
    assert (one.status, one.processed) == ("running", 1)
    done = fee_recompute.run_to_end(sandbox.db, run_id)  # ...and resumed
    assert (done.status, done.processed, done.adjusted, done.adjustment_minor) == (
        "done",
        2,
        2,
        -30,
    )
    adjustments = {
        order_id: [c["amount"] for c in get(sandbox, f"/v1/orders/{order_id}/fees")]
        for order_id in orders
    }
    assert adjustments == {orders[0]: [60, -20], orders[1]: [30, -10]}
    assert books(sandbox)["fee_income"] == 60 and books(sandbox)["receivable"] == 14_940

    # A second run finds nothing to change; running a finished run again posts nothing.
    with unit_of_work(sandbox.db) as session:
        again = fee_recompute.start(session, **period).id
    assert fee_recompute.run_to_end(sandbox.db, again).adjusted == 0
    assert fee_recompute.run_to_end(sandbox.db, run_id).adjusted == 2
    assert books(sandbox)["fee_income"] == 60

    # The same from the command line, with its progress bar.
    cli = CliRunner().invoke(
        app,
        [
            "fees",
            "recompute",
            "--party-type",
            "merchant",
            "--party-id",
            sandbox.merchant_id,
            "--from",
            period["period_start"].isoformat(),
            "--to",
            period["period_end"].isoformat(),
        ],
        env={"PAYDESK_DATABASE_URL": sandbox.db.url, "PAYDESK_DATA_DIR": str(tmp_path / "cli")},
    )
    assert cli.exit_code == 0, cli.output
    assert "2 payments, 0 adjusted" in cli.output


def test_a_volume_period_is_closed_once_with_its_adjustment(sandbox: SandboxServer) -> None:
    volume = merchant_agreement(["wechat_native"])
    volume["interfaces"][0]["entries"][0]["fee"] = {
        "kind": "volume",
        "basis": "count",
        "tiers": [{"up_to": 1, "rate_bps": 60}, {"rate_bps": 30}],
        "provisional": {"kind": "percentage", "rate_bps": 60},
    }
    assert add_agreement(sandbox, "merchant", sandbox.merchant_id, volume).status_code == 201
    started = datetime.now(UTC) - timedelta(minutes=1)
    paid_order(sandbox, 10_000)
    paid_order(sandbox, 5_000)  # provisional fees 60 + 30
    assert books(sandbox)["fee_income"] == 90
    period = {
        "party_type": "merchant",
        "party_id": sandbox.merchant_id,
        "period_start": started,
        "period_end": datetime.now(UTC) + timedelta(minutes=1),
    }
    (closed,) = fee_recompute.close_period(sandbox.db, **period)
    # Two payments reach the second tier: 0.30% of 15,000 = 45 for the period, 45 less.
    assert (closed.entry, closed.adjustment_minor) == ("scan", -45)
    assert books(sandbox)["fee_income"] == 45 and books(sandbox)["receivable"] == 14_955
    fee_recompute.close_period(sandbox.db, **period)  # closing it again changes nothing
    assert books(sandbox)["fee_income"] == 45


def test_a_whole_refund_gets_its_fee_back_and_a_refused_one_pays_it_again(
    sandbox: SandboxServer,
) -> None:
    # The fee left the receivable with the payment: a refund of the whole order needs it back
    # when the refund is accepted, or the receivable could not cover it.
    add_agreement(sandbox, "merchant", sandbox.merchant_id, merchant_agreement(["wechat_native"]))
    refused_order = paid_order(sandbox, 3_000)  # fee 18
    whole_order = paid_order(sandbox, 10_000)  # fee 60
    assert books(sandbox)["receivable"] == 12_922

    set_faults(sandbox, "wechatpay", hold_refunds=True)
    refused = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": refused_order, "amount": 3_000},
    ).json()
    # Accepted: the fee is given back (18) and the whole amount set aside.
    assert books(sandbox)["receivable"] == 12_922 + 18 - 3_000
    wait_until(
        lambda: bool(
            httpx.post(
                f"{sandbox.wechat_control_url}/simulator/refunds/{refused['id']}/complete",
                json={"status": "ABNORMAL"},
            ).status_code
            == 200
        ),
        timeout_s=15,
        what="the refund to reach the channel",
    )
    wait_refund(sandbox, refused["id"], "failed")
    # Refused: the money comes back and the fee is charged again.
    assert books(sandbox) == {
        "receivable": 12_922,
        "fee_income": 78,
        "channel_costs": 0,
        "cost_payable": 0,
    }
    statuses = {c["kind"]: c["status"] for c in get(sandbox, f"/v1/orders/{refused_order}/fees")}
    assert statuses == {"merchant_fee": "posted", "merchant_fee_return": "reversed"}

    set_faults(sandbox, "wechatpay", hold_refunds=False)
    whole = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": whole_order},
    )
    assert whole.status_code == 201, whole.text
    wait_refund(sandbox, whole.json()["id"], "succeeded")
    kinds = {c["kind"]: c["amount"] for c in get(sandbox, f"/v1/orders/{whole_order}/fees")}
    assert kinds == {"merchant_fee": 60, "merchant_fee_return": 60}
    # 12,922 - 10,000 refunded + 60 fee given back
    assert books(sandbox)["receivable"] == 2_982 and books(sandbox)["fee_income"] == 18
