"""All SQL of the ledger, in SQLAlchemy Core: the posting path is a few short statements of a
fixed shape, so psycopg prepares them once and they can later be batched.

The posting path's statements are built once, with bound parameters, so SQLAlchemy finds
them compiled in its cache instead of building and hashing a new statement on every call.
They run on the session's connection (:data:`Executor`), skipping the ORM session layer."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paydesk.ledger.domain import AccountRules
from paydesk.ledger.models import (
    AccountStatus,
    Entry,
    Hold,
    Journal,
    LedgerAccount,
    LedgerBalance,
)

accounts: sa.Table = LedgerAccount.__table__  # type: ignore[assignment]
balances: sa.Table = LedgerBalance.__table__  # type: ignore[assignment]
journals: sa.Table = Journal.__table__  # type: ignore[assignment]
entries: sa.Table = Entry.__table__  # type: ignore[assignment]
holds: sa.Table = Hold.__table__  # type: ignore[assignment]

_slot_rng = random.Random()  # noqa: S311 - spreading load, not cryptography
_BIG = sa.BigInteger()

Executor = Session | sa.Connection
"""What the posting path's functions run on: a session, or its connection fetched once."""


def _connection(executor: Executor) -> sa.Connection:
    return executor if isinstance(executor, sa.Connection) else executor.connection()


def _insert_ignoring_conflict(session: Session, table: sa.Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


_JOURNAL_INSERTS: dict[str, Any] = {}


def insert_journal(session: Executor, values: Mapping[str, Any]) -> bool:
    """Insert a journal unless its (merchant, idempotency key) exists; True if inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then reports the conflict, so two requests with one key never both post."""
    connection = _connection(session)
    dialect = connection.dialect.name
    statement = _JOURNAL_INSERTS.get(dialect)
    if statement is None:
        module = postgresql if dialect == "postgresql" else sqlite
        statement = _JOURNAL_INSERTS[dialect] = (
            module.insert(journals)
            .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
            .returning(journals.c.id)
        )
    return connection.execute(statement, dict(values)).first() is not None


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


_ACCOUNT_RULES = sa.select(
    accounts.c.id,
    accounts.c.merchant_id,
    accounts.c.currency,
    accounts.c.status,
    accounts.c.floor_rule,
    accounts.c.overdraft_limit,
    accounts.c.slots,
).where(accounts.c.id.in_(sa.bindparam("p_ids", expanding=True)))

_known_rules: dict[str, AccountRules] = {}
"""The rules of each account read before (in this process), by id. Only their immutable
fields may be relied on: an account's merchant, currency, floor rule, overdraft limit and
slots never change once it is opened. Its status does change, so the posting statements
that rely on this check the status themselves (``debit_within_floor(if_active=True)``,
``add_to_slot(if_status=...)``)."""
KNOWN_RULES_MAX = 100_000


def account_rules(session: Executor, account_ids: Iterable[str]) -> dict[str, AccountRules]:
    rows = _connection(session).execute(_ACCOUNT_RULES, {"p_ids": list(account_ids)}).all()
    found = {row[0]: AccountRules(*row) for row in rows}
    if len(_known_rules) + len(found) > KNOWN_RULES_MAX:
        _known_rules.clear()
    _known_rules.update(found)
    return found


def known_rules(account_ids: Iterable[str]) -> dict[str, AccountRules] | None:
    """The rules last read of each account, without a query; ``None`` if one of them was
    not read before. Their ``status`` may be out of date."""
    found: dict[str, AccountRules] = {}
    for account_id in account_ids:
        rules = _known_rules.get(account_id)
        if rules is None:
            return None
        found[account_id] = rules
    return found


def _status_in(statuses: tuple[AccountStatus, ...]) -> sa.ColumnElement[bool]:
    """The account ``:p_account_id`` has one of ``statuses`` (as of this statement)."""
    status = (
        sa.select(accounts.c.status)
        .where(accounts.c.id == sa.bindparam("p_account_id"))
        .scalar_subquery()
    )
    # literals: an IN list of bound parameters would be re-expanded on every execution
    return status.in_([sa.literal_column(f"'{value.value}'") for value in statuses])


DEBITABLE: tuple[AccountStatus, ...] = (AccountStatus.ACTIVE,)
CREDITABLE: tuple[AccountStatus, ...] = (AccountStatus.ACTIVE, AccountStatus.FROZEN)

_DEBIT_WITHIN_FLOOR = (
    balances.update()
    .where(
        balances.c.account_id == sa.bindparam("p_account_id"),
        balances.c.slot == 0,
        balances.c.balance - balances.c.pending_debit + sa.bindparam("p_amount", type_=_BIG)
        >= sa.bindparam("p_floor", type_=_BIG),
    )
    .values(balance=balances.c.balance + sa.bindparam("p_amount", type_=_BIG))
)
_DEBIT_WITHIN_FLOOR_IF_ACTIVE = _DEBIT_WITHIN_FLOOR.where(_status_in(DEBITABLE))


def debit_within_floor(
    session: Executor, account_id: str, amount: int, floor: int, *, if_active: bool = False
) -> bool:
    """Add ``amount`` (negative) to a one-slot account if its available balance stays at or
    above ``floor`` (and, with ``if_active``, if the account is active); False if it would
    not. One conditional update: the row lock it takes makes concurrent debits queue, and
    each sees the balance the previous one left."""
    statement = _DEBIT_WITHIN_FLOOR_IF_ACTIVE if if_active else _DEBIT_WITHIN_FLOOR
    result = _connection(session).execute(
        statement, {"p_account_id": account_id, "p_amount": amount, "p_floor": floor}
    )
    return result.rowcount == 1


_LOCKED_SLOTS = (
    sa.select(balances.c.slot, balances.c.balance, balances.c.pending_debit)
    .where(balances.c.account_id == sa.bindparam("p_account_id"))
    .order_by(balances.c.slot)
    .with_for_update()
)


def locked_slots(session: Executor, account_id: str) -> list[tuple[int, int, int]]:
    """Every slot of an account as (slot, balance, pending_debit), locked in slot order."""
    rows = _connection(session).execute(_LOCKED_SLOTS, {"p_account_id": account_id}).all()
    return [(row.slot, row.balance, row.pending_debit) for row in rows]


_ADD_TO_SLOT = (
    balances.update()
    .where(
        balances.c.account_id == sa.bindparam("p_account_id"),
        balances.c.slot == sa.bindparam("p_slot"),
    )
    .values(balance=balances.c.balance + sa.bindparam("p_amount", type_=_BIG))
)
_ADD_TO_SLOT_IF: dict[tuple[AccountStatus, ...], sa.Update] = {
    statuses: _ADD_TO_SLOT.where(_status_in(statuses)) for statuses in (DEBITABLE, CREDITABLE)
}


def add_to_slot(
    session: Executor,
    account_id: str,
    slot: int,
    amount: int,
    *,
    if_status: tuple[AccountStatus, ...] | None = None,
) -> bool:
    """Add ``amount`` to one slot; with ``if_status`` (:data:`DEBITABLE` or
    :data:`CREDITABLE`) only if the account's status is one of those. True if done."""
    statement = _ADD_TO_SLOT if if_status is None else _ADD_TO_SLOT_IF[if_status]
    result = _connection(session).execute(
        statement, {"p_account_id": account_id, "p_slot": slot, "p_amount": amount}
    )
    return result.rowcount == 1


def random_slot(slots: int) -> int:
    return 0 if slots == 1 else _slot_rng.randrange(slots)


def change_pending(
    session: Executor, account_id: str, amount: int, *, floor: int | None, balance_delta: int = 0
) -> bool:
    """Change slot 0's pending debits by ``amount`` (and its balance by ``balance_delta``).

    With a ``floor``, only if the one-slot account's available balance stays at or above it.
    """
    statement = balances.update().where(balances.c.account_id == account_id, balances.c.slot == 0)
    if floor is not None:
        statement = statement.where(
            balances.c.balance - balances.c.pending_debit - amount + balance_delta >= floor
        )
    result = _connection(session).execute(
        statement.values(
            pending_debit=balances.c.pending_debit + amount,
            balance=balances.c.balance + balance_delta,
        )
    )
    return result.rowcount == 1


_ENTRY_FIELDS = {"a": "account_id", "m": "amount", "c": "currency"}
"""Parameter prefix of an entry's fields (then the leg's index): ``:a0, :m0, :c0, :a1 ...``."""
_entry_inserts: dict[int, sa.TextClause] = {}


def _entry_insert(count: int) -> sa.TextClause:
    """One multi-row ``INSERT`` for ``count`` entries. Text, because a multi-row
    ``insert().values([...])`` has no cache key and would be compiled on every call."""
    statement = _entry_inserts.get(count)
    if statement is None:
        rows = ", ".join(f"(:journal_id, :a{i}, :m{i}, :c{i}, :posted_at)" for i in range(count))
        statement = _entry_inserts[count] = sa.text(
            "INSERT INTO ledger_entries (journal_id, account_id, amount, currency, posted_at)"  # noqa: S608 - placeholders only
            f" VALUES {rows}"
        ).bindparams(
            sa.bindparam("journal_id", type_=entries.c.journal_id.type),
            sa.bindparam("posted_at", type_=entries.c.posted_at.type),
            *_entry_bindparams(count),
        )
    return statement


def _entry_bindparams(count: int) -> list[sa.BindParameter[Any]]:
    return [
        sa.bindparam(f"{prefix}{i}", type_=entries.c[name].type)
        for i in range(count)
        for prefix, name in _ENTRY_FIELDS.items()
    ]


def _entry_params(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        f"{prefix}{i}": row[name]
        for i, row in enumerate(rows)
        for prefix, name in _ENTRY_FIELDS.items()
    }


def insert_entries(session: Executor, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the entries of one journal (the same ``journal_id`` and ``posted_at``) in one
    statement."""
    first = rows[0]
    params = {"journal_id": first["journal_id"], "posted_at": first["posted_at"]}
    _connection(session).execute(_entry_insert(len(rows)), params | _entry_params(rows))


_JOURNAL_COLUMNS = (
    "id",
    "merchant_id",
    "idempotency_key",
    "request_hash",
    "kind",
    "memo",
    "reverses_id",
    "hold_id",
    "meta",
    "posted_at",
)
_journal_with_entries_inserts: dict[int, sa.TextClause] = {}


def _journal_with_entries_insert(count: int) -> sa.TextClause:
    statement = _journal_with_entries_inserts.get(count)
    if statement is None:
        rows = ", ".join(
            f"(CAST(:a{i} AS VARCHAR), CAST(:m{i} AS BIGINT), CAST(:c{i} AS VARCHAR), {i})"
            for i in range(count)
        )
        statement = _journal_with_entries_inserts[count] = sa.text(
            f"WITH j AS (INSERT INTO ledger_journals ({', '.join(_JOURNAL_COLUMNS)})"  # noqa: S608 - placeholders only
            f" VALUES ({', '.join(':' + name for name in _JOURNAL_COLUMNS)})"
            " ON CONFLICT (merchant_id, idempotency_key) DO NOTHING RETURNING id, posted_at)"
            " INSERT INTO ledger_entries (journal_id, account_id, amount, currency, posted_at)"
            " SELECT j.id, v.account_id, v.amount, v.currency, j.posted_at"
            f" FROM j, (VALUES {rows}) AS v (account_id, amount, currency, n)"
            " ORDER BY v.n RETURNING journal_id"
        ).bindparams(
            *(sa.bindparam(name, type_=journals.c[name].type) for name in _JOURNAL_COLUMNS),
            *_entry_bindparams(count),
        )
    return statement


def insert_journal_with_entries(
    connection: sa.Connection, values: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> bool:
    """PostgreSQL only: :func:`insert_journal` and :func:`insert_entries` in one statement
    (one round trip); the entries are inserted only if the journal is. True if it was.

    For accounts known to exist only: a missing one fails the statement (foreign key), and a
    failed statement aborts a PostgreSQL transaction."""
    params = dict(values) | _entry_params(rows)
    return connection.execute(_journal_with_entries_insert(len(rows)), params).first() is not None


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


_ACCOUNT_KEY_COLUMNS = (
    "merchant_id",
    "app_id",
    "owner_type",
    "owner_id",
    "kind",
    "currency",
    "zone",
)
_ACCOUNT_BY_KEY = sa.select(LedgerAccount).where(
    *(getattr(LedgerAccount, name) == sa.bindparam(name) for name in _ACCOUNT_KEY_COLUMNS)
)
"""Built once: the hottest lookup of the wallets (every debit and credit finds two accounts)."""


def account_by_key(session: Session, key: Mapping[str, str]) -> LedgerAccount | None:
    if key.keys() != set(_ACCOUNT_KEY_COLUMNS):
        raise ValueError(f"an account key has exactly {_ACCOUNT_KEY_COLUMNS}")
    return session.scalars(_ACCOUNT_BY_KEY, dict(key)).first()


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
