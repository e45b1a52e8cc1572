"""``/healthz`` and ``/metrics``: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from paydesk import __version__
from paydesk.api.routing import services
from paydesk.db import migrate
from paydesk.db.engine import Database

router = APIRouter(tags=["operations"])


def _check(db: Database) -> dict[str, Any]:
    report: dict[str, Any] = {"version": __version__}
    try:
        with db.read_engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        report["database"] = "ok"
    except sa.exc.SQLAlchemyError as exc:
        report["database"] = f"unreachable: {type(exc).__name__}"
        report["status"] = "unavailable"
        return report
    current, head = migrate.current_revision(db), migrate.head_revision()
    report["migrations"] = {"current": current, "head": head}
    report["status"] = "ok" if current == head else "migrations_pending"
    return report


@router.get("/healthz", summary="Database reachable and migrations current")
async def healthz(request: Request) -> JSONResponse:
    report = await run_in_threadpool(_check, services(request).db)
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
async def root() -> dict[str, str]:
    return {"name": "Paydesk", "version": __version__, "docs": "/docs", "health": "/healthz"}
