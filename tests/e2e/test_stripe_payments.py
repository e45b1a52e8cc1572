"""Cards through Stripe, end to end: Paydesk with its sandbox, whose Stripe is localstripe (a
real, independent Stripe API server on loopback). Pay with a card token, be told by a signed
webhook, refund; a declined card fails the attempt and leaves the order payable."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import balance
from paydesk.payments import postings
from tests.support.ledger_invariants import check_entries
from tests.support.localstripe import (
    TEST_PUBLISHABLE_KEY,
    TEST_SECRET_KEY,
    LocalStripe,
    localstripe_server,
)
from tests.support.payments import create_order, get, pay, wait_order, wait_refund
from tests.support.sandbox import SandboxServer, sandbox_server

VISA_OK = "4242424242424242"
DECLINED = "4000000000000341"


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with localstripe_server() as server:
        yield server


@pytest.fixture
def shop(
    db: Database, tmp_path: Path, localstripe: LocalStripe
) -> Iterator[tuple[SandboxServer, str]]:
    """The sandbox server with a Stripe sandbox account whose webhooks localstripe sends to
    Paydesk's notification URL, signed with the account's secret."""
    with sandbox_server(db, tmp_path, stripe_sandbox_url=localstripe.url) as sandbox:
        webhook_secret = f"whsec_{secrets.token_hex(16)}"
        created = httpx.post(
            f"{sandbox.base_url}/v1/channel-accounts",
            headers=sandbox.headers,
            json={
                "channel": "stripe",
                "name": "Cards",
                "mode": "sandbox",
                "credentials": {
                    "secret_key": TEST_SECRET_KEY,
                    "publishable_key": TEST_PUBLISHABLE_KEY,
                    "webhook_secret": webhook_secret,
                },
            },
        )
        assert created.status_code == 201, created.text
        account_id = created.json()["id"]
        localstripe.configure_webhook(
            f"paydesk-{secrets.token_hex(4)}",
            f"{sandbox.base_url}/notify/stripe/{account_id}",
            webhook_secret,
        )
        yield sandbox, account_id


def stripe_money(sandbox: SandboxServer, account_id: str) -> dict[str, int]:
    with unit_of_work(sandbox.db) as session:
        check_entries(session, sandbox.merchant_id)
        receivable = postings.receivable_account(session, sandbox.merchant_id, "USD")
        clearing = postings.clearing_account(session, sandbox.merchant_id, account_id, "USD")
        return {
            "receivable": balance(session, sandbox.merchant_id, receivable.id).balance,
            "clearing": balance(session, sandbox.merchant_id, clearing.id).balance,
        }


def card_pay(sandbox: SandboxServer, order_id: str, token: str | None) -> httpx.Response:
    extra: dict[str, Any] = {"payment_token": token} if token else {}
    return pay(sandbox, order_id, "card", **extra)


def test_a_card_pays_through_stripe_and_a_webhook_confirms_it(
    shop: tuple[SandboxServer, str], localstripe: LocalStripe
) -> None:
    sandbox, account_id = shop
    created = create_order(sandbox, 2500, currency="USD")
    answer = card_pay(sandbox, created["id"], localstripe.card_payment_method(VISA_OK))
    assert answer.status_code == 200, answer.text
    attempt = answer.json()["attempt"]
    assert attempt["channel"] == "stripe" and attempt["channel_account_id"] == account_id
    assert attempt["channel_trade_no"].startswith("pi_")
    assert attempt["action"]["kind"] == "none"
    # localstripe sends payment_intent.succeeded, signed; Paydesk verifies it and pays.
    paid = wait_order(sandbox, created["id"], "succeeded")
    assert paid["amount_paid"] == 2500
    assert stripe_money(sandbox, account_id) == {"receivable": 2500, "clearing": -2500}

    refund = httpx.post(
        f"{sandbox.base_url}/v1/refunds",
        headers=sandbox.headers,
        json={"order_id": created["id"], "amount": 1000, "reason": "one item back"},
    )
    assert refund.status_code in (200, 201), refund.text
    wait_refund(sandbox, refund.json()["id"], "succeeded")
    assert get(sandbox, f"/v1/orders/{created['id']}")["status"] == "partially_refunded"
    assert stripe_money(sandbox, account_id) == {"receivable": 1500, "clearing": -1500}


def test_a_declined_card_fails_the_attempt_and_the_order_can_be_paid_again(
    shop: tuple[SandboxServer, str], localstripe: LocalStripe
) -> None:
    sandbox, account_id = shop
    created = create_order(sandbox, 900, currency="USD")
    declined = card_pay(sandbox, created["id"], localstripe.card_payment_method(DECLINED))
    assert declined.status_code == 502, declined.text
    assert declined.json()["error"]["code"] == "channel_rejected"
    assert "card_declined" in declined.json()["error"]["message"]
    attempts = get(sandbox, f"/v1/orders/{created['id']}/attempts")
    assert [a["status"] for a in attempts] == ["failed"]
    assert get(sandbox, f"/v1/orders/{created['id']}")["status"] == "created"

    again = card_pay(sandbox, created["id"], localstripe.card_payment_method(VISA_OK))
    assert again.status_code == 200, again.text
    wait_order(sandbox, created["id"], "succeeded")
    assert stripe_money(sandbox, account_id) == {"receivable": 900, "clearing": -900}


def test_without_a_token_the_payer_gets_what_stripe_js_needs(
    shop: tuple[SandboxServer, str],
) -> None:
    sandbox, _ = shop
    created = create_order(sandbox, 1200, currency="USD")
    answer = card_pay(sandbox, created["id"], None)
    assert answer.status_code == 200, answer.text
    action = answer.json()["attempt"]["action"]
    assert action["kind"] == "sdk_params"
    assert action["sdk_params"]["client_secret"].startswith("pi_")
    assert action["sdk_params"]["publishable_key"] == TEST_PUBLISHABLE_KEY
    assert get(sandbox, f"/v1/orders/{created['id']}")["status"] == "paying"
