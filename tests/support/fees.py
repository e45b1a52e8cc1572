"""Fee agreements, books and paid orders for the fee centre's end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx

from paydesk.db.uow import unit_of_work
from paydesk.fees import accounts as fee_accounts
from paydesk.ledger.accounts import balance
from paydesk.merchants import auth
from paydesk.payments import postings
from tests.support.ledger_invariants import check_entries
from tests.support.payments import create_order, pay, simulator_pay, wait_order
from tests.support.sandbox import SandboxServer

VALID_FROM = "2026-01-01T00:00:00+08:00"


def admin(sandbox: SandboxServer) -> dict[str, str]:
    with unit_of_work(sandbox.db) as session:
        key = auth.issue_admin_key(session, label="fees-test", actor="test").secret
    return {"Authorization": f"Bearer {key}"}


def add_agreement(sandbox: SandboxServer, party_type: str, party_id: str, doc: Any) -> Any:
    answer = httpx.post(
        f"{sandbox.base_url}/v1/fee-agreements",
        headers=admin(sandbox),
        json={"party_type": party_type, "party_id": party_id, "document": doc},
    )
    return answer


def merchant_agreement(methods: list[str]) -> dict[str, Any]:
    return {
        "id": "shop-2026",
        "party": "Sandbox shop",
        "party_type": "merchant",
        "currency": "CNY",
        "valid_from": VALID_FROM,
        "refund_policy": {"kind": "proportional", "rounding": "half_up"},
        "interfaces": [
            {
                "id": "online",
                "entries": [
                    {
                        "id": "scan",
                        "when": {"scenario": "collection", "method": methods},
                        "fee": {"kind": "percentage", "rate_bps": 60, "min_minor": 10},
                    }
                ],
            }
        ],
    }


def channel_agreement(account_id: str) -> dict[str, Any]:
    return {
        "id": "wx-2026",
        "party": "WeChat Pay",
        "party_type": "channel",
        "currency": "CNY",
        "valid_from": VALID_FROM,
        "refund_policy": "none",
        "interfaces": [
            {
                "id": account_id,
                "entries": [
                    {
                        "id": "native",
                        "when": {"method": "wechat_native"},
                        "fee": {"kind": "percentage", "rate_bps": 25},
                    }
                ],
            }
        ],
    }


def books(sandbox: SandboxServer) -> dict[str, int]:
    merchant, account = sandbox.merchant_id, sandbox.wechat_account_id
    with unit_of_work(sandbox.db) as session:
        check_entries(session, merchant)
        accounts = {
            "receivable": postings.receivable_account(session, merchant, "CNY"),
            "fee_income": fee_accounts.fee_account(
                session, merchant, ("platform", "fees", "fee_income"), "CNY"
            ),
            "channel_costs": fee_accounts.fee_account(
                session, merchant, ("platform", "fees", "channel_costs"), "CNY"
            ),
            "cost_payable": fee_accounts.fee_account(
                session, merchant, ("channel_account", account, "cost_payable"), "CNY"
            ),
        }
        return {name: balance(session, merchant, a.id).balance for name, a in accounts.items()}


def paid_order(sandbox: SandboxServer, amount: int) -> str:
    created = create_order(sandbox, amount)
    opened = pay(sandbox, created["id"], "wechat_native")
    assert opened.status_code == 200, opened.text
    assert simulator_pay(sandbox, "wechatpay", opened.json()["attempt"]["id"]).status_code == 200
    wait_order(sandbox, created["id"], "succeeded")
    order_id: str = created["id"]
    return order_id
