"""A per-process memory of facts that never change once committed (an account's id for its
key, the merchant an app belongs to), so hot paths stop reading them again.

A fact seen in a transaction is remembered only when that transaction commits: one that rolls
back may have created the row it saw. Keep only facts that stay true for the row's life, of
rows that are never deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CommittedMemory(Generic[K, V]):
    def __init__(self, name: str, entries_max: int) -> None:
        self._pending_key = f"paydesk.committed_memory.{name}"
        self._entries_max = entries_max
        self._known: dict[K, V] = {}
        self._lock = threading.Lock()

    def recall(self, key: K) -> V | None:
        return self._known.get(key)

    def learn(self, session: Session, key: K, value: V) -> None:
        """Remember ``value`` for ``key`` once ``session``'s transaction commits."""
        pending: dict[K, V] | None = session.info.get(self._pending_key)
        if pending is None:
            pending = session.info[self._pending_key] = {}
            event.listen(session, "after_commit", self._publish)
            event.listen(session, "after_rollback", self._drop)
        pending[key] = value

    def forget_all(self) -> None:
        with self._lock:
            self._known.clear()

    def _publish(self, session: Session) -> None:
        pending: dict[K, V] = session.info.get(self._pending_key) or {}
        if pending:
            with self._lock:
                if len(self._known) + len(pending) > self._entries_max:
                    self._known.clear()
                self._known.update(pending)
            pending.clear()

    def _drop(self, session: Session) -> None:
        pending: dict[K, V] = session.info.get(self._pending_key) or {}
        pending.clear()
