"""Prepaid cards through the API: issued with codes shown once, activated, redeemed into a
wallet or paid with, expired by the job; every step balanced, replays apply once, and one
merchant never reaches another's cards."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.core import clock
from paydesk.core.errors import PaydeskError
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.worker import Worker
from paydesk.ledger.models import Journal, LedgerAccount, LedgerBalance
from paydesk.wallet import prepaid, prepaid_issue
from paydesk.wallet.accounts import WalletRef
from paydesk.wallet.models import PrepaidCard
from tests.integration.conftest import Tenant, World


class Cards:
    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant
        self._refs = 0

    def _reference(self, body: dict[str, Any]) -> None:
        if "reference" not in body:
            self._refs += 1
            body["reference"] = f"ref-{self._refs}"

    def issue(self, **body: Any) -> Any:
        body.setdefault("count", 2)
        body.setdefault("face_value", 500)
        body.setdefault("currency", "CNY")
        body.setdefault("expires_at", (clock.now() + timedelta(days=30)).isoformat())
        self._reference(body)
        return self.client.post("/v1/prepaid/batches", json=body, headers=self.tenant.headers)

    def issued(self, **body: Any) -> list[dict[str, str]]:
        """Issue a batch and activate its cards; returns ``{"card_id", "code"}`` per card."""
        response = self.issue(**body)
        assert response.status_code == 201, response.text
        codes: list[dict[str, str]] = response.json()["codes"]
        for card in codes:
            assert self.activate(card["card_id"]).status_code == 200
        return codes

    def activate(self, card_id: str) -> Any:
        return self.client.post(
            f"/v1/prepaid/cards/{card_id}/activate", headers=self.tenant.headers
        )

    def redeem(self, code: str, user_id: str = "alice", **body: Any) -> Any:
        body.update(code=code, user_id=user_id)
        self._reference(body)
        return self.client.post("/v1/prepaid/redeem", json=body, headers=self.tenant.headers)

    def pay(self, code: str, amount: int, **body: Any) -> Any:
        body.update(code=code, amount=amount)
        self._reference(body)
        return self.client.post("/v1/prepaid/pay", json=body, headers=self.tenant.headers)

    def card(self, card_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/prepaid/cards/{card_id}", headers=self.tenant.headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wallet(self, user: str, currency: str) -> dict[str, Any]:
        found = self.client.get(f"/v1/wallets/{user}", headers=self.tenant.headers).json()
        for line in found["balances"]:
            if line["currency"] == currency:
                return line  # type: ignore[no-any-return]
        return {"balance": 0, "paid": 0, "gifted": 0}


@pytest.fixture
def cards(client: TestClient, world: World) -> Cards:
    return Cards(client, world.a)


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _merchant_sums(db: Database, merchant_id: str) -> dict[str, int]:
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(LedgerAccount.currency, sa.func.sum(LedgerBalance.balance))
            .join(LedgerBalance, LedgerBalance.account_id == LedgerAccount.id)
            .where(LedgerAccount.merchant_id == merchant_id)
            .group_by(LedgerAccount.currency)
        ).all()
    return {currency: int(total) for currency, total in rows}


def _assert_ledger_balanced(db: Database, merchant_id: str) -> None:
    sums = _merchant_sums(db, merchant_id)
    assert sums and all(total == 0 for total in sums.values()), sums


def _counterpart(db: Database, merchant_id: str, kind: str, currency: str) -> int:
    with db.engine.connect() as connection:
        total = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerBalance.balance), 0))
            .join(LedgerAccount, LedgerBalance.account_id == LedgerAccount.id)
            .where(
                LedgerAccount.merchant_id == merchant_id,
                LedgerAccount.owner_type == "merchant",
                LedgerAccount.kind == kind,
                LedgerAccount.currency == currency,
            )
        ).scalar_one()
    return int(total)


def _journal_count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(Journal)).scalar_one())


def test_issue_activate_and_redeem_into_a_wallet(cards: Cards, db: Database) -> None:
    issued = cards.issue(count=3, face_value=500)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["replayed"] is False and len(body["codes"]) == 3
    code = body["codes"][0]["code"]
    assert len(code) == 19 and code.count("-") == 3
    card_id = body["codes"][0]["card_id"]
    assert cards.card(card_id)["status"] == "issued"
    assert cards.card(card_id)["balance"] == 0

    first = cards.activate(card_id).json()
    assert (first["card"]["status"], first["card"]["balance"], first["amount"]) == (
        "active",
        500,
        500,
    )
    again = cards.activate(card_id).json()
    assert again["replayed"] is True and again["journal_id"] == first["journal_id"]
    assert _counterpart(db, cards.tenant.merchant_id, "prepaid", "CNY") == -500

    # Codes are read case- and dash-insensitively, as people type them.
    redeemed = cards.redeem(code.lower().replace("-", " "), "alice")
    assert redeemed.status_code == 200, redeemed.text
    result = redeemed.json()
    assert result["amount"] == 500 and result["balance"]["balance"] == 500
    assert result["card"]["status"] == "redeemed"
    assert result["card"]["redeemed_by"] == "alice"
    assert result["card"]["balance"] == 0
    assert cards.wallet("alice", "CNY")["balance"] == 500
    # A redeemed card is a recharge of the wallet: it counts as saved.
    totals = cards.client.get("/v1/wallets/alice/totals", headers=cards.tenant.headers)
    assert totals.status_code == 200, totals.text
    assert totals.json() == [
        {"currency": "CNY", "saved": 500, "spent": 0, "presented": 0, "expired": 0, "withdrawn": 0}
    ]
    _assert_ledger_balanced(db, cards.tenant.merchant_id)


def test_redeem_replays_once_and_refuses_a_second_redemption(cards: Cards, db: Database) -> None:
    code = cards.issued(count=1, face_value=800)[0]["code"]
    first = cards.redeem(code, "bob", reference="gift-1").json()
    replay = cards.redeem(code, "bob", reference="gift-1").json()
    assert replay["replayed"] is True and replay["journal_id"] == first["journal_id"]
    assert replay["amount"] == 800
    assert cards.wallet("bob", "CNY")["balance"] == 800
    assert _error(cards.redeem(code, "bob", reference="gift-2")) == (409, "card_not_usable")
    assert _error(cards.redeem(code, "carl", reference="gift-1")) == (409, "journal_key_reused")
    assert cards.wallet("carl", "CNY")["balance"] == 0
    _assert_ledger_balanced(db, cards.tenant.merchant_id)


def test_coin_and_point_cards_credit_the_matching_part(cards: Cards, db: Database) -> None:
    for code, kind in (("GEMS", "coins"), ("PTS", "points")):
        registered = cards.client.post(
            f"/v1/apps/{cards.tenant.app_id}/currencies",
            json={"code": code, "exponent": 0, "name": code, "kind": kind},
            headers=cards.tenant.headers,
        )
        assert registered.status_code == 201, registered.text
    gems = cards.issued(count=1, face_value=60, currency="GEMS")[0]["code"]
    points = cards.issued(count=1, face_value=25, currency="PTS")[0]["code"]
    assert cards.redeem(gems, "dan").status_code == 200
    assert cards.redeem(points, "dan").status_code == 200
    wallet = cards.wallet("dan", "GEMS")
    assert (wallet["balance"], wallet["paid"], wallet["gifted"]) == (60, 60, 0)
    assert cards.wallet("dan", "PTS")["balance"] == 25
    _assert_ledger_balanced(db, cards.tenant.merchant_id)


def test_unusable_and_unknown_cards(cards: Cards) -> None:
    issued = cards.issue(count=1).json()["codes"][0]
    assert _error(cards.redeem(issued["code"])) == (409, "card_not_usable")  # never activated
    assert _error(cards.pay(issued["code"], 10)) == (409, "card_not_usable")
    assert _error(cards.redeem("ABCD-EFGH-JKLM-NPQR")) == (404, "card_not_found")
    assert _error(cards.redeem("not a code")) == (404, "card_not_found")
    missing = cards.client.post("/v1/prepaid/cards/ppc_nope/activate", headers=cards.tenant.headers)
    assert _error(missing) == (404, "card_not_found")


def test_pay_in_parts_until_the_card_is_empty(cards: Cards, db: Database) -> None:
    card = cards.issued(count=1, face_value=1000)[0]
    part = cards.pay(card["code"], 300).json()
    assert (part["card"]["balance"], part["card"]["status"]) == (700, "active")
    rest = cards.pay(card["code"], 700).json()
    assert (rest["card"]["balance"], rest["card"]["status"]) == (0, "redeemed")
    assert rest["card"]["redeemed_by"] is None
    assert _error(cards.pay(card["code"], 1)) == (409, "card_not_usable")
    assert _counterpart(db, cards.tenant.merchant_id, "revenue", "CNY") == 1000
    _assert_ledger_balanced(db, cards.tenant.merchant_id)


def test_paying_more_than_the_card_holds_changes_nothing(cards: Cards, db: Database) -> None:
    card = cards.issued(count=1, face_value=1000)[0]
    journals = _journal_count(db)
    refused = cards.pay(card["code"], 1001, reference="order-9")
    assert _error(refused) == (409, "exceeds_floor")
    assert _journal_count(db) == journals
    assert cards.card(card["card_id"])["balance"] == 1000
    assert _counterpart(db, cards.tenant.merchant_id, "revenue", "CNY") == 0
    # The refused request left nothing behind, not even its reference.
    assert cards.pay(card["code"], 1000, reference="order-9").status_code == 200
    replay = cards.pay(card["code"], 1000, reference="order-9").json()
    assert replay["replayed"] is True and replay["card"]["balance"] == 0
    assert _error(cards.pay(card["code"], 5, reference="order-9")) == (409, "journal_key_reused")
    _assert_ledger_balanced(db, cards.tenant.merchant_id)


def test_codes_are_shown_once_and_never_stored(cards: Cards, db: Database) -> None:
    codes = cards.issued(count=3)
    plain = [c["code"] for c in codes] + [c["code"].replace("-", "") for c in codes]
    batch_id = cards.card(codes[0]["card_id"])["batch_id"]
    responses = [
        cards.client.get(f"/v1/prepaid/batches/{batch_id}", headers=cards.tenant.headers).text,
        *(str(cards.card(c["card_id"])) for c in codes),
        cards.activate(codes[0]["card_id"]).text,
        cards.pay(codes[1]["code"], 100).text,
        cards.redeem(codes[2]["code"]).text,
    ]
    for text in responses:
        assert not any(code in text for code in plain), text
    first = cards.card(codes[0]["card_id"])
    assert first["last4"] == codes[0]["code"][-4:]
    with db.engine.connect() as connection:
        rows = connection.execute(sa.select(PrepaidCard)).mappings().all()
    stored = " ".join(str(dict(row)) for row in rows)
    assert not any(code in stored for code in plain)


def test_batch_replay_returns_no_codes(cards: Cards, db: Database) -> None:
    expires = (clock.now() + timedelta(days=5)).isoformat()
    first = cards.issue(count=2, expires_at=expires, reference="print-7")
    again = cards.issue(count=2, expires_at=expires, reference="print-7")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replayed"] is True and again.json()["codes"] == []
    assert again.json()["batch"]["id"] == first.json()["batch"]["id"]
    other = cards.issue(count=3, expires_at=expires, reference="print-7")
    assert _error(other) == (409, "batch_reference_reused")
    with db.engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(PrepaidCard)).scalar()
    assert count == 2
    headed = cards.client.post(
        "/v1/prepaid/batches",
        json={"count": 1, "face_value": 1, "currency": "CNY", "expires_at": expires,
              "reference": "print-8"},
        headers={**cards.tenant.headers, "Idempotency-Key": "k-1"},
    )  # fmt: skip
    assert _error(headed) == (400, "idempotency_key_not_allowed")


def test_batch_lists_its_cards_a_page_at_a_time(cards: Cards) -> None:
    issued = cards.issue(count=5).json()
    batch_id = issued["batch"]["id"]
    cards.activate(issued["codes"][0]["card_id"])
    seen: list[str] = []
    after = ""
    while True:
        page = cards.client.get(
            f"/v1/prepaid/batches/{batch_id}?limit=2{after}", headers=cards.tenant.headers
        ).json()
        assert page["statuses"] == {"issued": 4, "active": 1}
        seen += [card["id"] for card in page["cards"]["data"]]
        if not page["cards"]["has_more"]:
            break
        after = f"&after={page['cards']['next_after']}"
    assert sorted(seen) == sorted(c["card_id"] for c in issued["codes"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"count": 0}, "invalid_request"),
        ({"count": 10_001}, "invalid_request"),
        ({"face_value": 0}, "invalid_amount"),
        ({"currency": "NOPE"}, "unknown_currency"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, "invalid_request"),
        ({"pin": "1234"}, "unknown_field"),
        ({"app_id": "app_nope"}, "app_not_found"),
    ],
)
def test_bad_batches_are_refused(cards: Cards, change: dict[str, Any], code: str) -> None:
    response = cards.issue(**change)
    assert response.status_code in {400, 404}, response.text
    assert response.json()["error"]["code"] == code


def test_other_merchants_cards_are_not_found(
    client: TestClient, cards: Cards, world: World, db: Database
) -> None:
    card = cards.issued(count=1)[0]
    batch_id = cards.card(card["card_id"])["batch_id"]
    other = Cards(client, world.b)
    for path in (f"/v1/prepaid/batches/{batch_id}", f"/v1/prepaid/cards/{card['card_id']}"):
        assert client.get(path, headers=world.b.headers).status_code == 404
    assert other.activate(card["card_id"]).status_code == 404
    assert _error(other.redeem(card["code"], "mallory")) == (404, "card_not_found")
    assert _error(other.pay(card["code"], 10)) == (404, "card_not_found")
    admin = client.get(f"/v1/prepaid/cards/{card['card_id']}", headers=world.admin)
    assert _error(admin) == (400, "merchant_key_required")
    assert cards.card(card["card_id"])["balance"] == 500
    assert _merchant_sums(db, world.b.merchant_id) == {}


def test_expiry_through_the_job(cards: Cards, db: Database) -> None:
    expires = clock.now() + timedelta(hours=1)
    codes = cards.issue(count=3, face_value=400, expires_at=expires.isoformat()).json()["codes"]
    for card in codes[:2]:
        cards.activate(card["card_id"])
    cards.pay(codes[0]["code"], 150)
    _move_clock(expires + timedelta(minutes=1))
    try:
        # Past expiry, a card is refused even before the job has run.
        assert _error(cards.redeem(codes[1]["code"])) == (409, "card_not_usable")
        assert _error(cards.activate(codes[2]["card_id"])) == (409, "card_not_usable")
        Worker(db, load_settings(database_url=db.url)).run_once()
    finally:
        clock.set_clock(None)
    states = [cards.card(card["card_id"]) for card in codes]
    assert [(s["status"], s["balance"]) for s in states] == [("expired", 0)] * 3
    merchant = cards.tenant.merchant_id
    assert _counterpart(db, merchant, "expired", "CNY") == 250 + 400
    assert _counterpart(db, merchant, "revenue", "CNY") == 150
    assert _error(cards.pay(codes[1]["code"], 1)) == (409, "card_not_usable")
    assert _error(cards.activate(codes[2]["card_id"])) == (409, "card_not_usable")
    _assert_ledger_balanced(db, merchant)


def _race(count: int, attempt: Any) -> list[str]:
    """Run ``attempt(index)`` in ``count`` threads at once; each result is "ok" or an error
    code."""
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            attempt(index)
            outcome = "ok"
        except PaydeskError as exc:
            outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_a_card_is_spent_once_under_concurrency(cards: Cards, db: Database) -> None:
    code = cards.issued(count=1, face_value=300)[0]["code"]
    tenant = cards.tenant

    def redeem_or_pay(index: int) -> None:
        with unit_of_work(db) as session:
            if index % 2:
                ref = WalletRef(tenant.merchant_id, tenant.app_id, f"user-{index}")
                prepaid.redeem(session, ref, code, f"race-{index}")
            else:
                prepaid.pay_with_card(
                    session, tenant.merchant_id, tenant.app_id, code, 300, f"race-{index}"
                )

    assert _race(6, redeem_or_pay) == ["card_not_usable"] * 5 + ["ok"]
    _assert_ledger_balanced(db, tenant.merchant_id)


def test_a_batch_is_issued_once_under_concurrency(cards: Cards, db: Database) -> None:
    expires = clock.now() + timedelta(days=1)

    def issue(_index: int) -> None:
        with unit_of_work(db) as session:
            prepaid_issue.issue_batch(
                session, cards.tenant.merchant_id, cards.tenant.app_id, 3, 100, "CNY", expires, "p"
            )

    assert _race(4, issue) == ["ok"] * 4
    with db.engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(PrepaidCard)).scalar()
    assert count == 3


def _move_clock(to: datetime) -> None:
    clock.set_clock(lambda: to)
