"""The ASGI application: ``/v1`` API, health, metrics and (in the embedded default) the worker."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.security import HTTPBearer

from paydesk import __version__
from paydesk.api import health
from paydesk.api.errors import install_error_handlers
from paydesk.api.middleware import RequestContextMiddleware
from paydesk.api.routing import Services
from paydesk.cashier import endpoints as cashier_endpoints
from paydesk.channels.accounts import endpoints as channel_account_endpoints
from paydesk.channels.router import endpoints as routing_endpoints
from paydesk.core.settings import Settings, load_settings
from paydesk.db.engine import Database
from paydesk.features import endpoints as feature_endpoints
from paydesk.fees import endpoints as fee_endpoints
from paydesk.fx import endpoints as fx_endpoints
from paydesk.jobs import endpoints as job_endpoints
from paydesk.ledger import endpoints as ledger_endpoints
from paydesk.merchants import endpoints as merchant_endpoints
from paydesk.midas import endpoints as midas_endpoints
from paydesk.midas import gateway as midas_gateway
from paydesk.payments import endpoints as order_endpoints
from paydesk.payments import notifications as channel_notifications
from paydesk.payments import refund_endpoints
from paydesk.sandbox.mount import Sandbox, mount_sandbox
from paydesk.wallet import endpoints as wallet_endpoints
from paydesk.wallet import prepaid_endpoints
from paydesk.webhooks import endpoints as webhook_endpoints

log = structlog.get_logger("paydesk.app")

_bearer = HTTPBearer(
    auto_error=False,
    description="A Paydesk secret key: pd_test_sk_..., pd_live_sk_... or pd_admin_sk_...",
)


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    *,
    run_worker: bool | None = None,
) -> FastAPI:
    """The application. ``run_worker`` (default: the settings' ``embedded_worker``) runs the
    job worker in a thread of this process, as the embedded default does."""
    settings = settings or load_settings()
    db = db or Database.from_settings(settings)
    embedded = settings.worker_embedded if run_worker is None else run_worker
    sandbox: Sandbox | None = None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What start-up built (modules, routes, models) lives as long as the process: keep it
        # out of the cyclic collector's full passes, which otherwise pause every request.
        gc.collect()
        gc.freeze()
        stop = threading.Event()
        thread = None
        if embedded:
            from paydesk.jobs.worker import Worker

            worker = Worker(db, settings)
            thread = threading.Thread(
                target=worker.run_forever, args=(stop,), name="paydesk-worker", daemon=True
            )
            thread.start()
            log.info("embedded_worker_started")
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=30)
            if sandbox is not None:
                sandbox.close()

    app = FastAPI(
        title="Paydesk",
        version=__version__,
        description="One API over every payment channel, with a double-entry ledger behind it.",
        lifespan=lifespan,
    )
    sandbox = mount_sandbox(app, settings)  # /sandbox: the channel simulators, when enabled
    app.state.sandbox = sandbox
    app.state.services = Services(
        settings=settings,
        db=db,
        secret=settings.secret(),
        sandbox_base_url=sandbox.base_url if sandbox is not None else None,
        admission=asyncio.Semaphore(settings.requests_concurrent_max),
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, body_bytes_max=settings.request_body_bytes_max)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_bearer)])
    v1.include_router(merchant_endpoints.router)
    v1.include_router(job_endpoints.router)
    v1.include_router(wallet_endpoints.router)
    v1.include_router(prepaid_endpoints.router)
    v1.include_router(ledger_endpoints.router)
    v1.include_router(order_endpoints.router)
    v1.include_router(refund_endpoints.router)
    v1.include_router(midas_endpoints.router)
    v1.include_router(channel_account_endpoints.router)
    v1.include_router(routing_endpoints.router)
    v1.include_router(fx_endpoints.router)
    v1.include_router(feature_endpoints.router)
    v1.include_router(fee_endpoints.router)
    v1.include_router(webhook_endpoints.router)
    app.include_router(v1)
    app.include_router(midas_gateway.router)
    app.include_router(channel_notifications.router)
    app.include_router(health.router)
    app.include_router(cashier_endpoints.router)
    return app
