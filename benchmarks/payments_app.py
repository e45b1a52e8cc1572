"""The server measured by ``benchmarks/payments.py``: Paydesk's app plus two baselines.

    .venv/bin/python benchmarks/payments_app.py --port N [--workers N]

Settings come from the ``PAYDESK_*`` environment, as for ``paydesk serve``; the database must
already be migrated. Served like ``paydesk serve`` (uvicorn, standard-library logging through
Paydesk's formatter at ``PAYDESK_LOG_LEVEL``, no access log), with the job worker off. Added
beside ``/v1``, under the same middleware and server:

* ``POST /bench/parse``: the body of ``POST /v1/orders`` (``OrderCreate``) validated, the bearer
  header and ``Idempotency-Key`` read as ``/v1`` does, a small JSON answer; no database. The
  cost of the HTTP server, middleware, routing and validation.
* ``POST /bench/transfer``: one ledger transfer in raw SQL, one transaction: the debit and
  credit balance rows updated (in account order, the debit only if it stays non-negative),
  one journal and two entries inserted. The cost of one database transaction behind the same
  stack.
* ``POST /bench/raw_order`` then ``POST /bench/raw_pay/{order}``: the statements Paydesk's
  create + pay issue, written by hand in SQLAlchemy Core with no Paydesk code around them (no
  authentication, idempotency, ORM or validation beyond the body): the order inserted; then in
  one transaction the order read (locked on PostgreSQL), the transfer above, the attempt
  inserted, the order marked paid, the event inserted. What the same database work costs
  with nothing of Paydesk's in the way: the ceiling of a create + pay pair.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from paydesk.api.app import create_app
from paydesk.api.routing import _idempotency_header
from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.core.logging import configure_logging
from paydesk.core.settings import load_settings
from paydesk.db.base import JSONType, UTCDateTime
from paydesk.db.engine import Database
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.schemas import OrderCreate
from paydesk.webhooks.models import WebhookEvent

_bearer = HTTPBearer(auto_error=False)
"""Like ``/v1``'s: reads the header; the key is not looked up (that needs the database)."""


class TransferBody(BaseModel):
    merchant_id: str
    debit: str
    credit: str
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=16)


def _credentials(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    if credentials is None:
        raise HTTPException(401, "send your API key as 'Authorization: Bearer <key>'")
    return credentials.credentials


DEBIT_SQL = sa.text(
    "UPDATE ledger_balances SET balance = balance - :amount"
    " WHERE account_id = :account AND slot = 0 AND balance - pending_debit - :amount >= 0"
)
CREDIT_SQL = sa.text(
    "UPDATE ledger_balances SET balance = balance + :amount WHERE account_id = :account"
    " AND slot = 0"
)
JOURNAL_SQL = sa.text(
    "INSERT INTO ledger_journals (id, merchant_id, idempotency_key, request_hash, kind, memo,"
    " reverses_id, hold_id, meta, posted_at)"
    " VALUES (:id, :merchant_id, :key, :hash, 'bench.transfer', '', NULL, NULL, :meta, :posted)"
).bindparams(sa.bindparam("meta", type_=JSONType), sa.bindparam("posted", type_=UTCDateTime()))
ENTRIES_SQL = sa.text(
    "INSERT INTO ledger_entries (journal_id, account_id, amount, currency, posted_at)"
    " VALUES (:journal, :debit, :minus, :currency, :posted),"
    " (:journal, :credit, :plus, :currency, :posted)"
).bindparams(sa.bindparam("posted", type_=UTCDateTime()))


def transfer(db: Database, body: TransferBody) -> str:
    """One raw-SQL transfer in one transaction (``BEGIN IMMEDIATE`` on SQLite, as Paydesk's
    own write transactions); returns the journal id."""
    journal_id = new_id("jnl")
    now = clock.now()
    with db.engine.begin() as connection:
        for account in sorted((body.debit, body.credit)):  # one lock order: no deadlocks
            if account == body.debit:
                done = connection.execute(DEBIT_SQL, {"amount": body.amount, "account": account})
            else:
                done = connection.execute(CREDIT_SQL, {"amount": body.amount, "account": account})
            if done.rowcount != 1:
                raise HTTPException(409, f"balance row of {account} not updated")
        connection.execute(
            JOURNAL_SQL,
            {
                "id": journal_id,
                "merchant_id": body.merchant_id,
                "key": f"bench:{journal_id}",
                "hash": "0" * 64,
                "meta": {},
                "posted": now,
            },
        )
        connection.execute(
            ENTRIES_SQL,
            {
                "journal": journal_id,
                "debit": body.debit,
                "credit": body.credit,
                "minus": -body.amount,
                "plus": body.amount,
                "currency": body.currency,
                "posted": now,
            },
        )
    return journal_id


class RawOrderBody(OrderCreate):
    merchant_id: str


class RawPayBody(BaseModel):
    debit: str
    credit: str


_orders: sa.Table = Order.__table__  # type: ignore[assignment]
_attempts: sa.Table = PaymentAttempt.__table__  # type: ignore[assignment]
_events: sa.Table = WebhookEvent.__table__  # type: ignore[assignment]


def raw_order(db: Database, body: RawOrderBody) -> str:
    order_id = new_id("ord")
    now = clock.now()
    with db.engine.begin() as connection:
        connection.execute(
            _orders.insert(),
            {
                "id": order_id,
                "merchant_id": body.merchant_id,
                "app_id": None,
                "livemode": False,
                "merchant_order_no": body.merchant_order_no,
                "purpose": "purchase",
                "amount_minor": body.amount,
                "currency": body.currency,
                "amount_paid_minor": 0,
                "amount_refunded_minor": 0,
                "subject": body.subject,
                "user_id": body.user_id,
                "notify_url": None,
                "status": "created",
                "meta": {},
                "expires_at": now + timedelta(seconds=body.expires_in_s),
                "paid_attempt_id": None,
                "paid_at": None,
                "closed_at": None,
                "created_at": now,
                "updated_at": now,
            },
        )
    return order_id


def raw_pay(db: Database, order_id: str, body: RawPayBody) -> str:
    now = clock.now()
    attempt_id, journal_id = new_id("pat"), new_id("jnl")
    with db.engine.begin() as connection:
        query = sa.select(
            _orders.c.merchant_id, _orders.c.amount_minor, _orders.c.currency, _orders.c.status
        ).where(_orders.c.id == order_id)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        merchant_id, amount, currency, status = connection.execute(query).one()
        if status != "created":
            raise HTTPException(409, f"order is {status}")
        for account in sorted((body.debit, body.credit)):
            sql = DEBIT_SQL if account == body.debit else CREDIT_SQL
            if connection.execute(sql, {"amount": amount, "account": account}).rowcount != 1:
                raise HTTPException(409, f"balance row of {account} not updated")
        connection.execute(
            JOURNAL_SQL,
            {
                "id": journal_id,
                "merchant_id": merchant_id,
                "key": f"payment:{attempt_id}",
                "hash": "0" * 64,
                "meta": {},
                "posted": now,
            },
        )
        connection.execute(
            ENTRIES_SQL,
            {
                "journal": journal_id,
                "debit": body.debit,
                "credit": body.credit,
                "minus": -amount,
                "plus": amount,
                "currency": currency,
                "posted": now,
            },
        )
        connection.execute(
            _attempts.insert(),
            {
                "id": attempt_id,
                "merchant_id": merchant_id,
                "order_id": order_id,
                "method": "balance",
                "channel": "wallet",
                "channel_account_id": None,
                "out_trade_no": attempt_id,
                "status": "succeeded",
                "amount_minor": amount,
                "currency": currency,
                "journal_id": journal_id,
                "channel_trade_no": None,
                "failure_code": None,
                "failure_message": None,
                "action": None,
                "meta": {"payer": "bench"},
                "created_at": now,
                "updated_at": now,
                "succeeded_at": now,
            },
        )
        connection.execute(
            _orders.update()
            .where(_orders.c.id == order_id)
            .values(
                status="succeeded",
                amount_paid_minor=amount,
                paid_attempt_id=attempt_id,
                paid_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            _events.insert(),
            {
                "id": new_id("evt"),
                "merchant_id": merchant_id,
                "livemode": False,
                "type": "order.succeeded",
                "data": {"object": "order", "id": order_id, "status": "succeeded"},
                "created_at": now,
            },
        )
    return attempt_id


def bench_router(db: Database) -> APIRouter:
    router = APIRouter(
        prefix="/bench", dependencies=[Depends(_credentials), Depends(_idempotency_header)]
    )

    # Plain ``def`` endpoints, like Paydesk's: FastAPI runs them in its thread pool.
    @router.post("/parse")
    def parse(body: OrderCreate) -> dict[str, Any]:
        return {"ok": True, "merchant_order_no": body.merchant_order_no, "amount": body.amount}

    @router.post("/transfer")
    def transfer_endpoint(body: TransferBody) -> dict[str, Any]:
        return {"ok": True, "journal_id": transfer(db, body)}

    @router.post("/raw_order", status_code=201)
    def raw_order_endpoint(body: RawOrderBody) -> dict[str, Any]:
        return {"id": raw_order(db, body), "status": "created"}

    @router.post("/raw_pay/{order_id}")
    def raw_pay_endpoint(order_id: str, body: RawPayBody) -> dict[str, Any]:
        return {"attempt_id": raw_pay(db, order_id, body), "status": "succeeded"}

    return router


def create_bench_app() -> FastAPI:
    """``create_app`` as ``paydesk serve`` builds it (no embedded worker), plus ``/bench``."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    app = create_app(settings, db, run_worker=False)
    app.include_router(bench_router(db))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    uvicorn.run(
        "payments_app:create_bench_app",
        factory=True,
        app_dir=str(Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
