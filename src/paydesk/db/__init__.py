"""Persistence: engines for SQLite and PostgreSQL, the unit of work, Alembic migrations."""
