"""Databases for the tests: a SQLite file and a fresh PostgreSQL schema per test run.

Both are built by the Alembic migrations, never by ``create_all``. PostgreSQL comes from
``PAYDESK_TEST_POSTGRES_URL`` (default: the local server, database ``test``, user
``postgres``). When it cannot be reached the PostgreSQL tests are skipped with one reason,
except under ``CI=true``, where the run fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from paydesk.db import migrate
from paydesk.db.engine import Database
from paydesk.db.schema import metadata
from paydesk.features.service import FLAG_CACHE

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgres"]


def _postgres_base_url() -> str:
    url = os.environ.get("PAYDESK_TEST_POSTGRES_URL", POSTGRES_URL_DEFAULT)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


_probe: dict[str, str | None] = {}


def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (probed once per run), or ``None`` when it can."""
    if "reason" not in _probe:
        base = _postgres_base_url()
        engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            _probe["reason"] = None
        except sa.exc.OperationalError as exc:
            where = sa.engine.make_url(base).render_as_string()
            _probe["reason"] = f"PostgreSQL unreachable at {where}: {str(exc.orig).splitlines()[0]}"
        finally:
            engine.dispose()
    return _probe["reason"]


def _uses_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db") == "postgres":
        return True
    return bool({"pg_db", "postgres_url"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI, skip the PostgreSQL tests when it is unreachable (one summary line)."""
    postgres_items = [item for item in items if _uses_postgres(item)]
    if not postgres_items or _in_ci():
        return
    reason = _postgres_unreachable()
    if reason is None:
        return
    config.stash[_SKIPPED_KEY] = (reason, len(postgres_items))
    for item in postgres_items:
        item.add_marker(pytest.mark.skip(reason="PostgreSQL unreachable"))


_SKIPPED_KEY = pytest.StashKey[tuple[str, int]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.config.stash.get(_SKIPPED_KEY, None)
    if skipped is not None:
        reason, count = skipped
        terminalreporter.write_line(
            f"{reason}; {count} PostgreSQL tests skipped (set PAYDESK_TEST_POSTGRES_URL)",
            yellow=True,
        )


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "paydesk.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = _postgres_base_url()
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool)
    schema = f"paydesk_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {sa.engine.make_url(base).render_as_string()}"
        if _in_ci():
            pytest.fail(f"{reason} and CI=true: {exc.orig}", pytrace=False)
        pytest.skip(f"{reason}; PostgreSQL tests skipped")
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _empty_tables(db: Database) -> None:
    tables = list(reversed(metadata.sorted_tables))
    with db.engine.begin() as connection:
        if db.is_sqlite:
            for table in tables:
                connection.execute(table.delete())
        else:
            names = ", ".join(table.name for table in tables)
            connection.exec_driver_sql(f"TRUNCATE {names} CASCADE")


def _database(request: pytest.FixtureRequest, backend: str) -> Iterator[Database]:
    url = request.getfixturevalue(f"{backend}_url")
    db = Database(url)
    _empty_tables(db)
    FLAG_CACHE.clear()  # flags are cached per process by name, which tests reuse
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated, empty database; each test runs once on SQLite and once on PostgreSQL."""
    yield from _database(request, request.param)


@pytest.fixture
def pg_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL can show."""
    yield from _database(request, "postgres")


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, "sqlite")
