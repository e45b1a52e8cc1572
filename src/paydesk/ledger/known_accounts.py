"""Account ids by key, remembered by the process once the transaction that saw them commits.

An account's key (merchant, app, owner, kind, currency, zone) and id never change and an
account is never deleted, so once an account is known committed its id can be used without
reading it again. An id seen in a transaction that rolls back is forgotten (that transaction
may have created the account). Only ids are kept: status, floors and balances are always read
where they matter (the ledger checks them in the statements that move money).
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

ENTRIES_MAX = 200_000
_PENDING = "paydesk.known_accounts"

_ids: dict[tuple[str, ...], str] = {}
_lock = threading.Lock()


def recall(key: tuple[str, ...]) -> str | None:
    return _ids.get(key)


def learn(session: Session, key: tuple[str, ...], account_id: str) -> None:
    """Remember ``account_id`` for ``key`` once ``session``'s transaction commits."""
    pending: dict[tuple[str, ...], str] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {}
        event.listen(session, "after_commit", _publish)
        event.listen(session, "after_rollback", _drop)
    pending[key] = account_id


def _publish(session: Session) -> None:
    pending: dict[tuple[str, ...], str] = session.info.get(_PENDING) or {}
    if pending:
        with _lock:
            if len(_ids) + len(pending) > ENTRIES_MAX:
                _ids.clear()
            _ids.update(pending)
        pending.clear()


def _drop(session: Session) -> None:
    pending: dict[tuple[str, ...], str] = session.info.get(_PENDING) or {}
    pending.clear()


def forget_all() -> None:
    """For tests that rebuild a database in the same process."""
    with _lock:
        _ids.clear()
