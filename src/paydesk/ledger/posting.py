"""Posting journals: the one way a balance changes. Services never commit.

:func:`post_journal` runs the rules of :mod:`paydesk.ledger.domain` in their documented order
and applies the legs in account-id order, so concurrent journals lock rows in one global
order and cannot deadlock:

* a debit on an account with a floor is one conditional update on a one-slot account (or,
  on a multi-slot account, all its slots locked in slot order, then checked);
* a credit, or any leg on an account without a floor, adds to one slot chosen at random, so
  a hot account (clearing, revenue, a big merchant's receivable) spread over several slots
  takes concurrent postings without making them queue on one row.

The usual journal takes the short path: when every account was read before (its merchant,
currency, floor rule and slots never change) and no leg debits a multi-slot account with a
floor, the rules of steps 4 and 5 are checked from memory, and each leg is one update that
also checks the account's status (rule 6) and floor (rule 7) in the database. On
PostgreSQL the journal and its entries are then inserted by one statement. A posting is
then: journal and entries, one update per leg, commit. If an update is refused, the general
path takes over from that leg: it reads the accounts, checks rules 4 to 6 on every leg in
order (so the error named is the same), and applies the remaining legs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.ledger import repository as repo
from paydesk.ledger.domain import (
    KEY_LENGTH_MAX,
    MEMO_LENGTH_MAX,
    AccountRules,
    Leg,
    check_accounts,
    check_shape,
    check_text,
    content_hash,
)
from paydesk.ledger.errors import (
    AlreadyReversed,
    ExceedsFloor,
    JournalKeyReused,
    JournalNotFound,
)
from paydesk.ledger.models import Entry, Journal

KIND_LENGTH_MAX = 40


@dataclass(frozen=True, slots=True)
class Posted:
    journal: Journal
    entries: list[Entry] = field(default_factory=list)
    replayed: bool = False
    """True when the idempotency key had been used: nothing was posted this time."""


def post_journal(
    session: Session,
    *,
    merchant_id: str,
    idempotency_key: str,
    legs: Sequence[Leg],
    kind: str,
    memo: str = "",
    meta: Mapping[str, Any] | None = None,
    reverses_id: str | None = None,
    hold_id: str | None = None,
    reserved: Mapping[str, int] | None = None,
) -> Posted:
    """Post ``legs`` as one journal, or return the journal posted before with this key.

    ``reserved`` maps a debit account to the amount of a pending hold being posted: that
    debit takes the reserved amount off the account's pending debits instead of checking the
    floor again (the hold already did).
    """
    meta = dict(meta or {})
    check_text(idempotency_key, KEY_LENGTH_MAX, "idempotency_key", required=True)
    check_text(kind, KIND_LENGTH_MAX, "kind", required=True)
    check_text(memo, MEMO_LENGTH_MAX, "memo", required=False)
    check_shape(legs)
    request_hash = content_hash(kind, legs, memo, meta)
    now = clock.now()
    journal_id = new_id("jnl")
    values = {
        "id": journal_id,
        "merchant_id": merchant_id,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "kind": kind,
        "memo": memo,
        "reverses_id": reverses_id,
        "hold_id": hold_id,
        "meta": meta,
        "posted_at": now,
    }
    rows = [
        {
            "journal_id": journal_id,
            "account_id": leg.account_id,
            "amount": leg.amount,
            "currency": leg.currency,
            "posted_at": now,
        }
        for leg in legs
    ]
    connection = session.connection()
    known = None if reserved else repo.known_rules(leg.account_id for leg in legs)
    if known is not None and not _short_path_fits(legs, known, merchant_id):
        known = None
    entries_first = known is not None and connection.dialect.name == "postgresql"
    if entries_first:
        inserted = repo.insert_journal_with_entries(connection, values, rows)
    else:
        inserted = repo.insert_journal(connection, values)
    if not inserted:
        return _replay(session, merchant_id, idempotency_key, request_hash)

    ordered = sorted(legs, key=_account_id)
    applied = 0 if known is None else _apply_checked(connection, ordered, known)
    if applied < len(ordered):
        rules = repo.account_rules(connection, (leg.account_id for leg in legs))
        check_accounts(legs, rules, merchant_id)
        for leg in ordered[applied:]:
            _apply(connection, leg, rules[leg.account_id], (reserved or {}).get(leg.account_id))
    if not entries_first:
        repo.insert_entries(connection, rows)
    journal = Journal(
        id=journal_id,
        merchant_id=merchant_id,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        kind=kind,
        memo=memo,
        reverses_id=reverses_id,
        hold_id=hold_id,
        meta=meta,
        posted_at=now,
    )
    return Posted(journal=journal, entries=[Entry(**row) for row in rows])


def _account_id(leg: Leg) -> str:
    return leg.account_id


def _short_path_fits(
    legs: Sequence[Leg], known: Mapping[str, AccountRules], merchant_id: str
) -> bool:
    """Whether rules 4 and 5 hold on the accounts as known, and no leg debits a multi-slot
    account with a floor (that debit locks all the account's slots)."""
    for leg in legs:
        account = known[leg.account_id]
        if account.merchant_id != merchant_id or account.currency != leg.currency:
            return False
        if leg.is_debit and account.slots > 1 and account.floor is not None:
            return False
    return True


def _apply_checked(
    connection: Connection, ordered: Sequence[Leg], known: Mapping[str, AccountRules]
) -> int:
    """Apply the legs in order, each by an update that checks the account's status and
    floor as they are now; stop at the first refused. Returns the number applied."""
    for index, leg in enumerate(ordered):
        account = known[leg.account_id]
        floor = account.floor
        if leg.is_debit and floor is not None:
            done = repo.debit_within_floor(
                connection, account.id, leg.amount, floor, if_active=True
            )
        else:
            done = repo.add_to_slot(
                connection,
                account.id,
                repo.random_slot(account.slots),
                leg.amount,
                if_status=repo.DEBITABLE if leg.is_debit else repo.CREDITABLE,
            )
        if not done:
            return index
    return len(ordered)


def _apply(session: repo.Executor, leg: Leg, account: AccountRules, reserved: int | None) -> None:
    if reserved is not None:
        repo.change_pending(session, account.id, -reserved, floor=None, balance_delta=leg.amount)
        return
    floor = account.floor
    if not leg.is_debit or floor is None:
        repo.add_to_slot(session, account.id, repo.random_slot(account.slots), leg.amount)
        return
    if account.slots == 1:
        if not repo.debit_within_floor(session, account.id, leg.amount, floor):
            raise _exceeds(account)
        return
    slots = repo.locked_slots(session, account.id)
    available = sum(balance for _, balance, _ in slots) - sum(pending for _, _, pending in slots)
    if available + leg.amount < floor:
        raise _exceeds(account)
    repo.add_to_slot(session, account.id, 0, leg.amount)


def _exceeds(account: AccountRules) -> ExceedsFloor:
    return ExceedsFloor(
        f"account {account.id} does not have enough available balance", param="legs"
    )


def _replay(session: Session, merchant_id: str, key: str, request_hash: str) -> Posted:
    existing = repo.journal_by_key(session, merchant_id, key)
    if existing is None:  # pragma: no cover - the conflicting row is committed by then
        raise JournalKeyReused("a concurrent journal with this key did not finish; retry")
    if existing.request_hash != request_hash:
        raise JournalKeyReused(
            "this idempotency key was used for a journal with different content",
            param="idempotency_key",
        )
    return Posted(
        journal=existing, entries=list(repo.journal_entries(session, existing.id)), replayed=True
    )


def get_journal(session: Session, merchant_id: str, journal_id: str) -> Posted:
    journal = repo.journal(session, merchant_id, journal_id)
    if journal is None:
        raise JournalNotFound(f"no journal {journal_id}")
    return Posted(journal=journal, entries=list(repo.journal_entries(session, journal.id)))


def reverse_journal(
    session: Session,
    *,
    merchant_id: str,
    journal_id: str,
    idempotency_key: str,
    memo: str = "",
) -> Posted:
    """A new journal with every entry of ``journal_id`` negated, pointing back to it.

    Journals are never changed: this is how a posting is corrected. A journal is reversed at
    most once; a reversal is subject to the floors like any journal (a spent recharge cannot
    be reversed)."""
    existing = repo.journal_by_key(session, merchant_id, idempotency_key)
    if existing is not None and existing.reverses_id == journal_id:
        return Posted(
            journal=existing,
            entries=list(repo.journal_entries(session, existing.id)),
            replayed=True,
        )
    original = get_journal(session, merchant_id, journal_id)
    if repo.reversal_of(session, journal_id) is not None:
        raise AlreadyReversed(f"journal {journal_id} has already been reversed")
    legs = [
        Leg(account_id=entry.account_id, amount=-entry.amount, currency=entry.currency)
        for entry in original.entries
    ]
    return post_journal(
        session,
        merchant_id=merchant_id,
        idempotency_key=idempotency_key,
        legs=legs,
        kind="reversal",
        memo=memo or f"reversal of {journal_id}",
        meta={"reverses": journal_id},
        reverses_id=journal_id,
    )
