"""Many threads posting to the same accounts at once: floors hold, nothing is lost, nothing
deadlocks, and SQLite's "database is locked" never reaches the caller.

* 16 threads spend 70 at a time from ONE wallet funded with 1000, each until refused:
  exactly 14 spends pass, the balance ends at 20 and is never seen below zero.
* 16 threads on ONE multi-slot merchant receivable: 12 post payments into it from their own
  wallets while 4 pay out of it against its floor; it ends at credits minus the payouts that
  passed and is never seen below zero.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import AccountSpec, balance, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor
from paydesk.ledger.models import Entry, FloorRule, LedgerBalance
from paydesk.ledger.posting import post_journal
from paydesk.merchants.models import MerchantKind
from paydesk.merchants.service import create_merchant

THREADS = 16
CURRENCY = "CNY"
FUNDED = 1000
SPEND = 70
SPENDS_POSSIBLE = FUNDED // SPEND  # 14
JOIN_TIMEOUT_S = 60


@dataclass
class Outcome:
    """What the threads saw, appended under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    passed: list[int] = field(default_factory=list)
    """Per success: the amount moved (or, for spends, the wallet balance right after)."""
    refused: int = 0
    errors: list[BaseException] = field(default_factory=list)


def _merchant(db: Database) -> str:
    with unit_of_work(db) as session:
        merchant = create_merchant(
            session, name="Contention", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        )
        return merchant.id


def _account(
    db: Database,
    merchant_id: str,
    owner: str,
    kind: str,
    floor: FloorRule = FloorRule.NON_NEGATIVE,
    slots: int = 1,
) -> str:
    owner_type, owner_id = owner.split(":")
    with unit_of_work(db) as session:
        spec = AccountSpec(merchant_id, owner_type, owner_id, kind, CURRENCY)
        return ensure_account(session, spec, floor_rule=floor, slots=slots).id


def _post(db: Database, merchant_id: str, key: str, debit: str, credit: str, amount: int) -> int:
    """Post one transfer in its own transaction; returns the debit account's balance after."""
    with unit_of_work(db) as session:
        post_journal(
            session,
            merchant_id=merchant_id,
            idempotency_key=key,
            legs=[Leg(debit, -amount, CURRENCY), Leg(credit, amount, CURRENCY)],
            kind="transfer",
        )
        return balance(session, merchant_id, debit).balance


def _run(
    db: Database, merchant_id: str, watched: str, workers: list[Callable[[], None]]
) -> list[int]:
    """Start the workers together (a barrier) beside a reader of ``watched``'s balance; join
    them; return the balances the reader saw."""
    barrier = threading.Barrier(len(workers) + 1)
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        barrier.wait()
        while not done.is_set():
            with unit_of_work(db, read_only=True) as session:
                seen.append(balance(session, merchant_id, watched).balance)
            time.sleep(0.002)

    def start(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            work()

        return run

    threads = [threading.Thread(target=start(work)) for work in workers]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    done.set()
    reader.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in [*threads, reader]), "a thread hung"
    return seen


def _entries(db: Database, account_id: str) -> tuple[int, int]:
    """(number, sum) of an account's entries."""
    with db.engine.connect() as connection:
        count, total = connection.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Entry.amount), 0)).where(
                Entry.account_id == account_id
            )
        ).one()
    return int(count), int(total)


def _slots(db: Database, account_id: str) -> list[int]:
    with db.engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(LedgerBalance.balance)
                .where(LedgerBalance.account_id == account_id)
                .order_by(LedgerBalance.slot)
            ).scalars()
        )


def _spend_race(db: Database) -> None:
    merchant_id = _merchant(db)
    clearing = _account(db, merchant_id, "channel:bank", "clearing", FloorRule.UNBOUNDED)
    wallet = _account(db, merchant_id, "user:u1", "cash")
    shop = _account(db, merchant_id, f"merchant:{merchant_id}", "revenue", FloorRule.UNBOUNDED)
    _post(db, merchant_id, "fund", clearing, wallet, FUNDED)
    outcome = Outcome()

    def spender(index: int) -> Callable[[], None]:
        def work() -> None:
            for attempt in range(SPENDS_POSSIBLE + 2):
                try:
                    after = _post(db, merchant_id, f"spend-{index}-{attempt}", wallet, shop, SPEND)
                except ExceedsFloor:
                    with outcome.lock:
                        outcome.refused += 1
                    return
                except Exception as exc:  # deadlock, "database is locked", ...
                    with outcome.lock:
                        outcome.errors.append(exc)
                    return
                with outcome.lock:
                    outcome.passed.append(after)

        return work

    seen = _run(db, merchant_id, wallet, [spender(i) for i in range(THREADS)])

    assert outcome.errors == []
    assert outcome.refused == THREADS  # every thread ended on a refusal, none ran away
    assert len(outcome.passed) == SPENDS_POSSIBLE
    # each spend saw the balance the one before it left: no lost update, none below zero
    assert sorted(outcome.passed) == [FUNDED - SPEND * n for n in range(SPENDS_POSSIBLE, 0, -1)]
    assert seen and min(seen) >= 0
    with unit_of_work(db, read_only=True) as session:
        left = balance(session, merchant_id, wallet)
        assert (
            (left.balance, left.pending_debit) == (FUNDED - SPENDS_POSSIBLE * SPEND, 0) == (20, 0)
        )
        assert balance(session, merchant_id, shop).balance == SPENDS_POSSIBLE * SPEND
    assert _entries(db, wallet) == (1 + SPENDS_POSSIBLE, left.balance)
    assert _entries(db, shop) == (SPENDS_POSSIBLE, SPENDS_POSSIBLE * SPEND)


def test_one_wallet_sixteen_spenders_postgres(pg_db: Database) -> None:
    _spend_race(pg_db)


def test_one_wallet_sixteen_spenders_sqlite(sqlite_db: Database) -> None:
    _spend_race(sqlite_db)


PAYERS = 12
PAYMENTS_EACH = 25
PAYMENT = 10
PAYOUT = 30
PAYOUTS_EACH = 25
HOT_SLOTS = 8


def test_hot_merchant_account_credits_and_payouts_postgres(pg_db: Database) -> None:
    db = pg_db
    merchant_id = _merchant(db)
    clearing = _account(db, merchant_id, "channel:bank", "clearing", FloorRule.UNBOUNDED)
    bank = _account(db, merchant_id, "channel:payouts", "clearing", FloorRule.UNBOUNDED)
    receivable = _account(db, merchant_id, f"merchant:{merchant_id}", "receivable", slots=HOT_SLOTS)
    wallets = [_account(db, merchant_id, f"user:p{i}", "cash") for i in range(PAYERS)]
    funding = PAYMENTS_EACH * PAYMENT
    for index, wallet in enumerate(wallets):
        _post(db, merchant_id, f"fund-{index}", clearing, wallet, funding)
    payments, payouts = Outcome(), Outcome()

    def payer(index: int) -> Callable[[], None]:
        def work() -> None:
            for n in range(PAYMENTS_EACH):
                try:
                    _post(db, merchant_id, f"pay-{index}-{n}", wallets[index], receivable, PAYMENT)
                except Exception as exc:
                    with payments.lock:
                        payments.errors.append(exc)
                    return
                with payments.lock:
                    payments.passed.append(PAYMENT)

        return work

    def payout(index: int) -> Callable[[], None]:
        def work() -> None:
            for n in range(PAYOUTS_EACH):
                try:
                    _post(db, merchant_id, f"payout-{index}-{n}", receivable, bank, PAYOUT)
                except ExceedsFloor:
                    with payouts.lock:
                        payouts.refused += 1
                    time.sleep(0.005)  # let some payments in
                    continue
                except Exception as exc:
                    with payouts.lock:
                        payouts.errors.append(exc)
                    return
                with payouts.lock:
                    payouts.passed.append(PAYOUT)

        return work

    workers = [payer(i) for i in range(PAYERS)]
    workers += [payout(i) for i in range(THREADS - PAYERS)]
    seen = _run(db, merchant_id, receivable, workers)

    assert payments.errors == [] and payouts.errors == []
    assert len(payments.passed) == PAYERS * PAYMENTS_EACH
    assert len(payouts.passed) + payouts.refused == (THREADS - PAYERS) * PAYOUTS_EACH
    assert payouts.passed, "no payout got through"
    credits, paid_out = sum(payments.passed), sum(payouts.passed)
    assert seen and min(seen) >= 0
    with unit_of_work(db, read_only=True) as session:
        assert balance(session, merchant_id, receivable).balance == credits - paid_out >= 0
        assert balance(session, merchant_id, bank).balance == paid_out
        for wallet in wallets:
            assert balance(session, merchant_id, wallet).balance == 0
    assert _entries(db, receivable) == (
        len(payments.passed) + len(payouts.passed),
        credits - paid_out,
    )
    slots = _slots(db, receivable)
    assert len(slots) == HOT_SLOTS and sum(slots) == credits - paid_out
    assert sum(1 for value in slots if value) > 1  # the credits were spread over the slots
