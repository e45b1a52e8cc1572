"""Fee engine cost: fees computed per second in batch for stored transactions over 50 rule
entries, against reading the same rows without computing, and the cost of one quote.

    .venv/bin/python benchmarks/fees.py [--rows N] [--seconds N] [--postgres-url URL] [--quick]

Measured in one run:

* ``batch``, on SQLite (a fresh file) and PostgreSQL (a fresh schema, dropped afterwards):
  ``--rows`` transactions (default 1,000,000; ``--quick``: 50,000) are stored in a table this
  benchmark creates itself (SQLAlchemy Core; executemany in chunks on SQLite, COPY on
  PostgreSQL). Baseline (``read``): stream every row in chunks of 10,000 (server-side cursor)
  and only sum the amounts. ``compute``: stream the same rows the same way and price each
  from its fields with the compiled ``BatchPricer`` (``paydesk.fees.batch``: no
  ``FeeTransaction``, no explanation; SQLite's naive UTC times are read as UTC by a pricer
  made for them) under one agreement of 50 rule entries, summing the fees and counting the
  winning entries. Every 997th row is also priced by the explained ``price()`` inside the
  pass (its time counts) and must agree exactly: agreement, interface, entry and fee
  (``crosschecked_rows``, ``crosscheck_mismatches``; a mismatch fails the run). Target:
  computing adds no more than the reading costs (``compute_added_s <= read_s``, i.e.
  ``ratio_compute_to_read <= 2``). When it is missed, 20,000 rows (``--quick``: 5,000) are
  priced the compute pass's way under cProfile and the functions taking the time are printed,
  the top 8 by cumulative time.
* ``quote``: one call at a time over 10,000 random transactions (in passes until
  ``--seconds`` have gone by), in microseconds: ``quote_p50_us``/``quote_p99_us`` (and p99.9,
  max) for ``price([agreement], txn)``, the explained quote the API serves;
  ``batch_quote_p50_us``/``batch_quote_p99_us`` for ``BatchPricer.price_txn(txn)``.

The table has no column for ``verified_items`` or ``attributes``: a verification checks one
card (``verified_items=1``), and the ``mcc`` attribute comes from the business type, as an
import of stored transactions would set them.

Progress goes to stdout; the last line is one JSON object with every figure. The exit status
is 1 only when something failed (a row priced by no entry, rows lost, totals that disagree,
a cross-checked row priced differently by the batch pricer and ``price()``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from bench_db import postgres_schema

from paydesk.core.errors import InvalidRequest
from paydesk.db.engine import Database
from paydesk.fees.batch import BatchPricer
from paydesk.fees.matching import Agreement, parse_agreement, price
from paydesk.fees.transaction import VERIFICATION, FeeTransaction

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROWS_DEFAULT = 1_000_000
ROWS_QUICK = 50_000
CHUNK = 10_000
"""Rows per executemany on insert, and per fetch when streaming."""
ENTRIES = 50
QUOTE_TRANSACTIONS = 10_000
PROFILE_ROWS = 20_000
PROFILE_ROWS_QUICK = 5_000
PROFILE_TOP = 8
CROSSCHECK_EVERY = 997
"""Every this many rows of the compute pass, the row is priced by ``price()`` too."""
TARGET_RATIO_MAX = 2.0
"""Compute time over read time: 2 means computing adds as much as reading costs."""
CURRENCY = "CNY"
INTERFACE = "acq-main"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = 90 * 86_400
TABLE_NAME = "fee_bench_transactions"

metadata = sa.MetaData()
transactions = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("scenario", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(16), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("method", sa.String(32)),
    sa.Column("region", sa.String(8)),
    sa.Column("business_type", sa.String(32)),
    sa.Column("card_type", sa.String(8)),
    sa.Column("bank_relation", sa.String(16)),
    sa.Column("interface_id", sa.String(64)),
)
COLUMNS = [column.name for column in transactions.columns]

WALLETS = ("wechat_native", "wechat_jsapi", "alipay_qr", "alipay_app")
CARDS = ("unionpay_card", "card", "quickpay")
METHOD_WEIGHTS = {
    "wechat_native": 25,
    "wechat_jsapi": 15,
    "alipay_qr": 20,
    "alipay_app": 10,
    "unionpay_card": 15,
    "card": 10,
    "quickpay": 5,
}
REGION_WEIGHTS = {"CN": 70, "HK": 8, "MO": 3, "TW": 3, "SG": 4, "US": 5, "GB": 3, "JP": 4}
BUSINESS_WEIGHTS = {
    "retail": 30,
    "ecommerce": 30,
    "travel": 10,
    "gaming": 10,
    "education": 10,
    "utilities": 10,
}
MCC = {
    "retail": "5411",
    "ecommerce": "5999",
    "travel": "4722",
    "gaming": "5816",
    "education": "8299",
    "utilities": "4900",
}
ATTRIBUTES = {business: {"mcc": code} for business, code in MCC.items()}


def say(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the agreement --------------------------------------------------------------------------


def pct(rate_bps: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "percentage", "rate_bps": rate_bps, **extra}


def agreement_document() -> dict[str, Any]:
    """One agreement, one interface, 50 entries over five priority bands: promotions that never
    match this data (each of their conditions is still checked), attribute and
    amount-range entries, cross-border regions, method and card entries, scenario defaults, and
    a catch-all, so every row matches and rows are priced by entries of every band."""
    entries: list[dict[str, Any]] = []

    def add(entry_id: str, priority: int, when: dict[str, Any], fee: dict[str, Any]) -> None:
        entries.append({"id": entry_id, "priority": priority, "when": when, "fee": fee})

    # Priority 10: promotions on a campaign attribute no stored row carries.
    for n, method in enumerate((*WALLETS, *CARDS[:2])):
        add(
            f"promo-{method}",
            10,
            {"scenario": "collection", "method": method, "attributes": {"campaign": "spring"}},
            pct(10 + n, min_minor=1),
        )
    # Priority 50: cross-border, by region group, then by region group and wallet (more
    # specific), and cross-border card payments by card type.
    groups = {"gc": ["HK", "MO", "TW"], "apac": ["SG", "JP"], "west": ["US", "GB"]}
    add("xb-gc", 50, {"scenario": "collection", "region": groups["gc"]}, pct(80, min_minor=5))
    add(
        "xb-apac",
        50,
        {"scenario": "collection", "region": groups["apac"]},
        {
            "kind": "ladder",
            "tiers": [
                {"up_to": 10_000, "fee_minor": 120},
                {"up_to": 500_000, "rate_bps": 150},
                {"rate": "0.0125"},
            ],
        },
    )
    add(
        "xb-west",
        50,
        {"scenario": "collection", "region": groups["west"]},
        pct(280, fixed_minor=30, min_minor=50),
    )
    for name, regions in groups.items():
        for wallet in ("wechat_native", "alipay_qr"):
            add(
                f"xb-{name}-{wallet}",
                50,
                {"scenario": "collection", "region": regions, "method": wallet},
                pct(90 + 10 * len(regions), min_minor=5, max_minor=200_000),
            )
    for card_type in ("debit", "credit"):
        add(
            f"xb-card-{card_type}",
            50,
            {
                "scenario": "collection",
                "region": [r for rs in groups.values() for r in rs],
                "method": list(CARDS),
                "card_type": card_type,
            },
            pct(200 if card_type == "credit" else 150, min_minor=20),
        )
    # Priority 60: merchant category (attribute) entries, one with a method too.
    add("mcc-travel", 60, {"attributes": {"mcc": "4722"}}, pct(45, min_minor=1))
    add("mcc-gaming", 60, {"attributes": {"mcc": "5816"}}, pct(120, min_minor=10))
    add(
        "mcc-gaming-card",
        60,
        {"method": list(CARDS), "attributes": {"mcc": "5816"}},
        pct(150, min_minor=10),
    )
    add(
        "mcc-education",
        60,
        {"scenario": "collection", "attributes": {"mcc": "8299"}},
        pct(20, max_minor=5_000),
    )
    add(
        "utilities",
        70,
        {"scenario": "collection", "business_type": "utilities"},
        {"kind": "fixed", "amount_minor": 50},
    )
    # Priority 80 and 90: micro payments at a fixed fee, large ones on a ladder.
    add(
        "micro-wallet",
        80,
        {"scenario": "collection", "method": list(WALLETS), "amount_max": 1_000},
        {"kind": "fixed", "amount_minor": 1},
    )
    add(
        "micro-card",
        80,
        {"scenario": "collection", "method": list(CARDS), "amount_min": 1, "amount_max": 2_000},
        {"kind": "fixed", "amount_minor": 5},
    )
    add(
        "large",
        90,
        {"scenario": "collection", "amount_min": 1_000_000},
        {
            "kind": "ladder",
            "tiers": [{"up_to": 2_000_000, "rate_bps": 40}, {"rate": "0.0030"}],
            "up_to_inclusive": False,
        },
    )
    # Priority 100: by method, by card method and card type, by card type and bank relation.
    rates = {
        "wechat_native": 60,
        "wechat_jsapi": 60,
        "alipay_qr": 55,
        "alipay_app": 55,
        "unionpay_card": 50,
        "card": 70,
        "quickpay": 45,
    }
    for method, rate in rates.items():
        when = {"scenario": "collection", "method": method}
        add(f"m-{method}", 100, when, pct(rate, min_minor=1))
    for method in CARDS:
        for card_type, extra in (("debit", -10), ("credit", 20)):
            fee = pct(rates[method] + extra, min_minor=1)
            if card_type == "debit":
                fee["max_minor"] = 2_000
            add(
                f"m-{method}-{card_type}",
                100,
                {"scenario": "collection", "method": method, "card_type": card_type},
                fee,
            )
    for card_type in ("debit", "credit"):
        add(
            f"card-{card_type}-same-bank",
            100,
            {
                "scenario": "collection",
                "method": list(CARDS),
                "card_type": card_type,
                "bank_relation": "same_bank",
                "region": "CN",
            },
            pct(30 if card_type == "debit" else 55, min_minor=1),
        )
    # Payouts.
    add(
        "payout-same-bank",
        100,
        {"scenario": "payout", "bank_relation": "same_bank"},
        {"kind": "fixed", "amount_minor": 100},
    )
    add(
        "payout-cross-bank",
        100,
        {"scenario": "payout", "bank_relation": "cross_bank"},
        {
            "kind": "ladder",
            "tiers": [
                {"up_to": 100_000, "fee_minor": 200},
                {"up_to": 1_000_000, "rate_bps": 15},
                {"rate": "0.001"},
            ],
        },
    )
    add(
        "payout-cross-bank-large",
        100,
        {"scenario": "payout", "bank_relation": "cross_bank", "amount_min": 10_000_000},
        pct(8, max_minor=20_000),
    )
    add(
        "payout-xb",
        90,
        {"scenario": "payout", "region": ["HK", "MO", "TW", "SG", "JP", "US", "GB"]},
        {"kind": "fixed", "amount_minor": 800},
    )
    # Verifications: a fee per verified item.
    per_item = [{"up_to": 1, "fee_minor": 150}, {"up_to": 5, "fee_minor": 120}, {"fee_minor": 100}]
    add(
        "verify-cn-debit",
        100,
        {"scenario": "verification", "card_type": "debit", "region": "CN"},
        {"kind": "per_call", "tiers": per_item, "call_fee_minor": 0},
    )
    add(
        "verify-credit",
        100,
        {"scenario": "verification", "card_type": "credit"},
        {"kind": "per_call", "tiers": per_item, "call_fee_minor": 20},
    )
    # Priority 500: scenario defaults; 1000: the catch-all.
    add(
        "collection-default",
        500,
        {"scenario": "collection"},
        pct(60, min_minor=1, max_minor=100_000),
    )
    add("payout-default", 500, {"scenario": "payout"}, {"kind": "fixed", "amount_minor": 300})
    add(
        "verification-default",
        500,
        {"scenario": "verification"},
        {"kind": "per_call", "tiers": [{"fee_minor": 200}]},
    )
    add("default", 1000, {}, pct(60, min_minor=1))
    assert len(entries) == ENTRIES, len(entries)
    return {
        "id": "bench-2026",
        "party": "bench-channel",
        "party_type": "channel",
        "currency": CURRENCY,
        "valid_from": "2026-01-01T00:00:00+08:00",
        "settlement_terms": "T+1",
        "refund_policy": "proportional",
        "interfaces": [{"id": INTERFACE, "entries": entries}],
    }


# --- the transactions -----------------------------------------------------------------------


def generate(seed: str, count: int) -> Iterator[tuple[Any, ...]]:
    """``count`` stored rows (the table's columns, in order), the same for the same seed."""
    rng = random.Random(seed)
    methods, method_w = list(METHOD_WEIGHTS), list(METHOD_WEIGHTS.values())
    regions, region_w = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    businesses, business_w = list(BUSINESS_WEIGHTS), list(BUSINESS_WEIGHTS.values())
    log_collection, log_payout = math.log(5_000_000), math.log(50_000_000 / 10_000)
    for n in range(count):
        draw = rng.random()
        at = START + timedelta(seconds=rng.randrange(SPAN_S), microseconds=rng.randrange(10**6))
        region = rng.choices(regions, region_w)[0]
        business = rng.choices(businesses, business_w)[0]
        interface = INTERFACE if rng.random() < 0.9 else None
        if draw < 0.05:
            scenario, amount, method, bank = VERIFICATION, 0, rng.choice(CARDS), None
            card: str | None = "debit" if rng.random() < 0.6 else "credit"
        elif draw < 0.15:
            scenario, method = "payout", "bank_transfer"
            amount = int(10_000 * math.exp(rng.random() * log_payout))
            bank = "same_bank" if rng.random() < 0.3 else "cross_bank"
            card = "debit" if rng.random() < 0.5 else None
        else:
            scenario = "collection"
            method = rng.choices(methods, method_w)[0]
            amount = int(math.exp(rng.random() * log_collection))
            if method in CARDS:
                card = "debit" if rng.random() < 0.6 else "credit"
                bank = "same_bank" if rng.random() < 0.3 else "cross_bank"
            else:
                pick = rng.random()
                card = None if pick < 0.5 else "debit" if pick < 0.8 else "credit"
                bank = None
        yield (
            f"txn_{n:09d}",
            scenario,
            amount,
            CURRENCY,
            at,
            method,
            region,
            business,
            card,
            bank,
            interface,
        )


def fee_transaction(row: Any) -> FeeTransaction:
    """A stored row as the fee engine sees it. SQLite returns naive UTC datetimes."""
    tid, scenario, amount, currency, at, method, region, business, card, bank, interface = row
    return FeeTransaction(
        id=tid,
        scenario=scenario,
        amount_minor=amount,
        currency=currency,
        occurred_at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        business_type=business,
        method=method,
        card_type=card,
        bank_relation=bank,
        region=region,
        interface_id=interface,
        verified_items=1 if scenario == VERIFICATION else 0,
        attributes=ATTRIBUTES[business],
    )


# --- storing and streaming ------------------------------------------------------------------


def fill(db: Database, prefix: str, rows: int, seed: str) -> float:
    """Store ``rows`` transactions; returns the seconds it took."""
    started = time.perf_counter()
    report = max(rows // 5 // CHUNK, 1) * CHUNK
    with db.engine.begin() as connection:
        if db.is_sqlite:
            insert, source, done = transactions.insert(), generate(seed, rows), 0
            while chunk := [dict(zip(COLUMNS, row, strict=True)) for row in islice(source, CHUNK)]:
                connection.execute(insert, chunk)
                done += len(chunk)
                if done % report == 0 and done < rows:
                    say(f"[{prefix}] stored {done} rows")
        else:
            raw = connection.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            copy_sql = f"COPY {TABLE_NAME} ({', '.join(COLUMNS)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for n, row in enumerate(generate(seed, rows), 1):
                    copy.write_row(row)
                    if n % report == 0 and n < rows:
                        say(f"[{prefix}] stored {n} rows")
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM ANALYZE {TABLE_NAME}")
    return time.perf_counter() - started


def stream(db: Database) -> Iterator[list[Any]]:
    """Every stored row, in chunks of ``CHUNK`` (a server-side cursor on PostgreSQL)."""
    query = sa.select(transactions)
    with db.read_engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
        yield from result.partitions()


def read_pass(db: Database) -> tuple[int, int]:
    """The baseline: the rows and nothing more (the amounts summed so they are used)."""
    count = total = 0
    for partition in stream(db):
        count += len(partition)
        for row in partition:
            total += row[2]
    return count, total


class Priced:
    def __init__(self) -> None:
        self.count = self.amount = self.fees = self.failed = 0
        self.crosschecked = self.mismatches = 0
        self.first_failure = self.first_mismatch = ""
        self.winners: Counter[str] = Counter()

    def crosscheck(self, agreements: list[Agreement], row: Any, batch: tuple[Any, ...]) -> None:
        """Price ``row`` with the explained ``price()`` too: it must give what the batch gave."""
        self.crosschecked += 1
        try:
            priced = price(agreements, fee_transaction(row))
            full: tuple[Any, ...] = (
                priced.agreement_id,
                priced.interface_id,
                priced.entry_id,
                priced.fee.amount_minor,
            )
        except InvalidRequest as exc:
            full = (type(exc).__name__, exc.code, exc.message)
        if full != batch:
            self.mismatches += 1
            self.first_mismatch = self.first_mismatch or f"{row[0]}: batch {batch}, price {full}"


def compute_pass(db: Database, agreements: list[Agreement], prefix: str, rows: int) -> Priced:
    """The same rows, each priced from its fields by the batch pricer, the fees, amounts and
    winning entries summed; every ``CROSSCHECK_EVERY``-th row's result is compared with what
    ``price()`` gives for it. (A result is dropped at once rather than kept per chunk: the
    garbage collector would otherwise run more often, over the whole heap.)"""
    out = Priced()
    winners = out.winners
    report = max(rows // 4 // CHUNK, 1) * CHUNK
    next_report = report
    price_fields = BatchPricer(agreements, naive_utc=db.is_sqlite).price_fields
    attributes = ATTRIBUTES
    fees = amount_total = 0
    countdown = CROSSCHECK_EVERY
    for partition in stream(db):
        for row in partition:
            tid, scenario, amount, currency, at, method, region, business, card, bank, iface = row
            try:
                priced = price_fields(
                    tid, scenario, amount, currency, at, business, method, card, bank, region,
                    iface, 1 if scenario == VERIFICATION else 0, 0, attributes[business],
                )  # fmt: skip
            except InvalidRequest as exc:
                priced = (type(exc).__name__, exc.code, exc.message)
                out.failed += 1
                out.first_failure = out.first_failure or f"{row[0]}: {exc}"
            else:
                fees += priced[3]
                amount_total += amount
                winners[priced[2]] += 1
            countdown -= 1
            if not countdown:
                countdown = CROSSCHECK_EVERY
                out.crosscheck(agreements, row, priced)
        out.count += len(partition)
        if out.count >= next_report and out.count < rows:
            say(f"[{prefix}] priced {out.count} rows")
            next_report += report
    out.fees, out.amount = fees, amount_total
    return out


def bench_batch(
    db: Database, prefix: str, agreements: list[Agreement], rows: int, seed: str
) -> tuple[dict[str, Any], list[str]]:
    failures: list[str] = []
    metadata.create_all(db.engine)
    fill_s = fill(db, prefix, rows, seed)
    say(f"[{prefix}] stored {rows} rows in {fill_s:.1f} s ({rows / fill_s:.0f} rows/s)")
    warm_count, _ = read_pass(db)  # warm-up: caches, and hint bits on PostgreSQL
    started = time.perf_counter()
    read_count, read_amount = read_pass(db)
    read_s = time.perf_counter() - started
    say(f"[{prefix}] read {read_count} rows in {read_s:.2f} s ({read_count / read_s:.0f} rows/s)")
    started = time.perf_counter()
    priced = compute_pass(db, agreements, prefix, rows)
    compute_s = time.perf_counter() - started
    added_s = compute_s - read_s
    ratio = compute_s / read_s
    say(
        f"[{prefix}] priced {priced.count} rows in {compute_s:.2f} s"
        f" ({priced.count / compute_s:.0f} fees/s): computing adds {added_s:.2f} s"
        f" ({1e6 * added_s / max(priced.count, 1):.1f} us a row) to the read's {read_s:.2f} s,"
        f" ratio {ratio:.2f} (target <= {TARGET_RATIO_MAX:.1f}):"
        f" {'met' if added_s <= read_s else 'NOT met'}"
    )
    top = ", ".join(f"{entry} {n}" for entry, n in priced.winners.most_common(6))
    say(f"[{prefix}] {len(priced.winners)} entries priced rows; most: {top}")
    say(
        f"[{prefix}] cross-checked {priced.crosschecked} rows against price():"
        f" {priced.mismatches} mismatches"
    )
    seen = {"warm-up read": warm_count, "read": read_count, "priced": priced.count}
    for what, count in seen.items():
        if count != rows:
            failures.append(f"{prefix}: {what} saw {count} rows of {rows}")
    if priced.failed:
        failures.append(f"{prefix}: {priced.failed} rows failed, first {priced.first_failure}")
    elif priced.amount != read_amount:
        failures.append(f"{prefix}: amounts priced {priced.amount} != read {read_amount}")
    if priced.mismatches:
        failures.append(
            f"{prefix}: {priced.mismatches} of {priced.crosschecked} cross-checked rows priced"
            f" differently by price(), first {priced.first_mismatch}"
        )
    if not priced.crosschecked and rows >= CROSSCHECK_EVERY:
        failures.append(f"{prefix}: no row was cross-checked")
    figures = {
        f"{prefix}_rows": rows,
        f"{prefix}_fill_s": round(fill_s, 2),
        f"{prefix}_fill_rows_per_s": round(rows / fill_s),
        f"{prefix}_read_s": round(read_s, 3),
        f"{prefix}_read_rows_per_s": round(read_count / read_s),
        f"{prefix}_compute_s": round(compute_s, 3),
        f"{prefix}_fees_per_s": round(priced.count / compute_s),
        f"{prefix}_compute_added_s": round(added_s, 3),
        f"{prefix}_compute_added_us_per_row": round(1e6 * added_s / max(priced.count, 1), 2),
        f"{prefix}_ratio_compute_to_read": round(ratio, 3),
        f"{prefix}_target_met": added_s <= read_s,
        f"{prefix}_amount_total_minor": read_amount,
        f"{prefix}_fee_total_minor": priced.fees,
        f"{prefix}_failed_rows": priced.failed,
        f"{prefix}_entries_pricing_rows": len(priced.winners),
        f"{prefix}_crosschecked_rows": priced.crosschecked,
        f"{prefix}_crosscheck_mismatches": priced.mismatches,
    }
    return figures, failures


# --- quotes and the profile -----------------------------------------------------------------


def time_quotes(
    quote: Callable[[FeeTransaction], Any], txns: list[FeeTransaction], seconds: float
) -> list[float]:
    """Microseconds of each ``quote(txn)``, one call at a time, in passes over ``txns`` (in a
    fixed random order) until ``seconds`` have gone by."""
    for txn in txns[:500]:  # warm-up
        quote(txn)
    order = list(range(len(txns)))
    random.Random(2).shuffle(order)
    timings_us: list[float] = []
    clock = time.perf_counter_ns
    deadline = time.perf_counter() + seconds
    while not timings_us or time.perf_counter() < deadline:
        for index in order:
            txn = txns[index]
            started = clock()
            quote(txn)
            timings_us.append((clock() - started) / 1000)
    return timings_us


def bench_quote(agreements: list[Agreement], seconds: float) -> dict[str, Any]:
    """``price()`` (the explained quote the API serves), then the batch pricer, per call."""
    txns = [fee_transaction(row) for row in generate("quote", QUOTE_TRANSACTIONS)]
    figures: dict[str, Any] = {"quote_transactions": len(txns)}
    pricer = BatchPricer(agreements)
    quoters: list[tuple[str, Callable[[FeeTransaction], Any]]] = [
        ("quote", lambda txn: price(agreements, txn)),
        ("batch_quote", pricer.price_txn),
    ]
    for name, quote in quoters:
        timings_us = time_quotes(quote, txns, seconds)
        figures.update(
            {
                f"{name}_count": len(timings_us),
                f"{name}_mean_us": round(sum(timings_us) / len(timings_us), 2),
                f"{name}_p50_us": round(percentile(timings_us, 0.5), 2),
                f"{name}_p99_us": round(percentile(timings_us, 0.99), 2),
                f"{name}_p999_us": round(percentile(timings_us, 0.999), 2),
                f"{name}_max_us": round(max(timings_us), 1),
            }
        )
        say(
            f"[{name}] {len(timings_us)} quotes over {len(txns)} transactions:"
            f" p50 {figures[f'{name}_p50_us']} us, p99 {figures[f'{name}_p99_us']} us,"
            f" p99.9 {figures[f'{name}_p999_us']} us, max {figures[f'{name}_max_us']} us"
        )
    return figures


def short(function: tuple[str, int, str]) -> str:
    filename, line, name = function
    if filename == "~":
        return name
    parts = Path(filename).parts
    where = "/".join(parts[parts.index("paydesk") :]) if "paydesk" in parts else parts[-1]
    return f"{where}:{line}({name})"


def profile(agreements: list[Agreement], count: int) -> list[dict[str, Any]]:
    """Where a row's time goes: ``count`` rows priced from their fields by the batch pricer
    (as the compute pass does) under cProfile."""
    rows = list(generate("profile", count))

    def run() -> None:
        price_fields = BatchPricer(agreements).price_fields
        for row in rows:
            tid, scenario, amount, currency, at, method, region, business, card, bank, iface = row
            price_fields(
                tid, scenario, amount, currency, at, business, method, card, bank, region,
                iface, 1 if scenario == VERIFICATION else 0, 0, ATTRIBUTES[business],
            )  # fmt: skip

    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler)
    entries = stats.stats
    total = max(ct for (_, _, _, ct, _) in entries.values())
    ranked = sorted(entries.items(), key=lambda item: item[1][3], reverse=True)
    ranked = [item for item in ranked if item[0][2] != "run"][:PROFILE_TOP]
    say(f"[profile] {count} rows priced under cProfile in {total:.2f} s; by cumulative time:")
    top: list[dict[str, Any]] = []
    for function, (_, calls, own, cumulative, _) in ranked:
        name = short(function)
        say(
            f"[profile]   {100 * cumulative / total:5.1f}%  cum {cumulative:6.3f} s"
            f"  own {own:6.3f} s  {calls:>8} calls  {name}"
        )
        top.append(
            {
                "function": name,
                "calls": calls,
                "cumulative_s": round(cumulative, 3),
                "own_s": round(own, 3),
                "cumulative_pct": round(100 * cumulative / total, 1),
            }
        )
    return top


# --- backends -------------------------------------------------------------------------------


def run_backend(
    prefix: str, url: str, agreements: list[Agreement], rows: int
) -> tuple[dict[str, Any], list[str]]:
    db = Database(url, pool_size=2)
    try:
        return bench_batch(db, prefix, agreements, rows, seed="batch")
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help=f"stored transactions (default {ROWS_DEFAULT})")
    parser.add_argument("--seconds", type=float, default=3.0, help="least time spent quoting")
    parser.add_argument("--postgres-url", default=POSTGRES_URL_DEFAULT)
    parser.add_argument("--quick", action="store_true", help=f"{ROWS_QUICK} rows, 1 s quoting")
    parser.add_argument("--backends", default="sqlite,pg", help="comma-separated: sqlite,pg")
    args = parser.parse_args()
    rows = args.rows or (ROWS_QUICK if args.quick else ROWS_DEFAULT)
    seconds = 1.0 if args.quick else args.seconds
    backends = args.backends.split(",")
    agreements = [parse_agreement(agreement_document())]
    result: dict[str, Any] = {
        "rows": rows,
        "rule_entries": ENTRIES,
        "chunk_rows": CHUNK,
        "target_ratio_compute_to_read_max": TARGET_RATIO_MAX,
    }
    result["cpus"], result["load_1m_before"] = os.cpu_count(), round(os.getloadavg()[0], 2)
    failures: list[str] = []
    result.update(bench_quote(agreements, seconds))
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory(prefix="paydesk-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'fees.db'}"
            figures, failed = run_backend("sqlite", url, agreements, rows)
            result.update(figures)
            failures += failed
    if "pg" in backends:
        base = args.postgres_url
        if base.startswith("postgresql://"):
            base = "postgresql+psycopg://" + base.removeprefix("postgresql://")
        try:
            with postgres_schema(base) as url:
                figures, failed = run_backend("pg", url, agreements, rows)
                result.update(figures)
                failures += failed
        except (sa.exc.OperationalError, psycopg.OperationalError) as exc:
            say(f"[pg] skipped: {str(exc).splitlines()[0]}")
            result["pg_skipped"] = str(exc).splitlines()[0]
    measured = [p for p in ("sqlite", "pg") if f"{p}_target_met" in result]
    if {"sqlite_fee_total_minor", "pg_fee_total_minor"} <= result.keys():
        agree = result["sqlite_fee_total_minor"] == result["pg_fee_total_minor"]
        result["fee_totals_agree"] = agree
        if not agree:
            failures.append("the fee totals of SQLite and PostgreSQL differ")
    result["target_met"] = bool(measured) and all(result[f"{p}_target_met"] for p in measured)
    if measured and not result["target_met"]:
        say("[profile] target missed: where the time of a row goes")
        result["profile_rows"] = PROFILE_ROWS_QUICK if args.quick else PROFILE_ROWS
        result["profile_top"] = profile(agreements, result["profile_rows"])
    for failure in failures:
        say(f"FAILED: {failure}")
    result["failures"] = failures
    result["ok"] = not failures
    result["load_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, sort_keys=True), flush=True)
    sys.exit(0 if not failures else 1)


if __name__ == "__main__":
    main()
