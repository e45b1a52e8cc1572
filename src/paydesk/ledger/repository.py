"""All SQL of the ledger, in SQLAlchemy Core: the posting path is a few short statements of a
fixed shape, so psycopg prepares them once and they can later be batched."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paydesk.ledger.domain import AccountRules
from paydesk.ledger.models import Entry, Hold, Journal, LedgerAccount, LedgerBalance

accounts: sa.Table = LedgerAccount.__table__  # type: ignore[assignment]
balances: sa.Table = LedgerBalance.__table__  # type: ignore[assignment]
journals: sa.Table = Journal.__table__  # type: ignore[assignment]
entries: sa.Table = Entry.__table__  # type: ignore[assignment]
holds: sa.Table = Hold.__table__  # type: ignore[assignment]

_slot_rng = random.Random()  # noqa: S311 - spreading load, not cryptography


def _insert_ignoring_conflict(session: Session, table: sa.Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_journal(session: Session, values: Mapping[str, Any]) -> bool:
    """Insert a journal unless its (merchant, idempotency key) exists; True if inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then reports the conflict, so two requests with one key never both post."""
    statement = (
        _insert_ignoring_conflict(session, journals)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
        .returning(journals.c.id)
    )
    return session.execute(statement).first() is not None


def journal_by_key(session: Session, merchant_id: str, key: str) -> Journal | None:
    return session.scalars(
        sa.select(Journal).where(Journal.merchant_id == merchant_id, Journal.idempotency_key == key)
    ).first()


def journal(session: Session, merchant_id: str, journal_id: str) -> Journal | None:
    return session.scalars(
        sa.select(Journal).where(Journal.merchant_id == merchant_id, Journal.id == journal_id)
    ).first()


def reversal_of(session: Session, journal_id: str) -> Journal | None:
    return session.scalars(sa.select(Journal).where(Journal.reverses_id == journal_id)).first()


def journal_entries(session: Session, journal_id: str) -> Sequence[Entry]:
    return session.scalars(
        sa.select(Entry).where(Entry.journal_id == journal_id).order_by(Entry.id)
    ).all()


def account_rules(session: Session, account_ids: Iterable[str]) -> dict[str, AccountRules]:
    rows = session.execute(
        sa.select(
            accounts.c.id,
            accounts.c.merchant_id,
            accounts.c.currency,
            accounts.c.status,
            accounts.c.floor_rule,
            accounts.c.overdraft_limit,
            accounts.c.slots,
        ).where(accounts.c.id.in_(list(account_ids)))
    ).all()
    return {row.id: AccountRules(*row) for row in rows}


def debit_within_floor(session: Session, account_id: str, amount: int, floor: int) -> bool:
    """Add ``amount`` (negative) to a one-slot account if its available balance stays at or
    above ``floor``; False if it would not. One conditional update: the row lock it takes
    makes concurrent debits queue, and each sees the balance the previous one left."""
    result = session.execute(
        balances.update()
        .where(
            balances.c.account_id == account_id,
            balances.c.slot == 0,
            balances.c.balance - balances.c.pending_debit + amount >= floor,
        )
        .values(balance=balances.c.balance + amount)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def locked_slots(session: Session, account_id: str) -> list[tuple[int, int, int]]:
    """Every slot of an account as (slot, balance, pending_debit), locked in slot order."""
    rows = session.execute(
        sa.select(balances.c.slot, balances.c.balance, balances.c.pending_debit)
        .where(balances.c.account_id == account_id)
        .order_by(balances.c.slot)
        .with_for_update()
    ).all()
    return [(row.slot, row.balance, row.pending_debit) for row in rows]


def add_to_slot(session: Session, account_id: str, slot: int, amount: int) -> None:
    session.execute(
        balances.update()
        .where(balances.c.account_id == account_id, balances.c.slot == slot)
        .values(balance=balances.c.balance + amount)
    )


def random_slot(slots: int) -> int:
    return 0 if slots == 1 else _slot_rng.randrange(slots)


def change_pending(
    session: Session, account_id: str, amount: int, *, floor: int | None, balance_delta: int = 0
) -> bool:
    """Change slot 0's pending debits by ``amount`` (and its balance by ``balance_delta``).

    With a ``floor``, only if the one-slot account's available balance stays at or above it.
    """
    statement = balances.update().where(balances.c.account_id == account_id, balances.c.slot == 0)
    if floor is not None:
        statement = statement.where(
            balances.c.balance - balances.c.pending_debit - amount + balance_delta >= floor
        )
    result = session.execute(
        statement.values(
            pending_debit=balances.c.pending_debit + amount,
            balance=balances.c.balance + balance_delta,
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def insert_entries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    session.execute(entries.insert(), list(rows))


def totals(session: Session, account_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(balance, pending debits) of each account, summed over its slots."""
    rows = session.execute(
        sa.select(
            balances.c.account_id,
            sa.func.sum(balances.c.balance),
            sa.func.sum(balances.c.pending_debit),
        )
        .where(balances.c.account_id.in_(list(account_ids)))
        .group_by(balances.c.account_id)
    ).all()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def sum_entries(
    session: Session,
    account_id: str,
    *,
    posted_at_max: datetime | None = None,
    id_below: int | None = None,
) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(entries.c.amount), 0)).where(
        entries.c.account_id == account_id
    )
    if posted_at_max is not None:
        query = query.where(entries.c.posted_at <= posted_at_max)
    if id_below is not None:
        query = query.where(entries.c.id < id_below)
    return int(session.execute(query).scalar_one())


def statement_entries(
    session: Session,
    account_id: str,
    *,
    posted_from: datetime | None,
    posted_before: datetime | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Any]:
    query = (
        sa.select(
            entries.c.id,
            entries.c.journal_id,
            entries.c.amount,
            entries.c.currency,
            entries.c.posted_at,
            journals.c.kind,
            journals.c.memo,
        )
        .join(journals, journals.c.id == entries.c.journal_id)
        .where(entries.c.account_id == account_id)
        .order_by(entries.c.id)
        .limit(limit)
    )
    if posted_from is not None:
        query = query.where(entries.c.posted_at >= posted_from)
    if posted_before is not None:
        query = query.where(entries.c.posted_at < posted_before)
    if after_id is not None:
        query = query.where(entries.c.id > after_id)
    return session.execute(query).all()


def account(session: Session, merchant_id: str | None, account_id: str) -> LedgerAccount | None:
    query = sa.select(LedgerAccount).where(LedgerAccount.id == account_id)
    if merchant_id is not None:
        query = query.where(LedgerAccount.merchant_id == merchant_id)
    return session.scalars(query).first()


def account_by_key(session: Session, key: Mapping[str, str]) -> LedgerAccount | None:
    query = sa.select(LedgerAccount)
    for name, value in key.items():
        query = query.where(getattr(LedgerAccount, name) == value)
    return session.scalars(query).first()


def insert_account(session: Session, values: Mapping[str, Any], slots: int) -> bool:
    """Insert an account and its balance slots unless its key exists; True if inserted."""
    inserted = session.execute(
        _insert_ignoring_conflict(session, accounts)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[
                "merchant_id",
                "app_id",
                "owner_type",
                "owner_id",
                "kind",
                "currency",
                "zone",
            ]
        )
        .returning(accounts.c.id)
    ).first()
    if inserted is None:
        return False
    session.execute(
        balances.insert(),
        [
            {"account_id": values["id"], "slot": slot, "balance": 0, "pending_debit": 0}
            for slot in range(slots)
        ],
    )
    return True


def accounts_of_owner(
    session: Session, merchant_id: str, *, app_id: str | None, owner_type: str, owner_id: str
) -> Sequence[LedgerAccount]:
    query = sa.select(LedgerAccount).where(
        LedgerAccount.merchant_id == merchant_id,
        LedgerAccount.owner_type == owner_type,
        LedgerAccount.owner_id == owner_id,
    )
    if app_id is not None:
        query = query.where(LedgerAccount.app_id == app_id)
    return session.scalars(query.order_by(LedgerAccount.id)).all()


def hold(session: Session, merchant_id: str | None, hold_id: str, *, lock: bool) -> Hold | None:
    query = sa.select(Hold).where(Hold.id == hold_id)
    if merchant_id is not None:
        query = query.where(Hold.merchant_id == merchant_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def hold_by_key(session: Session, merchant_id: str, key: str) -> Hold | None:
    return session.scalars(
        sa.select(Hold).where(Hold.merchant_id == merchant_id, Hold.idempotency_key == key)
    ).first()


def insert_hold(session: Session, values: Mapping[str, Any]) -> bool:
    inserted = session.execute(
        _insert_ignoring_conflict(session, holds)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
        .returning(holds.c.id)
    ).first()
    return inserted is not None


def finish_hold(
    session: Session,
    hold_id: str,
    *,
    status: str,
    amount_posted: int,
    journal_id: str | None,
    now: datetime,
) -> bool:
    """Move a pending hold to its final status; False if it was no longer pending."""
    result = session.execute(
        holds.update()
        .where(holds.c.id == hold_id, holds.c.status == "pending")
        .values(status=status, amount_posted=amount_posted, journal_id=journal_id, updated_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
