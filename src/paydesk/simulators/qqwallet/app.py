"""The simulator as an ASGI application: :func:`create_simulator`.

Run it on its own (``uvicorn``) or mount it in Paydesk (e.g. under ``/sandbox/qqwallet``);
clients then use that URL as the gateway, and the ``code_url`` the simulator hands out carries
the mount prefix. A mounted application gets no lifespan events: background work starts on
first use on daemon threads; call ``app.state.simulator.close()`` to stop it early.

All state (orders, refunds, faults, the delivery log) is held in memory by this process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from paydesk.simulators.qqwallet import routes_api, routes_control
from paydesk.simulators.qqwallet.config import SimulatorConfig
from paydesk.simulators.qqwallet.edge import qpay_error_handler
from paydesk.simulators.qqwallet.errors import QPayError
from paydesk.simulators.qqwallet.routes_control import ControlError, control_error_handler
from paydesk.simulators.qqwallet.service import Simulator


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "INVALID_REQUEST")
    return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)


def create_simulator(config: SimulatorConfig) -> FastAPI:
    """A QQ Wallet merchant API simulator for the merchants in ``config``."""
    simulator = Simulator(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        simulator.close()

    app = FastAPI(
        title="QQ Wallet merchant API simulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    app.add_exception_handler(QPayError, qpay_error_handler)
    app.add_exception_handler(ControlError, control_error_handler)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(routes_api.router)
    app.include_router(routes_control.router)
    return app
