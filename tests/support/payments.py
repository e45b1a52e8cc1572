"""Helpers of the end-to-end payment tests: drive the API of a sandbox server and read the
ledger behind it."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import sqlalchemy as sa

from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import balance
from paydesk.ledger.models import Journal
from paydesk.payments import order_centre, postings
from tests.support.jobs import wait_until
from tests.support.ledger_invariants import check_entries
from tests.support.sandbox import SandboxServer

_numbers = itertools.count(1)
WAIT_S = 15


def create_order(sandbox: SandboxServer, amount: int = 1000, **extra: Any) -> dict[str, Any]:
    body = {
        "merchant_order_no": f"E2E-{next(_numbers)}-{amount}",
        "amount": amount,
        "currency": "CNY",
        "subject": "Gems",
        **extra,
    }
    answer = httpx.post(f"{sandbox.base_url}/v1/orders", json=body, headers=sandbox.headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def pay(sandbox: SandboxServer, order_id: str, method: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{sandbox.base_url}/v1/orders/{order_id}/pay",
        json={"method": method, **extra},
        headers=sandbox.headers,
        timeout=30,
    )


def get(sandbox: SandboxServer, path: str) -> Any:
    answer = httpx.get(f"{sandbox.base_url}{path}", headers=sandbox.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def order(sandbox: SandboxServer, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = get(sandbox, f"/v1/orders/{order_id}")
    return found


def wait_order(sandbox: SandboxServer, order_id: str, status: str) -> dict[str, Any]:
    wait_until(
        lambda: order(sandbox, order_id)["status"] == status,
        timeout_s=WAIT_S,
        what=f"order {order_id} to be {status}",
    )
    return order(sandbox, order_id)


def wait_refund(sandbox: SandboxServer, refund_id: str, status: str) -> dict[str, Any]:
    wait_until(
        lambda: get(sandbox, f"/v1/refunds/{refund_id}")["status"] == status,
        timeout_s=WAIT_S,
        what=f"refund {refund_id} to be {status}",
    )
    found: dict[str, Any] = get(sandbox, f"/v1/refunds/{refund_id}")
    return found


def simulator_pay(sandbox: SandboxServer, channel: str, out_trade_no: str) -> httpx.Response:
    base = sandbox.wechat_control_url if channel == "wechatpay" else sandbox.alipay_control_url
    return httpx.post(f"{base}/simulator/pay", json={"out_trade_no": out_trade_no}, timeout=30)


def set_faults(sandbox: SandboxServer, channel: str, **faults: Any) -> None:
    base = sandbox.wechat_control_url if channel == "wechatpay" else sandbox.alipay_control_url
    answer = httpx.post(f"{base}/simulator/faults", json=faults)
    assert answer.status_code == 200, answer.text


def follow(sandbox: SandboxServer, attempt_id: str, *, close: bool = False) -> None:
    """One run of the order centre's query of an attempt, as its job would do it now."""
    order_centre.follow_attempt(sandbox.db, sandbox.settings, attempt_id, 0, close)


def payment_journals(sandbox: SandboxServer, attempt_id: str) -> int:
    with unit_of_work(sandbox.db, read_only=True) as session:
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(Journal)
                .where(
                    Journal.merchant_id == sandbox.merchant_id,
                    Journal.idempotency_key == f"payment:{attempt_id}",
                )
            )
            or 0
        )


def money(sandbox: SandboxServer, currency: str = "CNY") -> dict[str, int]:
    """The balances of the merchant's payment accounts, after checking every journal of the
    merchant balances."""
    with unit_of_work(sandbox.db) as session:
        check_entries(session, sandbox.merchant_id)
        accounts = {
            "receivable": postings.receivable_account(session, sandbox.merchant_id, currency),
            "refunds_pending": postings.refunds_pending_account(
                session, sandbox.merchant_id, currency
            ),
            "wechatpay_clearing": postings.clearing_account(
                session, sandbox.merchant_id, sandbox.wechat_account_id, currency
            ),
            "alipay_clearing": postings.clearing_account(
                session, sandbox.merchant_id, sandbox.alipay_account_id, currency
            ),
        }
        return {
            name: balance(session, sandbox.merchant_id, account.id).balance
            for name, account in accounts.items()
        }
