"""Ledger posting throughput: the service path against raw driver calls, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/ledger.py [--seconds N] [--postgres-url URL] [--quick]

Scenarios, each at 1, 4 and 16 worker threads for a fixed time after a short warm-up:

* ``service``: 2-leg transfers between random pairs of 1000 user wallets (floor non-negative,
  one slot) through ``post_journal`` in ``unit_of_work``;
* ``hot``: payments that debit a random user wallet and all credit ONE merchant receivable
  spread over ``HOT_SLOTS`` balance rows; ``hot1slot`` is the same with one row;
* ``baseline``: the same SQL work as ``service`` with the bare driver (psycopg 3 / sqlite3):
  lock both balance rows, conditional debit, credit, insert the journal and two entries.

Progress goes to stdout; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from bench_db import postgres_schema
from psycopg.types.json import Jsonb

from paydesk.db import migrate
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule
from paydesk.ledger.posting import post_journal
from paydesk.merchants.models import MerchantKind
from paydesk.merchants.service import create_merchant

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORKERS = (1, 4, 16)
USERS = 1000
FUNDING = 10**9
"""Minor units on each wallet at the start: no transfer is ever refused for want of funds."""
AMOUNT_MAX = 1000
CURRENCY = "USD"
HOT_SLOTS = 16
"""One balance row per worker at the highest concurrency measured, so random slots rarely
collide; a payout locks every slot, so more would only make payouts dearer."""

Op = Callable[[int], None]
"""One journal; the argument is the worker's sequence number (for idempotency keys)."""
Factory = Callable[[int], tuple[Op, Callable[[], None]]]
"""Builds, in a worker thread, that worker's operation and its clean-up."""


def say(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Fixture:
    merchant_id: str
    users: list[str]
    hot: str
    hot1: str


def setup(db: Database) -> Fixture:
    """A merchant, its user wallets funded from a clearing account, and the hot receivables."""
    with unit_of_work(db) as session:
        merchant_id = create_merchant(
            session, name="bench", kind=MerchantKind.MERCHANT, parent_id=None, actor="bench"
        ).id

        def open_account(owner: str, kind: str, floor: FloorRule, slots: int) -> str:
            spec = AccountSpec(merchant_id, owner.split(":")[0], owner, kind, CURRENCY)
            return ensure_account(session, spec, floor_rule=floor, slots=slots).id

        clearing = open_account("channel:bench", "clearing", FloorRule.UNBOUNDED, 1)
        users = [open_account(f"user:{i}", "cash", FloorRule.NON_NEGATIVE, 1) for i in range(USERS)]
        hot = open_account("merchant:hot", "receivable", FloorRule.NON_NEGATIVE, HOT_SLOTS)
        hot1 = open_account("merchant:hot1", "receivable", FloorRule.NON_NEGATIVE, 1)
        for start in range(0, USERS, 50):
            chunk = users[start : start + 50]
            legs = [Leg(clearing, -FUNDING * len(chunk), CURRENCY)]
            legs += [Leg(user, FUNDING, CURRENCY) for user in chunk]
            post_journal(
                session,
                merchant_id=merchant_id,
                idempotency_key=f"fund-{start}",
                legs=legs,
                kind="funding",
            )
    return Fixture(merchant_id, users, hot, hot1)


def service(db: Database, fx: Fixture, tag: str, hot: str | None) -> Factory:
    def factory(index: int) -> tuple[Op, Callable[[], None]]:
        rng = random.Random(f"{tag}-{index}")

        def op(n: int) -> None:
            debit, credit = rng.sample(fx.users, 2)
            amount = rng.randint(1, AMOUNT_MAX)
            legs = [Leg(debit, -amount, CURRENCY), Leg(hot or credit, amount, CURRENCY)]
            with unit_of_work(db) as session:
                post_journal(
                    session,
                    merchant_id=fx.merchant_id,
                    idempotency_key=f"{tag}-{index}-{n}",
                    legs=legs,
                    kind="payment" if hot else "transfer",
                )

        return op, lambda: None

    return factory


LOCK_SQL = (
    "SELECT account_id, balance FROM ledger_balances WHERE account_id IN (%s, %s) AND slot = 0"
    " ORDER BY account_id FOR UPDATE"
)
DEBIT_SQL = (
    "UPDATE ledger_balances SET balance = balance - %s"
    " WHERE account_id = %s AND slot = 0 AND balance - pending_debit - %s >= 0"
)
CREDIT_SQL = "UPDATE ledger_balances SET balance = balance + %s WHERE account_id = %s AND slot = 0"
JOURNAL_SQL = (
    "INSERT INTO ledger_journals (id, merchant_id, idempotency_key, request_hash, kind, memo,"
    " reverses_id, hold_id, meta, posted_at) VALUES (%s, %s, %s, %s, %s, '', NULL, NULL, %s, %s)"
)
ENTRIES_SQL = (
    "INSERT INTO ledger_entries (journal_id, account_id, amount, currency, posted_at)"
    " VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s)"
)


def finish(connection: Any, command: str) -> None:
    """COMMIT or ROLLBACK: by statement on sqlite3 (autocommit mode), by method on psycopg."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute(command)
    else:
        getattr(connection, command.lower())()


def baseline(connect: Callable[[], Any], fx: Fixture, tag: str, *, sqlite: bool) -> Factory:
    """The service's SQL by hand, one driver connection per worker, same tables."""
    sql = [LOCK_SQL, DEBIT_SQL, CREDIT_SQL, JOURNAL_SQL, ENTRIES_SQL]
    if sqlite:  # BEGIN IMMEDIATE takes the write lock; sqlite has no FOR UPDATE
        sql = [s.replace(" FOR UPDATE", "").replace("%s", "?") for s in sql]
    lock_sql, debit_sql, credit_sql, journal_sql, entries_sql = sql

    def factory(index: int) -> tuple[Op, Callable[[], None]]:
        rng = random.Random(f"{tag}-{index}")
        connection = connect()

        def op(n: int) -> None:
            debit, credit = rng.sample(fx.users, 2)
            amount = rng.randint(1, AMOUNT_MAX)
            key = f"{tag}-{index}-{n}"
            journal_id = "jnl_" + secrets.token_hex(13)
            now = datetime.now(UTC)
            posted: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
            meta: Any = "{}" if sqlite else Jsonb({})
            try:
                if sqlite:
                    connection.execute("BEGIN IMMEDIATE")
                connection.execute(lock_sql, sorted((debit, credit))).fetchall()
                if connection.execute(debit_sql, (amount, debit, amount)).rowcount != 1:
                    raise RuntimeError("floor")
                connection.execute(credit_sql, (amount, credit))
                request_hash = hashlib.sha256(key.encode()).hexdigest()
                connection.execute(
                    journal_sql,
                    (journal_id, fx.merchant_id, key, request_hash, "transfer", meta, posted),
                )
                legs = [(journal_id, debit, -amount), (journal_id, credit, amount)]
                connection.execute(
                    entries_sql, [v for leg in legs for v in (*leg, CURRENCY, posted)]
                )
                finish(connection, "COMMIT")
            except BaseException:
                finish(connection, "ROLLBACK")
                raise

        return op, connection.close

    return factory


def measure(workers: int, factory: Factory, seconds: float, warmup: float) -> tuple[float, int]:
    """Journals per second over ``seconds`` after ``warmup``, and the number of errors."""
    counts = [0] * workers
    errors = [0] * workers
    stop = threading.Event()
    ready = threading.Barrier(workers + 1)
    first_error: list[str] = []

    def run(index: int) -> None:
        op, close = factory(index)
        try:
            ready.wait()
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    op(n)
                    counts[index] += 1
                except Exception as exc:
                    errors[index] += 1
                    if not first_error:
                        first_error.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        finally:
            close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(warmup)
    done, started = sum(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = sum(counts) - done, time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    if first_error:
        say(f"    {sum(errors)} errors, first: {first_error[0]}")
    return done / elapsed, sum(errors)


SUMS = {
    "balances_by_currency": "SELECT a.currency, SUM(b.balance) FROM ledger_balances b"
    " JOIN ledger_accounts a ON a.id = b.account_id GROUP BY a.currency",
    "entries_by_currency": "SELECT currency, SUM(amount) FROM ledger_entries GROUP BY currency",
    "balances_by_account": "SELECT account_id, SUM(balance) FROM ledger_balances"
    " GROUP BY account_id",
    "entries_by_account": "SELECT account_id, SUM(amount) FROM ledger_entries GROUP BY account_id",
    "available_below_floor": "SELECT b.account_id, SUM(b.balance - b.pending_debit)"
    " FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id"
    " WHERE a.floor_rule = 'non_negative' GROUP BY b.account_id"
    " HAVING SUM(b.balance - b.pending_debit) < 0",
}


def invariants_ok(db: Database) -> bool:
    """Balances sum to zero per currency; entries sum to balances, per currency and account;
    no account with a non-negative floor is below zero."""
    with unit_of_work(db, read_only=True) as session:
        sums = {
            name: {key: int(total) for key, total in session.execute(sa.text(sql)) if total}
            for name, sql in SUMS.items()
        }
    checks = {
        "balances sum to zero per currency": not sums["balances_by_currency"],
        "entries sum to balances per currency": sums["entries_by_currency"]
        == sums["balances_by_currency"],
        "entries sum to balances per account": sums["entries_by_account"]
        == sums["balances_by_account"],
        "no non-negative account below zero": not sums["available_below_floor"],
    }
    for name, ok in checks.items():
        say(f"  invariant {name}: {'ok' if ok else 'VIOLATED'}")
    return all(checks.values())


def run_backend(
    prefix: str, db: Database, connect: Callable[[], Any], args: argparse.Namespace
) -> tuple[dict[str, Any], bool]:
    say(f"[{prefix}] migrating and funding {USERS} wallets")
    migrate.upgrade(db)
    fx = setup(db)
    out: dict[str, Any] = {}
    errors = 0
    run_tag = secrets.token_hex(3)
    for workers in args.workers:
        scenarios: dict[str, Factory] = {
            "service": service(db, fx, f"s{workers}{run_tag}", None),
            "hot": service(db, fx, f"h{workers}{run_tag}", fx.hot),
            "hot1slot": service(db, fx, f"o{workers}{run_tag}", fx.hot1),
            "baseline": baseline(connect, fx, f"b{workers}{run_tag}", sqlite=prefix == "sqlite"),
        }
        for name, factory in scenarios.items():
            rate, failed = measure(workers, factory, args.seconds, args.warmup)
            errors += failed
            out[f"{prefix}_{name}_journals_per_s_{workers}w"] = round(rate, 1)
            say(f"[{prefix}] {name:<9} {workers:>2} workers: {rate:8.1f} journals/s")
        service_rate = out[f"{prefix}_service_journals_per_s_{workers}w"]
        out[f"{prefix}_ratio_service_to_baseline_{workers}w"] = round(
            service_rate / max(out[f"{prefix}_baseline_journals_per_s_{workers}w"], 1e-9), 3
        )
        out[f"{prefix}_ratio_hot_to_spread_{workers}w"] = round(
            out[f"{prefix}_hot_journals_per_s_{workers}w"] / max(service_rate, 1e-9), 3
        )
    out[f"{prefix}_errors"] = errors
    ok = invariants_ok(db)
    out[f"{prefix}_invariants_ok"] = ok
    return out, ok


def run_postgres(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    base = args.postgres_url
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
    with postgres_schema(base) as url:
        db = Database(url, pool_size=max(args.workers) + 2)
        conninfo = sa.make_url(url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        try:
            return run_backend("pg", db, lambda: psycopg.connect(dsn), args)
        finally:
            db.dispose()


def run_sqlite(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as directory:
        path = Path(directory) / "bench.db"
        db = Database(f"sqlite:///{path}")

        def connect() -> sqlite3.Connection:
            # The engine's settings: WAL, synchronous=NORMAL, foreign keys, busy timeout.
            connection = sqlite3.connect(path, timeout=60, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                connection.execute(f"PRAGMA {pragma}")
            connection.execute("PRAGMA busy_timeout=60000")
            return connection

        try:
            return run_backend("sqlite", db, connect, args)
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    parser.add_argument("--postgres-url", default=POSTGRES_URL_DEFAULT)
    parser.add_argument("--quick", action="store_true", help="1.5 s per run, short warm-up")
    parser.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite,pg")
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)))
    args = parser.parse_args()
    if args.quick:
        args.seconds = 1.5
    args.warmup = min(1.0, args.seconds / 4)
    args.workers = [int(w) for w in args.workers.split(",")]
    backends = args.backends.split(",")
    result: dict[str, Any] = {"seconds": args.seconds, "users": USERS, "hot_slots": HOT_SLOTS}
    result["cpus"], result["load_1m_before"] = os.cpu_count(), round(os.getloadavg()[0], 2)
    all_ok = True
    for name, runner in (("sqlite", run_sqlite), ("pg", run_postgres)):
        if name not in backends:
            continue
        try:
            figures, ok = runner(args)
        except (sa.exc.OperationalError, psycopg.OperationalError) as exc:
            say(f"[{name}] skipped: {str(exc).splitlines()[0]}")
            result[f"{name}_skipped"] = str(exc).splitlines()[0]
            continue
        result.update(figures)
        all_ok = all_ok and ok
    result["invariants_ok"] = all_ok
    result["load_1m_after"] = round(os.getloadavg()[0], 2)  # other work on the machine skews
    if "pg_ratio_service_to_baseline_4w" in result:
        result["target_pg_service_ge_half_baseline_4w"] = (
            result["pg_ratio_service_to_baseline_4w"] >= 0.5
        )
        result["target_pg_hot_ge_half_spread_4w"] = result["pg_ratio_hot_to_spread_4w"] >= 0.5
    print(json.dumps(result, sort_keys=True), flush=True)
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
