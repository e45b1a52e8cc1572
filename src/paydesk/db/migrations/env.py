"""Alembic environment: runs against the connection handed over by paydesk.db.migrate,
or against ``PAYDESK_DATABASE_URL`` when alembic is run from the command line."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext

from paydesk.db.base import UTCDateTime
from paydesk.db.schema import metadata

config = context.config


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy ones, so migrations never import paydesk."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from paydesk.core.settings import load_settings
    from paydesk.db.engine import Database

    database = Database(load_settings().database_url)
    with database.engine.connect() as conn:
        _run(conn)
        conn.commit()
