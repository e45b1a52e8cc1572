"""Orders paid from the balance over HTTP, against two baselines, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/payments.py [--seconds N] [--clients N] [--rate N]
        [--only sqlite|pg] [--quick] [--postgres-url URL] [--server-workers N] [--profile DIR]

For each database (a fresh SQLite file; a fresh schema on PostgreSQL, dropped afterwards),
both migrated by Alembic: a merchant, an app, a test key and ``--users`` users each recharged
through the wallet service; then a server (``benchmarks/payments_app.py``: uvicorn serving
``create_app`` without the worker, warnings only, no access log) in a subprocess on a free
loopback port. Measured through it, by HTTP keep-alive clients in this process:

* ``pair``: ``POST /v1/orders`` then ``POST /v1/orders/{id}/pay`` with ``balance`` (users round
  robin, unique ``merchant_order_no``); the pay answer must show the order ``succeeded``;
* ``parse``: ``POST /bench/parse``, the order body validated, no database (framework cost);
* ``transfer``: ``POST /bench/transfer``, one raw-SQL ledger transfer in one transaction (the
  cost of one database transaction behind the same stack);
* ``rawpair``: ``POST /bench/raw_order`` then ``POST /bench/raw_pay/{id}``: the statements a
  pair issues, hand-written in SQLAlchemy Core with nothing of Paydesk's around them (the
  ceiling a pair could reach on this machine; ``pair`` over ``rawpair`` is Paydesk's own cost).

Closed loop: ``--clients`` threads, each sending its next request when the previous one is
answered, for ``--seconds`` after a warm-up: pairs (or requests) per second, p50/p99 latency.
Open loop: pairs started on a fixed schedule of ``--rate`` requests per second (``--rate``/2
pairs: each pair is two requests) for ``--seconds`` whatever the answers do; latency is counted
from the scheduled start (no coordinated omission). Targets (PostgreSQL, the issue's): p99
under 50 ms at 100 requests/s, and closed-loop pairs/s at least half the transfer baseline's
requests/s.

CPU seconds of this process, of the server and of the whole machine are read for each run, to
show whether the load generator (which shares the 2 cores) limits what is measured. Any failed
request is counted; the first is printed and the exit status is 1. Progress goes to stdout;
the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from bench_db import postgres_schema

import paydesk
from paydesk.db import migrate
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule
from paydesk.ledger.posting import post_journal
from paydesk.merchants import auth, service
from paydesk.merchants.models import KeyMode, MerchantKind
from paydesk.wallet import operations
from paydesk.wallet.accounts import WalletRef

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HERE = Path(__file__).resolve().parent
CURRENCY = "CNY"
ORDER_AMOUNT = 100
FUNDING = 10**12
"""Minor units recharged to each user and put on each transfer account: never too low."""
TRANSFER_ACCOUNTS = 200
TARGET_P99_MS = 50.0
TARGET_RATE = 100.0
"""The open-loop target holds at this rate (pairs/s) or above."""
TARGET_RATIO = 0.5
CLIENT_BUSY_LIMIT = 0.85
"""Cores of CPU this process may use before it is suspected of limiting a run: its threads
share one GIL, so near one core it cannot send faster."""

Op = Callable[[int], None]
"""One measured operation (a pair or one request); raises on any failure."""
OpFactory = Callable[[int], tuple[Op, Callable[[], None]]]
"""Builds, in a client thread, that thread's operation and its clean-up."""


def say(message: str) -> None:
    print(message, flush=True)


class OpFailed(Exception):
    pass


# --- set-up -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    merchant_id: str
    app_id: str
    key: str
    users: list[str]
    accounts: list[str]
    """Funded ledger accounts for the raw transfer baseline."""


def setup(db: Database, users: int) -> Fixture:
    """Through the services: a merchant, its app and test key, ``users`` users recharged from
    the merchant's funding account, and the transfer baseline's funded accounts."""
    with unit_of_work(db) as session:
        merchant = service.create_merchant(
            session, name="bench", kind=MerchantKind.MERCHANT, parent_id=None, actor="bench"
        )
        app = service.create_app(session, merchant.id, "bench app", actor="bench")
        issued = auth.issue_key(
            session, merchant_id=merchant.id, mode=KeyMode.TEST, app_id=app.id, actor="bench"
        )
    user_ids = [f"user{i}" for i in range(users)]
    for start in range(0, users, 100):
        with unit_of_work(db) as session:
            for user in user_ids[start : start + 100]:
                ref = WalletRef(merchant.id, app.id, user)
                operations.recharge(session, ref, CURRENCY, FUNDING, f"fund-{user}")
    with unit_of_work(db) as session:

        def open_account(owner: str, kind: str, floor: FloorRule) -> str:
            spec = AccountSpec(merchant.id, "bench", owner, kind, CURRENCY)
            return ensure_account(session, spec, floor_rule=floor, slots=1).id

        clearing = open_account("clearing", "clearing", FloorRule.UNBOUNDED)
        accounts = [
            open_account(f"a{i}", "cash", FloorRule.NON_NEGATIVE) for i in range(TRANSFER_ACCOUNTS)
        ]
        for start in range(0, TRANSFER_ACCOUNTS, 50):
            chunk = accounts[start : start + 50]
            legs = [Leg(clearing, -FUNDING * len(chunk), CURRENCY)]
            legs += [Leg(account, FUNDING, CURRENCY) for account in chunk]
            post_journal(
                session,
                merchant_id=merchant.id,
                idempotency_key=f"bench-fund-{start}",
                legs=legs,
                kind="funding",
            )
    return Fixture(merchant.id, app.id, issued.secret, user_ids, accounts)


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def server(database_url: str, data_dir: Path, workers: int) -> Iterator[Server]:
    """``payments_app.py`` in a subprocess on a free loopback port, until it answers
    ``/healthz``; stopped with SIGINT (then SIGKILL) afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PAYDESK_CONFIG_FILE"}
    env.update(
        PAYDESK_DATABASE_URL=database_url,
        PAYDESK_DATA_DIR=str(data_dir),
        PAYDESK_SECRET_KEY=secrets.token_urlsafe(48),
        PAYDESK_ENV="development",
        PAYDESK_LOG_LEVEL="WARNING",
        PAYDESK_LOG_FORMAT="json",
        PAYDESK_EMBEDDED_WORKER="false",
    )
    log_path = data_dir / "server.log"
    command = [
        sys.executable,
        str(HERE / "payments_app.py"),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited ({process.returncode}): {tail(log_path)}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy within 60 s: {tail(log_path)}")
            time.sleep(0.1)
        yield Server(base_url, process, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log_path.stat().st_size:
            say(f"    server log: {tail(log_path)}")


def tail(path: Path, size: int = 800) -> str:
    text = path.read_bytes()[-size:].decode(errors="replace")
    return text.strip().replace("\n", " | ")


# --- CPU accounting -------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes when ``--workers`` > 1)."""
    found = [pid]
    for current in found:
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with suppress(OSError):
                found += [int(child) for child in task.read_text().split()]
    return found


def process_cpu_s(pid: int) -> float:
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def machine_busy_s() -> float:
    """CPU seconds spent by the whole machine (all cores) outside idle and iowait."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


@dataclass(frozen=True)
class CpuMark:
    wall: float
    client: float
    server: float
    machine: float

    @classmethod
    def now(cls, server_pid: int) -> CpuMark:
        return cls(
            time.perf_counter(), time.process_time(), process_cpu_s(server_pid), machine_busy_s()
        )

    def cores_since(self, before: CpuMark) -> dict[str, float]:
        wall = self.wall - before.wall
        return {
            "client_cpu_cores": (self.client - before.client) / wall,
            "server_cpu_cores": (self.server - before.server) / wall,
            "machine_busy_cores": (self.machine - before.machine) / wall,
        }


# --- load generation ------------------------------------------------------------------------


@dataclass
class Errors:
    count: int = 0
    first: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, exc: BaseException) -> None:
        with self.lock:
            self.count += 1
            if self.first is None:
                self.first = f"{type(exc).__name__}: {str(exc)[:400]}"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Result:
    per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    done: int
    errors: int
    cpu: dict[str, float]


def summarize(
    latencies: list[float], done: int, window: float, errors: int, cpu: dict[str, float]
) -> Result:
    ordered = sorted(latencies)
    return Result(
        per_s=done / window,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        max_ms=(ordered[-1] if ordered else math.nan) * 1000,
        done=done,
        errors=errors,
        cpu=cpu,
    )


def closed_loop(
    factory: OpFactory, clients: int, seconds: float, warmup: float, pid: int, errors: Errors
) -> Result:
    """``clients`` threads, each starting its next operation when the last one ended.
    Counted: the operations that ended inside the measured window."""
    samples: list[list[tuple[float, float]]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = threading.Event()
    ready = threading.Barrier(clients + 1)

    def run(index: int) -> None:
        op, close = factory(index)
        try:
            ready.wait()
            mine = samples[index]
            for n in itertools.count():
                if stop.is_set():
                    break
                started = time.perf_counter()
                try:
                    op(n)
                except Exception as exc:
                    failures[index] += 1
                    errors.add(exc)
                    continue
                mine.append((started, time.perf_counter()))
        finally:
            close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(warmup)
    first = CpuMark.now(pid)
    time.sleep(seconds)
    last = CpuMark.now(pid)
    stop.set()
    for thread in threads:
        thread.join()
    inside = [
        end - start for mine in samples for start, end in mine if first.wall <= end < last.wall
    ]
    return summarize(
        inside, len(inside), last.wall - first.wall, sum(failures), last.cores_since(first)
    )


def open_loop(
    factory: OpFactory,
    rate: float,
    seconds: float,
    warmup: float,
    pool: int,
    pid: int,
    errors: Errors,
) -> tuple[Result, float, int]:
    """Operations started on a fixed schedule, ``rate`` per second, by a pool of ``pool``
    threads: a late answer delays nothing scheduled after it. Latency runs from the scheduled
    start, so waiting for a free thread counts (no coordinated omission).

    Returns the result (rate: operations that ended inside the measured part of the schedule,
    per second), the largest delay between schedule and actual send, and how many were
    dropped: when the server falls behind, operations not yet sent ``grace`` seconds after
    the schedule's end are not sent; their latency counts as the time they had waited (a
    lower bound) so that the run stays bounded in time."""
    jobs: queue.SimpleQueue[tuple[float, int, bool] | None] = queue.SimpleQueue()
    latencies: list[float] = []
    ends: list[float] = []
    send_delays: list[float] = []
    failures = [0]
    dropped = [0]
    lock = threading.Lock()
    ready = threading.Barrier(pool + 1)
    start = time.perf_counter() + 0.2
    measured_from = start + warmup
    schedule_end = measured_from + seconds
    give_up = schedule_end + max(5.0, seconds)

    def run(index: int) -> None:
        op, close = factory(index)
        try:
            ready.wait()
            while (job := jobs.get()) is not None:
                planned, n, measured = job
                started = time.perf_counter()
                if started > give_up:
                    with lock:
                        dropped[0] += 1
                        if measured:
                            latencies.append(started - planned)
                    continue
                try:
                    op(n)
                except Exception as exc:
                    errors.add(exc)
                    with lock:
                        failures[0] += 1
                    continue
                ended = time.perf_counter()
                with lock:
                    ends.append(ended)
                    if measured:
                        latencies.append(ended - planned)
                        send_delays.append(started - planned)
        finally:
            close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(pool)]
    for thread in threads:
        thread.start()
    ready.wait()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # the scheduler wakes on time even while clients parse
    try:
        first: CpuMark | None = None
        for n in range(int(rate * (warmup + seconds))):
            planned = start + n / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if first is None and planned >= measured_from:
                first = CpuMark.now(pid)
            jobs.put((planned, n, planned >= measured_from))
        time.sleep(max(0.0, schedule_end - time.perf_counter()))
        last = CpuMark.now(pid)
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert first is not None
    done = sum(1 for end in ends if measured_from <= end < schedule_end)
    result = summarize(latencies, done, seconds, failures[0], last.cores_since(first))
    return result, max(send_delays, default=0.0) * 1000, dropped[0]


# --- the operations -----------------------------------------------------------------------


def check(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise OpFailed(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


class Scenarios:
    """Builds each scenario's per-thread operations against one server."""

    def __init__(self, base_url: str, fx: Fixture, tag: str, idempotency: bool) -> None:
        self.base_url = base_url
        self.fx = fx
        self.tag = tag
        self.idempotency = idempotency
        self.user_turn = itertools.count()
        self.pairs_ok = 0
        self.lock = threading.Lock()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.fx.key}"},
            timeout=60,
        )

    def _headers(self, key: str) -> dict[str, str] | None:
        return {"Idempotency-Key": key} if self.idempotency else None

    def _order_body(self, order_no: str, user: str) -> dict[str, Any]:
        return {
            "merchant_order_no": order_no,
            "amount": ORDER_AMOUNT,
            "currency": CURRENCY,
            "subject": "Benchmark order",
            "user_id": user,
        }

    def pair(self, name: str) -> OpFactory:
        def factory(index: int) -> tuple[Op, Callable[[], None]]:
            client = self.client()

            def op(n: int) -> None:
                order_no = f"{self.tag}-{name}-{index}-{n}"
                user = self.fx.users[next(self.user_turn) % len(self.fx.users)]
                body = self._order_body(order_no, user)
                created = check(
                    client.post("/v1/orders", json=body, headers=self._headers(f"c-{order_no}")),
                    201,
                    "create",
                )
                if created.get("status") != "created":
                    raise OpFailed(f"create: order is {created.get('status')!r}")
                paid = check(
                    client.post(
                        f"/v1/orders/{created['id']}/pay",
                        json={"method": "balance"},
                        headers=self._headers(f"p-{order_no}"),
                    ),
                    200,
                    "pay",
                )
                order_status = paid.get("order", {}).get("status")
                attempt_status = paid.get("attempt", {}).get("status")
                if order_status != "succeeded" or attempt_status != "succeeded":
                    raise OpFailed(f"pay: order {order_status!r}, attempt {attempt_status!r}")
                with self.lock:
                    self.pairs_ok += 1

            return op, client.close

        return factory

    def parse(self) -> OpFactory:
        def factory(index: int) -> tuple[Op, Callable[[], None]]:
            client = self.client()

            def op(n: int) -> None:
                order_no = f"{self.tag}-parse-{index}-{n}"
                body = self._order_body(order_no, self.fx.users[n % len(self.fx.users)])
                answer = check(
                    client.post("/bench/parse", json=body, headers=self._headers(order_no)),
                    200,
                    "parse",
                )
                if answer.get("merchant_order_no") != order_no:
                    raise OpFailed(f"parse: unexpected answer {answer}")

            return op, client.close

        return factory

    def raw_pair(self) -> OpFactory:
        def factory(index: int) -> tuple[Op, Callable[[], None]]:
            client = self.client()
            rng = random.Random(f"{self.tag}-raw-{index}")

            def op(n: int) -> None:
                order_no = f"{self.tag}-raw-{index}-{n}"
                user = self.fx.users[next(self.user_turn) % len(self.fx.users)]
                body = {**self._order_body(order_no, user), "merchant_id": self.fx.merchant_id}
                created = check(client.post("/bench/raw_order", json=body), 201, "raw order")
                debit, credit = rng.sample(self.fx.accounts, 2)
                paid = check(
                    client.post(
                        f"/bench/raw_pay/{created['id']}", json={"debit": debit, "credit": credit}
                    ),
                    200,
                    "raw pay",
                )
                if paid.get("status") != "succeeded":
                    raise OpFailed(f"raw pay: unexpected answer {paid}")

            return op, client.close

        return factory

    def transfer(self) -> OpFactory:
        def factory(index: int) -> tuple[Op, Callable[[], None]]:
            client = self.client()
            rng = random.Random(f"{self.tag}-{index}")

            def op(n: int) -> None:
                debit, credit = rng.sample(self.fx.accounts, 2)
                body = {
                    "merchant_id": self.fx.merchant_id,
                    "debit": debit,
                    "credit": credit,
                    "amount": rng.randint(1, 1000),
                    "currency": CURRENCY,
                }
                answer = check(
                    client.post(
                        "/bench/transfer",
                        json=body,
                        headers=self._headers(f"{self.tag}-t-{index}-{n}"),
                    ),
                    200,
                    "transfer",
                )
                if not answer.get("journal_id"):
                    raise OpFailed(f"transfer: unexpected answer {answer}")

            return op, client.close

        return factory


# --- checks afterwards ------------------------------------------------------------------------

CHECKS = {
    "balances_by_currency": "SELECT a.currency, SUM(b.balance) FROM ledger_balances b"
    " JOIN ledger_accounts a ON a.id = b.account_id GROUP BY a.currency",
    "entries_by_account": "SELECT account_id, SUM(amount) FROM ledger_entries GROUP BY account_id",
    "balances_by_account": "SELECT account_id, SUM(balance) FROM ledger_balances"
    " GROUP BY account_id",
}


def database_ok(db: Database, fx: Fixture, pairs_ok: int) -> bool:
    """Every pair the clients saw succeed is one succeeded order; the ledger still balances."""
    with unit_of_work(db, read_only=True) as session:
        succeeded = session.execute(
            sa.text(
                "SELECT COUNT(*) FROM orders WHERE merchant_id = :m AND status = 'succeeded'"
                " AND merchant_order_no NOT LIKE '%-raw-%'"  # the hand-written baseline's
            ),
            {"m": fx.merchant_id},
        ).scalar_one()
        sums = {
            name: {key: int(total) for key, total in session.execute(sa.text(sql)) if total}
            for name, sql in CHECKS.items()
        }
    checks = {
        f"succeeded orders in the database = pairs answered succeeded ({pairs_ok})": succeeded
        == pairs_ok,
        "balances sum to zero per currency": not sums["balances_by_currency"],
        "entries sum to balances per account": sums["entries_by_account"]
        == sums["balances_by_account"],
    }
    for name, ok in checks.items():
        say(f"  check {name}: {'ok' if ok else 'FAILED'}")
    return all(checks.values())


# --- one backend --------------------------------------------------------------------------


def profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server (if installed) while the pairs run: only the thread holding
    the GIL, so the samples show where the server's one core of Python goes."""
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        say("    --profile: py-spy not found, no profile taken")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
        "--gil",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize_profile(path: Path, top: int = 20) -> None:
    """The Paydesk functions the GIL holder was seen in most (inclusive), and the frames seen
    on top of its stack most (self), from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        for frame in set(frames):
            if "paydesk/" in frame and "benchmarks/" not in frame:
                inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return
    say(f"    py-spy: {total} samples of the GIL holder in {path}; Paydesk, inclusive:")
    for frame, n in inclusive.most_common(top):
        say(f"      {100 * n / total:5.1f}%  {frame}")
    say("    on top of the stack (self):")
    for frame, n in own.most_common(top // 2):
        say(f"      {100 * n / total:5.1f}%  {frame}")


def report(prefix: str, name: str, unit: str, result: Result) -> dict[str, Any]:
    cpu = result.cpu
    per_request = cpu["client_cpu_cores"] / result.per_s if result.per_s else math.nan
    say(
        f"[{prefix}] {name:<9} {result.per_s:8.1f} {unit}/s  p50 {result.p50_ms:6.1f} ms"
        f"  p99 {result.p99_ms:6.1f} ms  max {result.max_ms:6.1f} ms  errors {result.errors}"
        f"  | cores: client {cpu['client_cpu_cores']:.2f} server {cpu['server_cpu_cores']:.2f}"
        f" rest {cpu['machine_busy_cores'] - cpu['client_cpu_cores'] - cpu['server_cpu_cores']:.2f}"
        f" (database and other processes; {os.cpu_count()} cores)"
    )
    out = {
        f"{prefix}_{name}_per_s": round(result.per_s, 1),
        f"{prefix}_{name}_p50_ms": round(result.p50_ms, 2),
        f"{prefix}_{name}_p99_ms": round(result.p99_ms, 2),
        f"{prefix}_{name}_max_ms": round(result.max_ms, 2),
        f"{prefix}_{name}_errors": result.errors,
        f"{prefix}_{name}_client_cpu_ms_per_op": round(per_request * 1000, 3),
        # What this process could send with one whole core (its threads share one GIL).
        f"{prefix}_{name}_generator_capacity_per_s": round(1 / per_request, 1)
        if per_request
        else None,
    }
    out.update({f"{prefix}_{name}_{k}": round(v, 2) for k, v in cpu.items()})
    rest = cpu["machine_busy_cores"] - cpu["client_cpu_cores"] - cpu["server_cpu_cores"]
    out[f"{prefix}_{name}_rest_cores"] = round(rest, 2)
    return out


def run_backend(
    prefix: str, url: str, data_dir: Path, args: argparse.Namespace, errors: Errors
) -> tuple[dict[str, Any], bool]:
    db = Database(url, pool_size=2)
    try:
        say(f"[{prefix}] migrating; a merchant, app, test key and {args.users} recharged users")
        migrate.upgrade(db)
        fx = setup(db, args.users)
        out: dict[str, Any] = {}
        tag = secrets.token_hex(3)
        # As each database is deployed: the embedded default is one process on SQLite;
        # PostgreSQL runs several (README), here one per core.
        workers = args.server_workers or (1 if prefix == "sqlite" else 2)
        out[f"{prefix}_server_workers"] = workers
        with server(url, data_dir, workers) as srv:
            pid = srv.process.pid
            runs = Scenarios(srv.base_url, fx, tag, args.idempotency_keys)
            say(
                f"[{prefix}] closed loop: {args.clients} clients, {args.seconds:g} s each"
                f" after {args.warmup:g} s warm-up"
            )
            parse = closed_loop(runs.parse(), args.clients, args.seconds, args.warmup, pid, errors)
            out.update(report(prefix, "parse", "req", parse))
            transfer = closed_loop(
                runs.transfer(), args.clients, args.seconds, args.warmup, pid, errors
            )
            out.update(report(prefix, "transfer", "req", transfer))
            raw = closed_loop(runs.raw_pair(), args.clients, args.seconds, args.warmup, pid, errors)
            out.update(report(prefix, "rawpair", "pairs", raw))
            spy = None
            if args.profile:
                spy = profiler(pid, args.warmup + args.seconds, args.profile / f"{prefix}-pair.txt")
            pairs = closed_loop(
                runs.pair("c"), args.clients, args.seconds, args.warmup, pid, errors
            )
            out.update(report(prefix, "pair", "pairs", pairs))
            if spy is not None:
                _, stderr = spy.communicate(timeout=60)
                if spy.returncode:
                    say(f"    py-spy: {stderr.decode(errors='replace').strip()[:400]}")
                else:
                    summarize_profile(args.profile / f"{prefix}-pair.txt")
            out[f"{prefix}_pairs_per_s"] = out.pop(f"{prefix}_pair_per_s")
            out[f"{prefix}_requests_per_s"] = round(2 * pairs.per_s, 1)
            ratio = pairs.per_s / transfer.per_s if transfer.per_s else 0.0
            out[f"{prefix}_ratio_pairs_to_transfer"] = round(ratio, 3)
            out[f"{prefix}_ratio_requests_to_parse"] = round(
                2 * pairs.per_s / parse.per_s if parse.per_s else 0.0, 3
            )
            say(f"[{prefix}] pairs/s over transfer requests/s: {ratio:.3f}")
            raw_ratio = raw.per_s / transfer.per_s if transfer.per_s else 0.0
            out[f"{prefix}_ratio_rawpairs_to_transfer"] = round(raw_ratio, 3)
            out[f"{prefix}_ratio_pairs_to_rawpairs"] = round(
                pairs.per_s / raw.per_s if raw.per_s else 0.0, 3
            )
            say(
                f"[{prefix}] hand-written pairs/s over transfer requests/s: {raw_ratio:.3f}"
                f" (the ceiling); pairs over hand-written pairs:"
                f" {out[f'{prefix}_ratio_pairs_to_rawpairs']:.3f}"
            )

            say(
                f"[{prefix}] open loop: {args.rate:g} requests/s ({args.rate / 2:g} pairs/s)"
                f" scheduled for {args.seconds:g} s"
                f" after {args.warmup:g} s, {args.open_pool} client threads"
            )
            opened, send_delay_ms, dropped = open_loop(
                runs.pair("o"),
                args.rate / 2,
                args.seconds,
                args.warmup,
                args.open_pool,
                pid,
                errors,
            )
            # The same schedule of raw transfers, one per request: what the machine and the
            # database give at this rate with nothing of Paydesk's in the way.
            base_open, _, base_dropped = open_loop(
                runs.transfer(),
                args.rate,
                args.seconds,
                args.warmup,
                args.open_pool,
                pid,
                errors,
            )
            say(
                f"[{prefix}] open transfers at {args.rate:g}/s: p50 {base_open.p50_ms:6.1f} ms"
                f"  p99 {base_open.p99_ms:6.1f} ms  max {base_open.max_ms:6.1f} ms"
                f"  ({base_dropped} not sent)"
            )
            out.update(
                {
                    f"{prefix}_open_transfer_p50_ms": round(base_open.p50_ms, 2),
                    f"{prefix}_open_transfer_p99_ms": round(base_open.p99_ms, 2),
                }
            )
            met = (
                opened.p99_ms < TARGET_P99_MS
                and opened.errors == 0
                and not dropped
                and args.rate >= TARGET_RATE
            )
            say(
                f"[{prefix}] open      {opened.per_s:8.1f} pairs/s  p50 {opened.p50_ms:6.1f} ms"
                f"  p99 {opened.p99_ms:6.1f} ms  max {opened.max_ms:6.1f} ms"
                f"  (largest send delay {send_delay_ms:.1f} ms, {dropped} not sent)"
                f"  p99 < {TARGET_P99_MS:g} ms at >= {TARGET_RATE:g} requests/s:"
                f" {'yes' if met else 'NO'}"
            )
            out.update(
                {
                    f"{prefix}_open_pairs_per_s": round(opened.per_s, 1),
                    f"{prefix}_open_requests_per_s": round(2 * opened.per_s, 1),
                    f"{prefix}_open_p50_ms": round(opened.p50_ms, 2),
                    f"{prefix}_open_p99_ms": round(opened.p99_ms, 2),
                    f"{prefix}_open_max_ms": round(opened.max_ms, 2),
                    f"{prefix}_open_send_delay_max_ms": round(send_delay_ms, 2),
                    f"{prefix}_open_errors": opened.errors,
                    f"{prefix}_open_not_sent": dropped,
                    f"{prefix}_open_server_cpu_cores": round(opened.cpu["server_cpu_cores"], 2),
                    f"{prefix}_open_machine_busy_cores": round(opened.cpu["machine_busy_cores"], 2),
                    f"{prefix}_target_p99_met": met,
                    f"{prefix}_target_ratio_met": ratio >= TARGET_RATIO,
                }
            )
        ok = database_ok(db, fx, runs.pairs_ok)
        out[f"{prefix}_database_checks_ok"] = ok
        busy = max(
            out[f"{prefix}_{n}_client_cpu_cores"] for n in ("parse", "transfer", "rawpair", "pair")
        )
        out[f"{prefix}_generator_limited"] = busy >= CLIENT_BUSY_LIMIT
        return out, ok
    finally:
        db.dispose()


def run_postgres(args: argparse.Namespace, errors: Errors) -> tuple[dict[str, Any], bool]:
    base = args.postgres_url
    if base.startswith("postgresql://"):
        base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
    with (
        postgres_schema(base) as url,
        tempfile.TemporaryDirectory(prefix="paydesk-bench-") as directory,
    ):
        return run_backend("pg", url, Path(directory), args, errors)


def run_sqlite(args: argparse.Namespace, errors: Errors) -> tuple[dict[str, Any], bool]:
    with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        return run_backend("sqlite", url, Path(directory), args, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop client threads")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="open-loop requests per second (2 per pair)"
    )
    parser.add_argument("--only", choices=("sqlite", "pg"), help="one database only")
    parser.add_argument("--quick", action="store_true", help="2 s per run, for a smoke test")
    parser.add_argument("--users", type=int, default=200, help="paying users, round robin")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=0,
        help="uvicorn processes (default: 1 on SQLite, 2 on PostgreSQL)",
    )
    parser.add_argument(
        "--open-pool",
        type=int,
        default=16,
        help="open-loop client threads (plenty: at 50 pairs/s about 2 are busy at a time)",
    )
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="send an Idempotency-Key on each request"
    )
    parser.add_argument(
        "--profile", type=Path, help="sample the server with py-spy during the pairs, into DIR"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL_DEFAULT)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 2.0
    args.warmup = min(1.0, args.seconds / 4)
    result: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "open_rate_requests_per_s": args.rate,
        "users": args.users,
        "open_pool": args.open_pool,
        "idempotency_keys": args.idempotency_keys,
        "cpus": os.cpu_count(),
        "paydesk_src": str(Path(paydesk.__file__).parent),
        "load_1m_before": round(os.getloadavg()[0], 2),
    }
    say(f"paydesk from {result['paydesk_src']}")
    errors = Errors()
    all_ok = True
    for name, runner in (("sqlite", run_sqlite), ("pg", run_postgres)):
        if args.only not in (None, name):
            continue
        try:
            figures, ok = runner(args, errors)
        except (sa.exc.OperationalError, psycopg.OperationalError) as exc:
            if name != "pg":
                raise
            say(f"[{name}] skipped: {str(exc).splitlines()[0]}")
            result[f"{name}_skipped"] = str(exc).splitlines()[0]
            continue
        result.update(figures)
        all_ok = all_ok and ok
    result["load_1m_after"] = round(os.getloadavg()[0], 2)
    generator_limited = any(v for k, v in result.items() if k.endswith("_generator_limited"))
    result["generator_limited"] = generator_limited
    say(
        "load generator: "
        + (
            f"used {CLIENT_BUSY_LIMIT:g}+ of a core in some run: it may limit those figures"
            if generator_limited
            else f"below {CLIENT_BUSY_LIMIT:g} of a core in every run; it shares the machine's"
            " cores with the server and the database"
        )
    )
    for key, value in sorted(result.items()):
        if key.endswith("_generator_capacity_per_s") and value:
            run = key.removesuffix("_generator_capacity_per_s")
            measured = result.get(f"{run}_per_s") or result.get(f"{run}s_per_s")
            say(f"  {run}: measured {measured}/s; one core of this client could send {value}/s")
    if result["load_1m_before"] > 0.5 or any(
        v > 0.3 for k, v in result.items() if k.startswith("sqlite_") and k.endswith("_rest_cores")
    ):
        say(
            "note: the machine was not idle (load before the run, or CPU used by other"
            " processes in the SQLite runs' 'rest'): absolute figures are pessimistic"
        )
    result["errors"] = errors.count
    result["first_error"] = errors.first
    result["database_checks_ok"] = all_ok
    if errors.first is not None:
        say(f"{errors.count} errors; first: {errors.first}")
    print(json.dumps(result, sort_keys=True), flush=True)
    sys.exit(0 if all_ok and errors.count == 0 else 1)


if __name__ == "__main__":
    main()
