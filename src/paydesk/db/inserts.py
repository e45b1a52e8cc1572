"""``INSERT ... ON CONFLICT DO NOTHING`` on both databases, the statement built once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_unless_exists(
    session: Session, table: sa.Table, values: Mapping[str, Any], unique: Sequence[str]
) -> bool:
    """Insert one row unless a row with the same ``unique`` columns exists; True if inserted.

    One statement instead of a read then a write, and race-free: on PostgreSQL a concurrent
    insert of the same values waits for the other transaction, then reports the conflict."""
    connection = session.connection()
    dialect = connection.dialect.name
    cache_key = (dialect, table.name, tuple(unique))
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        module = postgresql if dialect == "postgresql" else sqlite
        statement = _STATEMENTS[cache_key] = (
            module.insert(table)
            .on_conflict_do_nothing(index_elements=list(unique))
            .returning(table.c[unique[0]])
        )
    return connection.execute(statement, dict(values)).first() is not None
