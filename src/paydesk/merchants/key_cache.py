"""A short-lived, per-process memory of authenticated keys, so that a request does not read
its key and merchant from the database every time.

An entry lives :data:`TTL_S` seconds. Revoking a key or changing a merchant's status forgets
every entry of this process at once (and again when that change commits); other processes
notice within :data:`TTL_S`. Only successful authentications are remembered: an unknown,
revoked or suspended key is read from the database each time.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import event
from sqlalchemy.orm import Session

from paydesk.merchants.principal import Principal

TTL_S = 5.0
ENTRIES_MAX = 10_000

_entries: dict[str, tuple[float, Principal]] = {}
_lock = threading.Lock()


def recall(key_hash: str) -> Principal | None:
    found = _entries.get(key_hash)
    if found is None:
        return None
    stored_at, principal = found
    if time.monotonic() - stored_at > TTL_S:
        return None
    return principal


def remember(key_hash: str, principal: Principal) -> None:
    with _lock:
        if len(_entries) >= ENTRIES_MAX:
            _entries.clear()
        _entries[key_hash] = (time.monotonic(), principal)


def forget_all() -> None:
    with _lock:
        _entries.clear()


def forget_on_commit(session: Session) -> None:
    """Forget now, and again once ``session`` commits (a request authenticated in between
    must not keep the old state)."""
    forget_all()
    event.listen(session, "after_commit", lambda _session: forget_all(), once=True)
