"""UnionPay and QQ Wallet end to end: Paydesk with its sandbox on loopback, the payer's page,
the signed notification, the order centre, refunds confirmed by the channel; the ledger
balances at every step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paydesk.channels.base import ChannelRejected
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import balance
from paydesk.payments import postings, refunds
from tests.support.jobs import wait_until
from tests.support.ledger_invariants import check_entries
from tests.support.payments import create_order, follow, get, pay, wait_order, wait_refund
from tests.support.sandbox import SandboxServer, sandbox_server


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        yield server


def balances(sandbox: SandboxServer, account_id: str) -> tuple[int, int]:
    """(merchant receivable, the channel account's clearing), after checking every journal."""
    with unit_of_work(sandbox.db) as session:
        check_entries(session, sandbox.merchant_id)
        receivable = postings.receivable_account(session, sandbox.merchant_id, "CNY")
        clearing = postings.clearing_account(session, sandbox.merchant_id, account_id, "CNY")
        return (
            balance(session, sandbox.merchant_id, receivable.id).balance,
            balance(session, sandbox.merchant_id, clearing.id).balance,
        )


def refund_all(sandbox: SandboxServer, order_id: str, amount: int) -> str:
    answer = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        json={"order_id": order_id, "amount": amount, "reason": "returned"},
        headers=sandbox.headers,
    )
    assert answer.status_code == 201, answer.text
    refund_id: str = answer.json()["id"]
    return refund_id


def test_unionpay_page_payment_and_refund(sandbox: SandboxServer) -> None:
    created = create_order(sandbox, 2_000)
    opened = pay(sandbox, created["id"], "unionpay_page", return_url="https://shop.example/back")
    assert opened.status_code == 200, opened.text
    attempt = opened.json()["attempt"]
    action = attempt["action"]
    assert (attempt["channel"], action["kind"]) == ("unionpay", "form_post")
    assert action["redirect_url"].endswith("/sandbox/unionpay/gateway/api/frontTransReq.do")
    assert action["form_fields"]["txnAmt"] == "2000" and action["form_fields"]["signature"]

    # The payer's browser posts the signed form; the gateway shows its pay page.
    page = httpx.post(action["redirect_url"], data=action["form_fields"])
    assert page.status_code == 200 and "<form" in page.text
    order_no = action["form_fields"]["orderId"]
    paid = httpx.post(f"{sandbox.unionpay_control_url}/simulator/trades/{order_no}/pay", json={})
    assert paid.status_code == 200, paid.text
    wait_order(sandbox, created["id"], "succeeded")  # the signed backUrl notification
    assert balances(sandbox, sandbox.unionpay_account_id) == (2_000, -2_000)

    refund_id = refund_all(sandbox, created["id"], 2_000)
    wait_refund(sandbox, refund_id, "succeeded")
    wait_order(sandbox, created["id"], "refunded")
    assert balances(sandbox, sandbox.unionpay_account_id) == (0, 0)


def test_qqwallet_scan_payment_found_by_the_order_centre_and_refunded(
    sandbox: SandboxServer,
) -> None:
    faults = httpx.post(
        f"{sandbox.qqwallet_control_url}/simulator/faults", json={"drop_notifications": 1}
    )
    assert faults.status_code == 200, faults.text
    created = create_order(sandbox, 1_500)
    opened = pay(sandbox, created["id"], "qq_native", client_ip="203.0.113.7")
    assert opened.status_code == 200, opened.text
    attempt = opened.json()["attempt"]
    assert attempt["channel"] == "qqwallet" and attempt["action"]["kind"] == "qr_code"
    page = httpx.get(attempt["action"]["qr_code"])  # the QR code's target: the pay page
    assert page.status_code == 200 and "<form" in page.text

    paid = httpx.post(
        f"{sandbox.qqwallet_control_url}/simulator/trades/{attempt['id']}/pay", json={}
    )
    assert paid.status_code == 200, paid.text
    # The notification was dropped: the order centre's query finds the payment.
    follow(sandbox, attempt["id"])
    wait_order(sandbox, created["id"], "succeeded")
    assert balances(sandbox, sandbox.qqwallet_account_id) == (1_500, -1_500)

    refund_id = refund_all(sandbox, created["id"], 600)

    # QQ Wallet tells refunds by query only: run the order centre's refund query (its job
    # would, 30 s later) until the channel has completed it.
    def confirmed() -> bool:
        with contextlib.suppress(ChannelRejected):  # not submitted by its job yet
            refunds.follow(sandbox.db, sandbox.settings, refund_id, 0)
        return bool(get(sandbox, f"/v1/refunds/{refund_id}")["status"] == "succeeded")

    wait_until(confirmed, timeout_s=15, what="the refund confirmed by query")
    wait_order(sandbox, created["id"], "partially_refunded")
    assert balances(sandbox, sandbox.qqwallet_account_id) == (900, -900)
