"""Platform instruments: points, points + cash and prepaid cards pay an order through
/v1/orders/{id}/pay in one transaction (or change nothing), and ``instruments.refund`` sends
money back through the instrument that paid, one balanced journal per refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.core import clock
from paydesk.core.errors import PaydeskError
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.fees import events
from paydesk.fees import service as fees
from paydesk.fees.accounts import fee_account
from paydesk.ledger.accounts import balance
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import LedgerAccount, LedgerBalance
from paydesk.ledger.posting import post_journal
from paydesk.payments import instruments
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.wallet.accounts import Counterpart, merchant_account
from tests.integration.conftest import World


class Desk:
    """The API calls of these tests, as merchant A."""

    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.tenant, self._n = client, world.a, 0

    def post(self, path: str, **body: Any) -> Any:
        return self.client.post(path, json=body, headers=self.tenant.headers)

    def ref(self) -> str:
        self._n += 1
        return f"ref-{self._n}"

    def fund(self, user: str, cash: int = 0, points: int = 0) -> None:
        if cash:
            done = self.post(
                f"/v1/wallets/{user}/recharge", currency="CNY", amount=cash, reference=self.ref()
            )
            assert done.status_code == 200, done.text
        if points:
            done = self.post(
                f"/v1/wallets/{user}/present", currency="PTS", amount=points, reference=self.ref()
            )
            assert done.status_code == 200, done.text

    def order(self, amount: int, user: str | None = "payer") -> str:
        created = self.post(
            "/v1/orders",
            merchant_order_no=self.ref(),
            amount=amount,
            currency="CNY",
            subject="Gems",
            user_id=user,
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def pay(self, order_id: str, method: str, **body: Any) -> Any:
        return self.post(f"/v1/orders/{order_id}/pay", method=method, **body)

    def paid(self, order_id: str, method: str, **body: Any) -> dict[str, Any]:
        response = self.pay(order_id, method, **body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        assert (result["order"]["status"], result["attempt"]["status"]) == (
            "succeeded",
            "succeeded",
        )
        return result

    def balance(self, user: str, currency: str) -> int:
        wallet = self.client.get(f"/v1/wallets/{user}", headers=self.tenant.headers).json()
        return sum(line["balance"] for line in wallet["balances"] if line["currency"] == currency)

    def revenue(self, currency: str) -> int:
        lines = self.client.get("/v1/merchant/wallet", headers=self.tenant.headers).json()
        return sum(
            line["balance"]
            for line in lines
            if line["kind"] == "revenue" and line["currency"] == currency
        )

    def card(self, face_value: int, currency: str = "CNY") -> tuple[str, str]:
        """An activated card: its id and code."""
        expires = (clock.now() + timedelta(days=30)).isoformat()
        issued = self.post(
            "/v1/prepaid/batches",
            count=1,
            face_value=face_value,
            currency=currency,
            expires_at=expires,
            reference=self.ref(),
        )
        assert issued.status_code == 201, issued.text
        card = issued.json()["codes"][0]
        assert self.post(f"/v1/prepaid/cards/{card['card_id']}/activate").status_code == 200
        return card["card_id"], card["code"]

    def card_state(self, card_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(
            f"/v1/prepaid/cards/{card_id}", headers=self.tenant.headers
        ).json()
        return found


@pytest.fixture
def desk(client: TestClient, world: World) -> Desk:
    for code, kind in (("PTS", "points"), ("GEMS", "coins")):
        registered = client.post(
            f"/v1/apps/{world.a.app_id}/currencies",
            json={"code": code, "exponent": 0, "name": code, "kind": kind},
            headers=world.a.headers,
        )
        assert registered.status_code == 201, registered.text
    return Desk(client, world)


def _meta(db: Database, attempt_id: str) -> dict[str, Any]:
    with unit_of_work(db, read_only=True) as session:
        attempt = session.get(PaymentAttempt, attempt_id)
        assert attempt is not None
        return dict(attempt.meta)


def _ledger_balanced(db: Database, merchant_id: str) -> None:
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(LedgerAccount.currency, sa.func.sum(LedgerBalance.balance))
            .join(LedgerBalance, LedgerBalance.account_id == LedgerAccount.id)
            .where(LedgerAccount.merchant_id == merchant_id)
            .group_by(LedgerAccount.currency)
        ).all()
    assert rows and all(total == 0 for _, total in rows), rows


def _refund(db: Database, paid: dict[str, Any], refund_id: str, amount: int, before: int) -> str:
    with unit_of_work(db) as session:
        order = session.get(Order, paid["order"]["id"])
        attempt = session.get(PaymentAttempt, paid["attempt"]["id"])
        assert order is not None and attempt is not None
        return instruments.refund(
            session, order, attempt, refund_id, amount, refunded_before_minor=before
        )


def _refund_error(db: Database, paid: dict[str, Any], amount: int, before: int) -> str:
    with pytest.raises(PaydeskError) as raised:
        _refund(db, paid, f"bad-{amount}-{before}", amount, before)
    return raised.value.code


# --- paying -------------------------------------------------------------------------------


def test_points_pay_the_whole_order(desk: Desk, db: Database) -> None:
    desk.fund("payer", points=500)
    order = desk.order(1234)
    paid = desk.paid(order, "points", points={"currency": "PTS", "amount": 300, "covers": 1234})
    assert paid["order"]["amount_paid"] == 1234
    assert (desk.balance("payer", "PTS"), desk.revenue("PTS"), desk.revenue("CNY")) == (200, 300, 0)
    meta = _meta(db, paid["attempt"]["id"])
    assert meta["points_journal_id"] == paid["attempt"]["journal_id"]
    assert (meta["points_currency"], meta["points_amount"], meta["points_covers"]) == (
        "PTS",
        300,
        1234,
    )
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_points_and_cash_move_both_balances(desk: Desk, db: Database) -> None:
    desk.fund("payer", cash=2000, points=500)
    order = desk.order(1234)
    paid = desk.paid(order, "points_cash", points={"currency": "PTS", "amount": 100, "covers": 234})
    assert (desk.balance("payer", "CNY"), desk.balance("payer", "PTS")) == (1000, 400)
    assert (desk.revenue("CNY"), desk.revenue("PTS")) == (1000, 100)
    meta = _meta(db, paid["attempt"]["id"])
    assert meta["points_journal_id"] != paid["attempt"]["journal_id"]
    assert (meta["points_amount"], meta["points_covers"], meta["cash_amount"]) == (100, 234, 1000)
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_points_and_too_little_cash_change_nothing(desk: Desk) -> None:
    desk.fund("payer", cash=100, points=500)
    order = desk.order(1234)
    refused = desk.pay(
        order, "points_cash", points={"currency": "PTS", "amount": 100, "covers": 234}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "exceeds_floor")
    assert (desk.balance("payer", "CNY"), desk.balance("payer", "PTS")) == (100, 500)
    assert (desk.revenue("CNY"), desk.revenue("PTS")) == (0, 0)
    after = desk.client.get(f"/v1/orders/{order}", headers=desk.tenant.headers).json()
    assert (after["status"], after["amount_paid"]) == ("created", 0)


def test_a_prepaid_card_pays(desk: Desk, db: Database) -> None:
    card_id, code = desk.card(2000)
    order = desk.order(1234, user=None)
    paid = desk.paid(order, "prepaid_card", card_code=code.lower())
    state = desk.card_state(card_id)
    assert (state["status"], state["balance"]) == ("active", 766)
    assert desk.revenue("CNY") == 1234
    meta = _meta(db, paid["attempt"]["id"])
    assert (meta["card_id"], meta["card_last4"]) == (card_id, code[-4:])
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_bad_instrument_input_is_refused(desk: Desk) -> None:
    desk.fund("payer", cash=5000, points=5000)
    _, usd_code = desk.card(5000, currency="USD")
    order = desk.order(1000)

    def pts(amount: int = 10, covers: int = 1000, currency: str = "PTS") -> dict[str, Any]:
        return {"points": {"currency": currency, "amount": amount, "covers": covers}}

    cases: list[tuple[str, dict[str, Any], str]] = [
        ("points", {}, "points_required"),
        ("points_cash", {}, "points_required"),
        ("points", pts(covers=999), "points_cover_mismatch"),
        ("points_cash", pts(covers=1000), "points_cover_mismatch"),
        ("points", pts(amount=0), "invalid_amount"),
        ("points_cash", pts(covers=-5), "invalid_amount"),
        ("points", pts(currency="CNY"), "invalid_points_currency"),
        ("points", pts(currency="GEMS"), "invalid_points_currency"),
        ("points_cash", pts(covers=500, currency="NOPE"), "invalid_points_currency"),
        ("prepaid_card", {}, "card_code_required"),
        ("prepaid_card", {"card_code": usd_code}, "currency_mismatch"),
    ]
    for method, body, code in cases:
        refused = desk.pay(order, method, **body)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, code), (method, body)
    assert (desk.balance("payer", "CNY"), desk.balance("payer", "PTS")) == (5000, 5000)
    assert (desk.revenue("CNY"), desk.revenue("USD"), desk.revenue("PTS")) == (0, 0, 0)
    assert (
        desk.client.get(f"/v1/orders/{order}", headers=desk.tenant.headers).json()["status"]
        == "created"
    )


# --- refunding ----------------------------------------------------------------------------


def test_refund_a_balance_payment(desk: Desk, db: Database) -> None:
    desk.fund("payer", cash=2000)
    paid = desk.paid(desk.order(1234), "balance")
    first = _refund(db, paid, "rf-1", 234, 0)
    assert _refund(db, paid, "rf-1", 234, 0) == first  # a replay moves nothing
    assert (desk.balance("payer", "CNY"), desk.revenue("CNY")) == (1000, 1000)
    assert _refund_error(db, paid, 1001, 234) == "refund_exceeds_paid"
    assert _refund_error(db, paid, 0, 234) == "invalid_amount"
    assert _refund(db, paid, "rf-2", 1000, 234) != first
    assert (desk.balance("payer", "CNY"), desk.revenue("CNY")) == (2000, 0)
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_refund_needs_the_merchants_revenue(desk: Desk, db: Database) -> None:
    desk.fund("payer", cash=2000)
    paid = desk.paid(desk.order(1234), "balance")
    with unit_of_work(db) as session:  # the merchant's revenue is paid out elsewhere
        revenue = merchant_account(
            session, desk.tenant.merchant_id, desk.tenant.app_id, Counterpart.REVENUE, "CNY"
        )
        payouts = merchant_account(
            session, desk.tenant.merchant_id, desk.tenant.app_id, Counterpart.PAYOUTS, "CNY"
        )
        post_journal(
            session,
            merchant_id=desk.tenant.merchant_id,
            idempotency_key="drain",
            legs=[Leg(revenue.id, -1000, "CNY"), Leg(payouts.id, 1000, "CNY")],
            kind="test.drain",
        )
    assert _refund_error(db, paid, 500, 0) == "exceeds_floor"
    assert (desk.balance("payer", "CNY"), desk.revenue("CNY")) == (766, 234)
    _refund(db, paid, "rf-ok", 234, 0)
    assert (desk.balance("payer", "CNY"), desk.revenue("CNY")) == (1000, 0)


def test_three_partial_refunds_return_exactly_all_points(desk: Desk, db: Database) -> None:
    desk.fund("payer", points=7)
    paid = desk.paid(
        desk.order(1000), "points", points={"currency": "PTS", "amount": 7, "covers": 1000}
    )
    assert desk.balance("payer", "PTS") == 0
    assert _refund_error(db, paid, 1, 0) == "refund_too_small"  # 7 x 1 / 1000 is no point
    seen = []
    for index, (amount, before) in enumerate([(333, 0), (333, 333), (334, 666)]):
        _refund(db, paid, f"rf-{index}", amount, before)
        seen.append(desk.balance("payer", "PTS"))
    assert seen == [2, 4, 7]  # floor(2.331), floor(4.662) - 2, the rest
    assert (desk.revenue("PTS"), desk.revenue("CNY")) == (0, 0)
    assert instruments.points_share(7, 1000, 0, 1000) == 7
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_refund_points_and_cash_cash_first(desk: Desk, db: Database) -> None:
    desk.fund("payer", cash=600, points=50)
    paid = desk.paid(
        desk.order(1000), "points_cash", points={"currency": "PTS", "amount": 50, "covers": 400}
    )
    assert (desk.balance("payer", "CNY"), desk.balance("payer", "PTS")) == (0, 0)
    expected = [(500, 0, 500, 0), (300, 500, 600, 25), (200, 800, 600, 50)]
    for index, (amount, before, cash, points) in enumerate(expected):
        _refund(db, paid, f"rf-{index}", amount, before)
        assert (desk.balance("payer", "CNY"), desk.balance("payer", "PTS")) == (cash, points)
    assert (desk.revenue("CNY"), desk.revenue("PTS")) == (0, 0)
    _ledger_balanced(db, desk.tenant.merchant_id)


def test_refund_to_the_prepaid_card_reopens_it(desk: Desk, db: Database) -> None:
    card_id, code = desk.card(1234)
    paid = desk.paid(desk.order(1234, user=None), "prepaid_card", card_code=code)
    assert desk.card_state(card_id)["status"] == "redeemed"
    _refund(db, paid, "rf-card", 1000, 0)
    state = desk.card_state(card_id)
    assert (state["status"], state["balance"], desk.revenue("CNY")) == ("active", 1000, 234)
    again = desk.post("/v1/prepaid/pay", code=code, amount=400, reference="after-refund")
    assert again.status_code == 200, again.text
    assert desk.card_state(card_id)["balance"] == 600
    _ledger_balanced(db, desk.tenant.merchant_id)


# --- fees ---------------------------------------------------------------------------------


def test_a_balance_payment_is_billed_its_fee_and_a_refund_gives_part_back(
    desk: Desk, db: Database
) -> None:
    merchant = desk.tenant.merchant_id
    with unit_of_work(db) as session:
        fees.add_agreement(
            session,
            party_type="merchant",
            party_id=merchant,
            document={
                "id": "wallet-2026",
                "party": "shop",
                "party_type": "merchant",
                "currency": "CNY",
                "valid_from": "2026-01-01T00:00:00+08:00",
                "refund_policy": "proportional",
                "interfaces": [
                    {
                        "id": "wallet",
                        "entries": [
                            {
                                "id": "balance",
                                "when": {"scenario": "collection", "method": "balance"},
                                "fee": {"kind": "percentage", "rate_bps": 100},
                            }
                        ],
                    }
                ],
            },
        )
    desk.fund("payer", cash=5000)
    paid = desk.paid(desk.order(4000), "balance")
    refund = desk.post("/v1/refunds", order_id=paid["order"]["id"], amount=1000)
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded", refund.text
    listed = desk.client.get(
        f"/v1/orders/{paid['order']['id']}/fees", headers=desk.tenant.headers
    ).json()
    # 1% of 4000 billed; a quarter refunded gives a quarter of it back; no channel cost
    assert [(c["kind"], c["amount"]) for c in listed] == [
        ("merchant_fee", 40),
        ("merchant_fee_return", 10),
    ]
    with unit_of_work(db, read_only=True) as session:
        billed = fee_account(session, merchant, ("merchant", merchant, events.BILLED), "CNY")
        assert balance(session, merchant, billed.id).balance == -30
    assert desk.revenue("CNY") == 3000
    _ledger_balanced(db, merchant)
