"""What the ledger state machine (``tests/integration/test_ledger_stateful.py``) reads back
from the database to check it.

Holds :func:`snapshot` (everything of a merchant's ledger an operation could change, to show
that a failed operation or a replay changed nothing), :func:`check_database` (the invariants
checked after every step: on the database's own terms, then against the
:class:`~tests.support.ledger_model.LedgerModel`) and :func:`check_history` (at the end of a
run: balances as of earlier moments and paged statements against the model's history).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.models import Job
from paydesk.ledger import accounts as ledger_accounts
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import Entry, Hold, HoldStatus, Journal, LedgerAccount, LedgerBalance
from tests.support.ledger_model import LedgerModel

ONE_MICROSECOND = timedelta(microseconds=1)
STATEMENT_PAGE = 7
"""Statements are read in pages this long."""


def snapshot(db: Database, merchant_id: str) -> tuple[Any, ...]:
    """Everything of this merchant's ledger an operation could change."""
    mine = sa.select(LedgerAccount.id).where(LedgerAccount.merchant_id == merchant_id)
    with unit_of_work(db, read_only=True) as session:
        slots = session.execute(
            sa.select(
                LedgerBalance.account_id,
                LedgerBalance.slot,
                LedgerBalance.balance,
                LedgerBalance.pending_debit,
            )
            .where(LedgerBalance.account_id.in_(mine))
            .order_by(LedgerBalance.account_id, LedgerBalance.slot)
        ).all()
        statuses = session.execute(
            sa.select(LedgerAccount.id, LedgerAccount.status, LedgerAccount.updated_at)
            .where(LedgerAccount.merchant_id == merchant_id)
            .order_by(LedgerAccount.id)
        ).all()
        journals = session.execute(
            sa.select(Journal.id, Journal.idempotency_key, Journal.reverses_id)
            .where(Journal.merchant_id == merchant_id)
            .order_by(Journal.id)
        ).all()
        entries = session.scalar(
            sa.select(sa.func.count()).select_from(Entry).where(Entry.account_id.in_(mine))
        )
        holds = session.execute(
            sa.select(Hold.id, Hold.status, Hold.amount_posted, Hold.journal_id)
            .where(Hold.merchant_id == merchant_id)
            .order_by(Hold.id)
        ).all()
        jobs = session.scalar(
            sa.select(sa.func.count()).select_from(Job).where(Job.merchant_id == merchant_id)
        )
    return (
        [tuple(row) for row in slots],
        [tuple(row) for row in statuses],
        [tuple(row) for row in journals],
        entries,
        [tuple(row) for row in holds],
        jobs,
    )


# --- after every step --------------------------------------------------------------------------


def check_database(db: Database, merchant_id: str, model: LedgerModel, now: datetime) -> None:
    """Journals balance and stay on this merchant's accounts in their currencies; per account,
    slots agree with entries, pending holds and ``balance_as_of``, floors hold and balances
    per currency sum to zero; and accounts, journals and holds agree with the model."""
    with unit_of_work(db, read_only=True) as session:
        check_entries(session, merchant_id)
        check_accounts(session, merchant_id, model, now)
        check_journals(session, merchant_id, model)
        check_holds(session, merchant_id, model)


def check_entries(session: Session, merchant_id: str) -> None:
    unbalanced = session.execute(
        sa.select(Entry.journal_id, Entry.currency, sa.func.sum(Entry.amount))
        .join(Journal, Journal.id == Entry.journal_id)
        .where(Journal.merchant_id == merchant_id)
        .group_by(Entry.journal_id, Entry.currency)
        .having(sa.func.sum(Entry.amount) != 0)
    ).all()
    assert not unbalanced, f"journals that do not balance: {unbalanced}"
    stray = session.execute(
        sa.select(Entry.id)
        .join(Journal, Journal.id == Entry.journal_id)
        .join(LedgerAccount, LedgerAccount.id == Entry.account_id)
        .where(
            Journal.merchant_id == merchant_id,
            sa.or_(
                LedgerAccount.merchant_id != merchant_id,
                LedgerAccount.currency != Entry.currency,
            ),
        )
    ).all()
    assert not stray, f"entries on another merchant's account or currency: {stray}"


def check_accounts(session: Session, merchant_id: str, model: LedgerModel, now: datetime) -> None:
    ids = list(model.accounts)
    slots: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for account_id, slot, slot_balance, slot_pending in session.execute(
        sa.select(
            LedgerBalance.account_id,
            LedgerBalance.slot,
            LedgerBalance.balance,
            LedgerBalance.pending_debit,
        ).where(LedgerBalance.account_id.in_(ids))
    ):
        slots[account_id].append((slot, slot_balance, slot_pending))
    entry_sums = dict(
        session.execute(
            sa.select(Entry.account_id, sa.func.sum(Entry.amount))
            .where(Entry.account_id.in_(ids))
            .group_by(Entry.account_id)
        ).all()
    )
    held = dict(
        session.execute(
            sa.select(Hold.debit_account_id, sa.func.sum(Hold.amount))
            .where(
                Hold.merchant_id == merchant_id,
                Hold.status == HoldStatus.PENDING.value,
            )
            .group_by(Hold.debit_account_id)
        ).all()
    )
    statuses = dict(
        session.execute(
            sa.select(LedgerAccount.id, LedgerAccount.status).where(
                LedgerAccount.merchant_id == merchant_id
            )
        ).all()
    )
    per_currency: dict[str, int] = defaultdict(int)
    for account_id, account in model.accounts.items():
        name = account.plan.name
        rows = slots[account_id]
        assert sorted(slot for slot, _, _ in rows) == list(range(account.plan.slots))
        balance = sum(b for _, b, _ in rows)
        pending = sum(p for _, _, p in rows)
        assert all(p == 0 for slot, _, p in rows if slot != 0), (
            f"{name}: pending debits off slot 0: {rows}"
        )
        per_currency[account.plan.currency] += balance
        floor = account.plan.floor
        assert floor is None or balance - pending >= floor, (
            f"{name}: available {balance - pending} below floor {floor}"
        )
        assert balance == int(entry_sums.get(account_id, 0)), (
            f"{name}: slots sum to {balance}, entries to {entry_sums.get(account_id, 0)}"
        )
        assert pending == int(held.get(account_id, 0)), (
            f"{name}: pending_debit {pending}, pending holds {held.get(account_id, 0)}"
        )
        as_of = ledger_accounts.balance_as_of(session, merchant_id, account_id, now)
        assert as_of == balance, f"{name}: balance as of now {as_of}, posted {balance}"
        # the model: balances, reservations, status and the balance at an earlier moment
        assert (balance, pending) == (account.balance, account.pending), (
            f"{name}: database (balance, pending) {(balance, pending)}, "
            f"model {(account.balance, account.pending)}"
        )
        assert statuses[account_id] == account.status.value, name
    assert all(total == 0 for total in per_currency.values()), (
        f"balances per currency do not sum to zero: {dict(per_currency)}"
    )


def check_journals(session: Session, merchant_id: str, model: LedgerModel) -> None:
    journals = {
        row.id: row
        for row in session.execute(
            sa.select(Journal.id, Journal.idempotency_key, Journal.reverses_id).where(
                Journal.merchant_id == merchant_id
            )
        )
    }
    assert set(journals) == set(model.journals), "journals differ from the model"
    legs: dict[str, list[Leg]] = defaultdict(list)
    for entry in session.execute(
        sa.select(Entry.journal_id, Entry.account_id, Entry.amount, Entry.currency)
        .join(Journal, Journal.id == Entry.journal_id)
        .where(Journal.merchant_id == merchant_id)
        .order_by(Entry.id)
    ):
        legs[entry.journal_id].append(Leg(entry.account_id, entry.amount, entry.currency))
    for journal_id, row in journals.items():
        model_journal = model.journals[journal_id]
        assert (row.idempotency_key, row.reverses_id) == (
            model_journal.key,
            model_journal.reverses_id,
        )
        assert tuple(legs[journal_id]) == model_journal.content.legs, (
            f"entries of journal {journal_id} ({model_journal.content.kind})"
        )


def check_holds(session: Session, merchant_id: str, model: LedgerModel) -> None:
    holds = {
        row.id: row
        for row in session.execute(
            sa.select(Hold.id, Hold.status, Hold.amount_posted, Hold.journal_id).where(
                Hold.merchant_id == merchant_id
            )
        )
    }
    assert set(holds) == set(model.holds), "holds differ from the model"
    for hold_id, hold_row in holds.items():
        model_hold = model.holds[hold_id]
        assert (hold_row.status, hold_row.amount_posted, hold_row.journal_id) == (
            model_hold.status.value,
            model_hold.amount_posted,
            model_hold.journal_id,
        ), f"hold {hold_id} differs from the model"


# --- at the end of a run -----------------------------------------------------------------------


def check_history(
    db: Database, merchant_id: str, model: LedgerModel, time_marks: list[datetime]
) -> None:
    """Balances as of each earlier moment the clock stood at, and just before it (entries of
    one moment share its timestamp); statements page by page, whole and from a moment on,
    with their running balances."""
    with unit_of_work(db, read_only=True) as session:
        for account in model.accounts.values():
            running = list(itertools.accumulate(amount for _, amount in account.history))
            pairs = zip(account.history, running, strict=True)
            expected = [(*entry, after) for entry, after in pairs]
            assert read_statement(session, merchant_id, account.id, None) == expected, (
                account.plan.name
            )
            since = time_marks[len(time_marks) // 2]
            assert read_statement(session, merchant_id, account.id, since) == [
                line for line in expected if line[0] >= since
            ], f"{account.plan.name}: statement from {since.isoformat()}"
            for mark in time_marks:
                for moment in (mark, mark - ONE_MICROSECOND):
                    past = ledger_accounts.balance_as_of(session, merchant_id, account.id, moment)
                    assert past == account.balance_at(moment), (
                        f"{account.plan.name}: balance as of {moment.isoformat()} is {past}, "
                        f"model {account.balance_at(moment)}"
                    )


def read_statement(
    session: Session, merchant_id: str, account_id: str, posted_from: datetime | None
) -> list[tuple[datetime, int, int]]:
    """(posted_at, amount, balance_after) of every line, read in pages of
    :data:`STATEMENT_PAGE`."""
    lines: list[tuple[datetime, int, int]] = []
    after: int | None = None
    while True:
        page = ledger_accounts.statement(
            session,
            merchant_id,
            account_id,
            posted_from=posted_from,
            after_entry_id=after,
            limit=STATEMENT_PAGE,
        )
        lines += [(line.posted_at, line.amount, line.balance_after) for line in page.lines]
        if not page.has_more:
            return lines
        after = page.lines[-1].entry_id
