"""Opening accounts, freezing and closing them, and reading balances and statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.pagination import page_size
from paydesk.db.committed_memory import CommittedMemory
from paydesk.ledger import repository as repo
from paydesk.ledger.errors import AccountClosed, AccountNotEmpty, AccountNotFound
from paydesk.ledger.models import AccountStatus, FloorRule, LedgerAccount, LedgerBalance

SLOTS_MAX = 64
OWNER_FIELD_LENGTH_MAX = 128

# Core tables for the bulk insert of open_accounts; all other SQL lives in repository.py.
_accounts: sa.Table = LedgerAccount.__table__  # type: ignore[assignment]
_balances: sa.Table = LedgerBalance.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What identifies an account: one account per merchant, app, owner, kind, currency and
    zone."""

    merchant_id: str
    owner_type: str
    owner_id: str
    kind: str
    currency: str
    app_id: str = ""
    zone: str = ""

    def key(self) -> dict[str, str]:
        return {
            "merchant_id": self.merchant_id,
            "app_id": self.app_id,
            "owner_type": self.owner_type,
            "owner_id": self.owner_id,
            "kind": self.kind,
            "currency": self.currency,
            "zone": self.zone,
        }


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: str
    currency: str
    balance: int
    """Posted balance, minor units."""
    pending_debit: int
    """Reserved by pending holds, minor units."""

    @property
    def available(self) -> int:
        """What a debit may use: balance minus pending debits."""
        return self.balance - self.pending_debit


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: int
    journal_id: str
    kind: str
    memo: str
    amount: int
    currency: str
    posted_at: datetime
    balance_after: int
    """The account's balance right after this entry (in entry order)."""


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: str
    currency: str
    lines: list[StatementLine]
    has_more: bool


def ensure_account(
    session: Session,
    spec: AccountSpec,
    *,
    floor_rule: FloorRule = FloorRule.NON_NEGATIVE,
    overdraft_limit: int = 0,
    slots: int = 1,
    parent_id: str | None = None,
) -> LedgerAccount:
    """The account for ``spec``, opened on first use with the given rules."""
    existing = repo.account_by_key(session, spec.key())
    if existing is not None:
        return existing
    _check_spec(spec)
    _check_rules(floor_rule, overdraft_limit, slots)
    values = {
        **spec.key(),
        **_new_account_values(floor_rule, overdraft_limit, slots, parent_id),
        "id": new_id("acc"),
    }
    repo.insert_account(session, values, slots)
    account = repo.account_by_key(session, spec.key())
    assert account is not None
    return account


KNOWN_ACCOUNT_IDS: CommittedMemory[tuple[str, ...], str] = CommittedMemory(
    "account_ids", entries_max=200_000
)
"""Account ids by key: an account's key and id never change, and it is never deleted."""


def account_id(
    session: Session,
    spec: AccountSpec,
    *,
    create: bool,
    floor_rule: FloorRule = FloorRule.NON_NEGATIVE,
    slots: int = 1,
) -> str | None:
    """The id of the account for ``spec`` (opened with the given rules when ``create``; None
    when it does not exist and not ``create``), read from the database once per process
    (:data:`KNOWN_ACCOUNT_IDS`). For hot paths that only need the id: status, floors and
    balances are checked by the statements that move money."""
    key = tuple(spec.key().values())
    known = KNOWN_ACCOUNT_IDS.recall(key)
    if known is not None:
        return known
    if create:
        account: LedgerAccount | None = ensure_account(
            session, spec, floor_rule=floor_rule, slots=slots
        )
    else:
        account = repo.account_by_key(session, spec.key())
    if account is None:
        return None
    KNOWN_ACCOUNT_IDS.learn(session, key, account.id)
    return account.id


def open_accounts(
    session: Session,
    specs: Sequence[AccountSpec],
    *,
    floor_rule: FloorRule = FloorRule.NON_NEGATIVE,
    slots: int = 1,
) -> list[str]:
    """Open many new accounts with the same rules in two statements; returns their ids, in
    the order of ``specs``.

    Use it when the accounts are known not to exist yet, because their owners were made in
    the same transaction (the cards of a prepaid batch): opening 10,000 accounts one by one
    with :func:`ensure_account` takes some 17 s on PostgreSQL. Anywhere else use
    :func:`ensure_account`, which finds an existing account and is safe under concurrency.
    The rows are the ones :func:`ensure_account` writes (active, no overdraft, no parent,
    zero balance in every slot). ``specs`` are checked as :func:`ensure_account` checks
    them, and must be distinct; an account that already exists under one of them fails the
    insert with the database's unique-key error."""
    if not specs:
        return []
    for spec in specs:
        _check_spec(spec)
    _check_rules(floor_rule, 0, slots)
    if len({tuple(spec.key().values()) for spec in specs}) != len(specs):
        raise InvalidRequest("the accounts to open must be distinct")
    shared = _new_account_values(floor_rule, 0, slots, None)
    account_ids = [new_id("acc") for _ in specs]
    session.execute(
        sa.insert(_accounts),
        [
            {**spec.key(), **shared, "id": account_id}
            for spec, account_id in zip(specs, account_ids, strict=True)
        ],
    )
    session.execute(
        sa.insert(_balances),
        [
            {"account_id": account_id, "slot": slot, "balance": 0, "pending_debit": 0}
            for account_id in account_ids
            for slot in range(slots)
        ],
    )
    return account_ids


def _check_spec(spec: AccountSpec) -> None:
    for name in ("owner_type", "owner_id", "kind", "currency"):
        value = getattr(spec, name)
        if not value or len(value) > OWNER_FIELD_LENGTH_MAX:
            raise InvalidRequest(f"{name} must be 1 to {OWNER_FIELD_LENGTH_MAX} characters")


def _check_rules(floor_rule: FloorRule, overdraft_limit: int, slots: int) -> None:
    if not 1 <= slots <= SLOTS_MAX:
        raise InvalidRequest(f"slots must be between 1 and {SLOTS_MAX}", param="slots")
    if overdraft_limit < 0 or (overdraft_limit and floor_rule is not FloorRule.OVERDRAFT):
        raise InvalidRequest(
            "overdraft_limit is a non-negative amount, for the overdraft floor rule only",
            param="overdraft_limit",
        )


def _new_account_values(
    floor_rule: FloorRule, overdraft_limit: int, slots: int, parent_id: str | None
) -> dict[str, object]:
    """The columns of a new account besides its key and id."""
    now = clock.now()
    return {
        "floor_rule": floor_rule.value,
        "overdraft_limit": overdraft_limit,
        "status": AccountStatus.ACTIVE.value,
        "slots": slots,
        "parent_id": parent_id,
        "created_at": now,
        "updated_at": now,
    }


def get_account(session: Session, merchant_id: str | None, account_id: str) -> LedgerAccount:
    account = repo.account(session, merchant_id, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}", param="account_id")
    return account


def balance(session: Session, merchant_id: str | None, account_id: str) -> Balance:
    account = get_account(session, merchant_id, account_id)
    posted, pending = repo.totals(session, [account.id])[account.id]
    return Balance(account.id, account.currency, posted, pending)


def balances(session: Session, account_list: list[LedgerAccount]) -> dict[str, Balance]:
    found = repo.totals(session, [account.id for account in account_list])
    return {
        account.id: Balance(account.id, account.currency, *found.get(account.id, (0, 0)))
        for account in account_list
    }


def balance_as_of(session: Session, merchant_id: str | None, account_id: str, at: datetime) -> int:
    """The posted balance at moment ``at``: the sum of the account's entries up to it."""
    account = get_account(session, merchant_id, account_id)
    return repo.sum_entries(session, account.id, posted_at_max=at)


def statement(
    session: Session,
    merchant_id: str | None,
    account_id: str,
    *,
    posted_from: datetime | None = None,
    posted_before: datetime | None = None,
    after_entry_id: int | None = None,
    limit: int = 50,
) -> Statement:
    """Entries of a period with the running balance, a page at a time (cursor: entry id)."""
    account = get_account(session, merchant_id, account_id)
    rows = repo.statement_entries(
        session,
        account.id,
        posted_from=posted_from,
        posted_before=posted_before,
        after_id=after_entry_id,
        limit=page_size(limit) + 1,
    )
    page = rows[:limit]
    lines: list[StatementLine] = []
    if page:
        running = repo.sum_entries(session, account.id, id_below=page[0].id)
        for row in page:
            running += row.amount
            lines.append(
                StatementLine(
                    entry_id=row.id,
                    journal_id=row.journal_id,
                    kind=row.kind,
                    memo=row.memo,
                    amount=row.amount,
                    currency=row.currency,
                    posted_at=row.posted_at,
                    balance_after=running,
                )
            )
    return Statement(account.id, account.currency, lines, has_more=len(rows) > limit)


def set_status(
    session: Session, merchant_id: str | None, account_id: str, status: AccountStatus
) -> LedgerAccount:
    """Freeze (no debits), unfreeze, or close (only at zero, with no pending hold)."""
    account = get_account(session, merchant_id, account_id)
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(f"account {account.id} is closed")
    if status is AccountStatus.CLOSED:
        slots = repo.locked_slots(session, account.id)
        posted = sum(balance for _, balance, _ in slots)
        pending = sum(reserved for _, _, reserved in slots)
        if posted or pending:
            raise AccountNotEmpty(
                f"account {account.id} holds {posted} with {pending} pending: empty it first"
            )
    account.status = status.value
    account.updated_at = clock.now()
    session.flush()
    return account
