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
"""

from __future__ import annotations

import argparse
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
from paydesk.payments.schemas import OrderCreate

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
