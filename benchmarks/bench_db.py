"""What the benchmarks share: a fresh PostgreSQL schema for one run.

The benchmarks are scripts (``.venv/bin/python benchmarks/x.py``): their own folder is on
``sys.path``, so they import this module as ``bench_db``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.pool import NullPool


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh schema for the run, dropped afterwards; yields the URL that uses it."""
    admin = sa.create_engine(base_url, poolclass=NullPool)
    schema = f"paydesk_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in base_url else "?"
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
