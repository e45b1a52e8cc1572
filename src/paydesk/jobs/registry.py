"""Which function runs each job kind, and which kinds run periodically.

Modules register at import time::

    @job_handler("webhooks.deliver")
    def deliver(ctx: JobContext) -> None:
        ...

    register_schedule("purge_idempotency_records", "maintenance.purge_idempotency_records",
                      interval_s=3600)

The worker imports :mod:`paydesk.jobs.builtin` and every module named in the ``job_modules``
setting, so their decorators have run before the first job is claimed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from paydesk.core.settings import Settings

if TYPE_CHECKING:
    from paydesk.db.engine import Database

KIND_LENGTH_MAX = 100
SCHEDULE_NAME_LENGTH_MAX = 100
SCHEDULE_INTERVAL_S_MAX = 31 * 24 * 3600
"""A month: anything rarer belongs in a calendar, not an interval."""


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad payload, object gone): the job goes dead at once.

    The message becomes the job's ``last_error``; keep secrets out of it.
    """


class RetryJobAt(Exception):
    """A failure to retry at ``retry_at``, a time the handler chose, instead of after the default
    back-off (the last allowed attempt still goes dead). The message becomes ``last_error``.
    """

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets: the job's fields and a session in the job's own transaction.

    Everything the handler writes through ``session`` commits together with the job being
    marked succeeded, or not at all. The handler must not commit or roll back.

    A handler registered with ``transaction=False`` runs outside any transaction: its
    ``session`` is not connected to a database, and it opens its own short units of work on
    ``db`` (see :meth:`HandlerRegistry.add_handler`).
    """

    session: Session
    job_id: str
    kind: str
    payload: Mapping[str, Any]
    attempt: int
    """1 on the first attempt; counts attempts started, this one included."""
    attempts_max: int
    merchant_id: str | None
    db: Database | None = None
    """The worker's database (always set by the worker): handlers registered with
    ``transaction=False`` open their own short units of work on it."""
    settings: Settings | None = None
    """The worker's settings (the server secret, the public URL), for handlers that call out."""


JobHandler = Callable[[JobContext], None]


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A job of ``kind`` with ``payload``, enqueued once every ``interval_s`` seconds."""

    name: str
    kind: str
    interval_s: int
    payload: Mapping[str, Any] = field(default_factory=dict)


class HandlerRegistry:
    """Handlers by kind and schedules by name. One process-wide instance: :data:`registry`."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._outside_transaction: set[str] = set()
        self._schedules: dict[str, ScheduleSpec] = {}

    def add_handler(self, kind: str, handler: JobHandler, *, transaction: bool = True) -> None:
        """Register ``handler`` for ``kind``; a second, different handler for a kind is a bug.

        ``transaction=False`` is for handlers that talk to the outside world (an HTTP call):
        the worker does not wrap them in the job's transaction, which would hold the database
        (SQLite's write lock, the job's row lock) for as long as the call takes. Such a handler
        opens its own short units of work on ``ctx.db``; they commit on their own, whatever
        becomes of the attempt, so the handler must be safe to run again.
        """
        _check_name("kind", kind, KIND_LENGTH_MAX)
        existing = self._handlers.get(kind)
        if existing is not None and _qualified_name(existing) != _qualified_name(handler):
            raise ValueError(
                f"job kind {kind!r} already has a handler: {_qualified_name(existing)}"
            )
        self._handlers[kind] = handler
        if transaction:
            self._outside_transaction.discard(kind)
        else:
            self._outside_transaction.add(kind)

    def handler(self, kind: str, *, transaction: bool = True) -> Callable[[JobHandler], JobHandler]:
        """Decorator form of :meth:`add_handler`."""

        def register(func: JobHandler) -> JobHandler:
            self.add_handler(kind, func, transaction=transaction)
            return func

        return register

    def get(self, kind: str) -> JobHandler | None:
        return self._handlers.get(kind)

    def in_transaction(self, kind: str) -> bool:
        """Whether the worker runs ``kind``'s handler inside the job's transaction."""
        return kind not in self._outside_transaction

    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def add_schedule(
        self,
        name: str,
        kind: str,
        interval_s: int,
        payload: Mapping[str, Any] | None = None,
    ) -> ScheduleSpec:
        """Enqueue a ``kind`` job every ``interval_s`` seconds (1 s to 31 days)."""
        _check_name("schedule name", name, SCHEDULE_NAME_LENGTH_MAX)
        _check_name("kind", kind, KIND_LENGTH_MAX)
        if not 1 <= interval_s <= SCHEDULE_INTERVAL_S_MAX:
            raise ValueError(f"interval_s must be 1 to {SCHEDULE_INTERVAL_S_MAX} seconds")
        spec = ScheduleSpec(name, kind, interval_s, MappingProxyType(dict(payload or {})))
        self._schedules[name] = spec
        return spec

    def schedules(self) -> list[ScheduleSpec]:
        return list(self._schedules.values())


def _check_name(what: str, value: str, length_max: int) -> None:
    if not value or len(value) > length_max or value != value.strip():
        raise ValueError(f"{what} must be 1 to {length_max} characters without outer spaces")


def _qualified_name(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


registry = HandlerRegistry()
"""The process-wide registry the decorators below write to and the worker reads by default."""


def job_handler(kind: str, *, transaction: bool = True) -> Callable[[JobHandler], JobHandler]:
    """Register the decorated function as the handler of ``kind`` in :data:`registry`
    (``transaction=False``: see :meth:`HandlerRegistry.add_handler`)."""
    return registry.handler(kind, transaction=transaction)


def register_schedule(
    name: str, kind: str, interval_s: int, payload: Mapping[str, Any] | None = None
) -> ScheduleSpec:
    """Enqueue a ``kind`` job every ``interval_s`` seconds, by whichever worker gets there first."""
    return registry.add_schedule(name, kind, interval_s, payload)
