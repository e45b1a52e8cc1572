"""The ledger's rules, each with its stable code, and that a failure changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paydesk.core import clock
from paydesk.core.errors import PaydeskError
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger import accounts as ledger_accounts
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.holds import create_hold, post_hold, void_hold
from paydesk.ledger.models import AccountStatus, FloorRule, HoldStatus
from paydesk.ledger.posting import post_journal, reverse_journal
from paydesk.merchants import service as merchants
from paydesk.merchants.models import MerchantKind


class Books:
    """A merchant with a clearing account (no floor), two wallets and an overdraft account."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with unit_of_work(db) as session:
            self.merchant_id = merchants.create_merchant(
                session,
                name="Ledger test",
                kind=MerchantKind.MERCHANT,
                parent_id=None,
                actor="test",
            ).id
            self.other_merchant_id = merchants.create_merchant(
                session, name="Other", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
            ).id

            def open_(owner: str, kind: str, **rules: object) -> str:
                spec = AccountSpec(self.merchant_id, "user", owner, kind, "CNY")
                return ensure_account(session, spec, **rules).id  # type: ignore[arg-type]

            self.clearing = open_("bank", "clearing", floor_rule=FloorRule.UNBOUNDED, slots=4)
            self.alice = open_("alice", "cash")
            self.bob = open_("bob", "cash")
            self.credit = open_(
                "carol", "credit", floor_rule=FloorRule.OVERDRAFT, overdraft_limit=500
            )
            self.hot = open_("shop", "receivable", slots=8)
            self.foreign = ensure_account(
                session, AccountSpec(self.other_merchant_id, "user", "eve", "cash", "CNY")
            ).id
        self._keys = 0

    def key(self) -> str:
        self._keys += 1
        return f"k{self._keys}"

    def post(self, *legs: tuple[str, int], key: str | None = None, currency: str = "CNY"):  # type: ignore[no-untyped-def]
        with unit_of_work(self.db) as session:
            return post_journal(
                session,
                merchant_id=self.merchant_id,
                idempotency_key=key or self.key(),
                legs=[Leg(account, amount, currency) for account, amount in legs],
                kind="test",
            )

    def fund(self, account: str, amount: int) -> None:
        self.post((self.clearing, -amount), (account, amount))

    def balance(self, account: str) -> tuple[int, int]:
        with unit_of_work(self.db, read_only=True) as session:
            found = ledger_accounts.balance(session, self.merchant_id, account)
        return found.balance, found.pending_debit

    def all_balances(self) -> list[tuple[int, int]]:
        return [
            self.balance(a) for a in (self.clearing, self.alice, self.bob, self.credit, self.hot)
        ]


@pytest.fixture
def books(db: Database) -> Books:
    return Books(db)


def test_a_balanced_journal_moves_money_and_sums_to_zero(books: Books) -> None:
    books.fund(books.alice, 1000)
    posted = books.post((books.alice, -300), (books.bob, 300))
    assert sum(entry.amount for entry in posted.entries) == 0
    assert books.balance(books.alice) == (700, 0)
    assert books.balance(books.bob) == (300, 0)
    assert sum(balance for balance, _ in books.all_balances()) == 0


def test_replay_returns_the_original_and_changes_nothing(books: Books) -> None:
    books.fund(books.alice, 1000)
    first = books.post((books.alice, -100), (books.bob, 100), key="pay-1")
    again = books.post((books.alice, -100), (books.bob, 100), key="pay-1")
    assert again.replayed and again.journal.id == first.journal.id
    assert books.balance(books.alice) == (900, 0)
    with pytest.raises(PaydeskError) as info:
        books.post((books.alice, -200), (books.bob, 200), key="pay-1")
    assert info.value.code == "journal_key_reused"
    assert books.balance(books.alice) == (900, 0)


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        ([("alice", -1)], "invalid_legs"),
        ([("alice", 0), ("bob", 0)], "invalid_legs"),
        ([("alice", -5), ("alice", 5)], "duplicate_account"),
        ([("alice", -5), ("bob", 4)], "unbalanced"),
        ([("alice", -5), ("missing", 5)], "account_not_found"),
        ([("alice", -5), ("foreign", 5)], "account_not_found"),
        ([("alice", -5000), ("bob", 5000)], "exceeds_floor"),
        ([("credit", -501), ("bob", 501)], "exceeds_floor"),
    ],
)
def test_each_rule_fails_with_its_code_and_changes_nothing(
    books: Books, legs: list[tuple[str, int]], code: str
) -> None:
    books.fund(books.alice, 1000)
    before = books.all_balances()
    names = {
        "alice": books.alice,
        "bob": books.bob,
        "credit": books.credit,
        "foreign": books.foreign,
        "missing": "acc_missing",
    }
    with pytest.raises(PaydeskError) as info:
        books.post(*[(names[name], amount) for name, amount in legs])
    assert info.value.code == code
    assert books.all_balances() == before


def test_currency_must_match_the_account(books: Books) -> None:
    with pytest.raises(PaydeskError) as info:
        books.post((books.clearing, -5), (books.alice, 5), currency="USD")
    assert info.value.code == "currency_mismatch"


def test_overdraft_allows_down_to_its_limit(books: Books) -> None:
    books.post((books.credit, -500), (books.bob, 500))
    assert books.balance(books.credit) == (-500, 0)


def test_frozen_accounts_take_credits_but_no_debits(books: Books, db: Database) -> None:
    books.fund(books.alice, 100)
    with unit_of_work(db) as session:
        ledger_accounts.set_status(session, books.merchant_id, books.alice, AccountStatus.FROZEN)
    books.fund(books.alice, 50)
    with pytest.raises(PaydeskError) as info:
        books.post((books.alice, -10), (books.bob, 10))
    assert info.value.code == "account_frozen"
    with unit_of_work(db) as session:
        ledger_accounts.set_status(session, books.merchant_id, books.alice, AccountStatus.ACTIVE)
    books.post((books.alice, -10), (books.bob, 10))
    assert books.balance(books.alice) == (140, 0)


def test_only_an_empty_account_closes_and_then_takes_nothing(books: Books, db: Database) -> None:
    books.fund(books.bob, 10)
    with pytest.raises(PaydeskError) as info, unit_of_work(db) as session:
        ledger_accounts.set_status(session, books.merchant_id, books.bob, AccountStatus.CLOSED)
    assert info.value.code == "account_not_empty"
    books.post((books.bob, -10), (books.clearing, 10))
    with unit_of_work(db) as session:
        ledger_accounts.set_status(session, books.merchant_id, books.bob, AccountStatus.CLOSED)
    with pytest.raises(PaydeskError) as info:
        books.fund(books.bob, 1)
    assert info.value.code == "account_closed"


def test_a_hot_multi_slot_account_still_enforces_its_floor(books: Books) -> None:
    for _ in range(6):
        books.fund(books.hot, 100)
    assert books.balance(books.hot) == (600, 0)
    books.post((books.hot, -550), (books.bob, 550))
    with pytest.raises(PaydeskError) as info:
        books.post((books.hot, -51), (books.bob, 51))
    assert info.value.code == "exceeds_floor"
    assert books.balance(books.hot) == (50, 0)


def test_reversal_negates_once_and_respects_floors(books: Books, db: Database) -> None:
    funding = books.post((books.clearing, -100), (books.alice, 100))
    books.post((books.alice, -80), (books.bob, 80))
    with pytest.raises(PaydeskError) as info, unit_of_work(db) as session:
        reverse_journal(
            session,
            merchant_id=books.merchant_id,
            journal_id=funding.journal.id,
            idempotency_key="rev-1",
        )
    assert info.value.code == "exceeds_floor"  # the recharge was spent
    spend = books.post((books.bob, -30), (books.alice, 30))
    with unit_of_work(db) as session:
        reversal = reverse_journal(
            session,
            merchant_id=books.merchant_id,
            journal_id=spend.journal.id,
            idempotency_key="rev-2",
        )
    assert reversal.journal.reverses_id == spend.journal.id
    assert books.balance(books.alice) == (20, 0)
    with pytest.raises(PaydeskError) as info, unit_of_work(db) as session:
        reverse_journal(
            session,
            merchant_id=books.merchant_id,
            journal_id=spend.journal.id,
            idempotency_key="rev-3",
        )
    assert info.value.code == "journal_already_reversed"


def _hold(books: Books, amount: int, key: str, minutes: int = 30):  # type: ignore[no-untyped-def]
    with unit_of_work(books.db) as session:
        return create_hold(
            session,
            merchant_id=books.merchant_id,
            idempotency_key=key,
            debit_account_id=books.alice,
            credit_account_id=books.bob,
            amount=amount,
            currency="CNY",
            expires_at=clock.now() + timedelta(minutes=minutes),
        )[0]


def test_holds_reserve_then_post_in_part_or_void(books: Books, db: Database) -> None:
    books.fund(books.alice, 1000)
    hold = _hold(books, 600, "h1")
    assert books.balance(books.alice) == (1000, 600)
    with pytest.raises(PaydeskError) as info:
        books.post((books.alice, -500), (books.bob, 500))
    assert info.value.code == "exceeds_floor"  # only 400 available
    with pytest.raises(PaydeskError) as info:
        _hold(books, 401, "h2")
    assert info.value.code == "exceeds_floor"

    with unit_of_work(db) as session:
        post_hold(session, merchant_id=books.merchant_id, hold_id=hold.id, amount=450)
    assert books.balance(books.alice) == (550, 0)
    assert books.balance(books.bob) == (450, 0)
    with unit_of_work(db) as session:  # posting again replays
        again = post_hold(session, merchant_id=books.merchant_id, hold_id=hold.id, amount=450)
    assert again.replayed
    assert books.balance(books.alice) == (550, 0)

    second = _hold(books, 100, "h3")
    with unit_of_work(db) as session:
        voided = void_hold(session, merchant_id=books.merchant_id, hold_id=second.id)
    assert voided.status == HoldStatus.VOIDED
    assert books.balance(books.alice) == (550, 0)
    with pytest.raises(PaydeskError) as info, unit_of_work(db) as session:
        post_hold(session, merchant_id=books.merchant_id, hold_id=second.id)
    assert info.value.code == "hold_not_pending"


def test_as_of_balance_and_statement_with_running_balance(books: Books, db: Database) -> None:
    books.fund(books.alice, 1000)
    middle = clock.now()
    for amount in (100, 200, 300):
        books.post((books.alice, -amount), (books.bob, amount))
    with unit_of_work(db, read_only=True) as session:
        assert (
            ledger_accounts.balance_as_of(session, books.merchant_id, books.alice, middle) == 1000
        )
        assert (
            ledger_accounts.balance_as_of(session, books.merchant_id, books.alice, clock.now())
            == 400
        )
        page = ledger_accounts.statement(session, books.merchant_id, books.alice, limit=2)
        assert [line.balance_after for line in page.lines] == [1000, 900]
        assert page.has_more
        rest = ledger_accounts.statement(
            session, books.merchant_id, books.alice, after_entry_id=page.lines[-1].entry_id
        )
        assert [(line.amount, line.balance_after) for line in rest.lines] == [
            (-200, 700),
            (-300, 400),
        ]
        assert not rest.has_more
