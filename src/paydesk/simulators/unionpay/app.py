"""``create_simulator``: the FastAPI app of one simulated UnionPay online gateway.

Routes: ``/gateway/api/frontTransReq.do`` and ``/pay/{token}...`` (pages.py),
``/gateway/api/queryTrans.do``, ``backTransReq.do`` and ``fileTransfer.do`` (gateway.py),
``/simulator/*`` (control.py). Mount it anywhere; URLs it hands out follow the mount path, or
``public_base_url`` when set. The notification worker is a daemon thread started with the first
notification; ``simulator_of(app).close()`` stops it (the app's shutdown does too when it runs
its own lifespan, which a mounted sub-app does not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from paydesk.simulators.unionpay import control, gateway, pages
from paydesk.simulators.unionpay.config import SimulatorConfig
from paydesk.simulators.unionpay.simulator import UnionPaySimulator

STATE_KEY = "unionpay_simulator"


def create_simulator(config: SimulatorConfig) -> FastAPI:
    """A fresh simulator (its own transactions, faults and notification worker)."""
    sim = UnionPaySimulator(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        sim.close()

    app = FastAPI(
        title="UnionPay online gateway simulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    setattr(app.state, STATE_KEY, sim)
    app.include_router(pages.router(sim))
    app.include_router(gateway.router(sim))
    app.include_router(control.router(sim))
    return app


def simulator_of(app: FastAPI) -> UnionPaySimulator:
    """The simulator behind an app made by :func:`create_simulator` (in-process control)."""
    sim = getattr(app.state, STATE_KEY, None)
    if not isinstance(sim, UnionPaySimulator):
        raise TypeError("this app was not made by create_simulator")
    return sim
