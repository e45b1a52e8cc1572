"""The unit of work: one database transaction around one use case.

Services receive a session and never commit; the unit of work commits at the request or job
boundary, or rolls everything back when an error escapes. Nothing may be sent to the outside
world inside it: work for later is written to the job table (the transactional outbox).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from paydesk.db.engine import Database


@contextmanager
def unit_of_work(db: Database, *, read_only: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    engine = db.read_engine if read_only else db.engine
    session = Session(bind=engine, expire_on_commit=False, autoflush=True)
    try:
        with session.begin():
            yield session
    finally:
        session.close()
