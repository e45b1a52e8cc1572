"""Helpers for the Alipay simulator tests: the unmodified SDK client, a notification
receiver on loopback, and a clock the tests can move."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
from alipay import AliPay
from alipay.utils import AliPayConfig
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from paydesk.simulators.alipay import (
    AlipaySimulator,
    SandboxCredentials,
    SimulatorConfig,
    create_simulator,
    generate_test_credentials,
    simulator_of,
)
from paydesk.simulators.alipay.config import beijing_now
from tests.support.server import serving

WAIT_S = 5.0


def sdk(
    creds: SandboxCredentials,
    gateway: str,
    *,
    private_key_pem: str | None = None,
    timeout_s: float = 15,
) -> AliPay:
    """The unmodified client, pointed at the simulator as CHANNELS.md says."""
    client = AliPay(
        appid=creds.app_id,
        app_notify_url=None,
        app_private_key_string=private_key_pem or creds.app_private_key_pem,
        alipay_public_key_string=creds.platform_public_key_pem,
        sign_type="RSA2",
        config=AliPayConfig(timeout=timeout_s),
    )
    client._gateway = gateway
    return client


def sdk_verifies(client: AliPay, form: dict[str, str]) -> bool:
    """``client.verify(params, sign)`` on a copy of a notification or return form."""
    params = dict(form)
    signature = params.pop("sign")
    return bool(client.verify(params, signature))


class MovableClock:
    """Beijing time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return beijing_now() + self.offset


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class Receiver:
    """A merchant's notification endpoint: ``/notify/{name}`` records each form and answers
    the next of ``replies[name]`` (``success`` once they run out)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.received: list[tuple[str, dict[str, str]]] = []
        self.replies: dict[str, list[str]] = {}
        self.delays_s: dict[str, float] = {}
        self.app = FastAPI()
        self.app.add_api_route("/notify/{name}", self._notify, methods=["POST"])

    async def _notify(self, name: str, request: Request) -> PlainTextResponse:
        body = (await request.body()).decode("utf-8")
        form = dict(parse_qsl(body, keep_blank_values=True))
        await asyncio.sleep(self.delays_s.get(name, 0.0))
        with self._cond:
            self.received.append((name, form))
            queue = self.replies.get(name, [])
            reply = queue.pop(0) if queue else "success"
            self._cond.notify_all()
        return PlainTextResponse(reply)

    def forms(self, name: str) -> list[dict[str, str]]:
        with self._cond:
            return [form for got, form in self.received if got == name]

    def wait_for(
        self, name: str, count: int = 1, timeout_s: float = WAIT_S
    ) -> list[dict[str, str]]:
        """The first ``count`` forms posted to ``name``; fails after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                forms = [form for got, form in self.received if got == name]
                if len(forms) >= count:
                    return forms
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(forms)} of {count} notifications for {name}")
                self._cond.wait(remaining)


RETRY_SCHEDULE_S = (0.1, 0.2)


@dataclass
class Env:
    """A running simulator knowing two apps, and a merchant receiving notifications."""

    creds: SandboxCredentials
    creds_b: SandboxCredentials
    clock: MovableClock
    merchant: Receiver
    merchant_base: str
    app: FastAPI
    base: str

    @property
    def gateway(self) -> str:
        return f"{self.base}/gateway.do"

    @property
    def sim(self) -> AlipaySimulator:
        return simulator_of(self.app)

    def client(self, creds: SandboxCredentials | None = None, **options: Any) -> AliPay:
        return sdk(creds or self.creds, self.gateway, **options)

    def precreate(
        self, client: AliPay, amount: str = "10.00", **extra: str
    ) -> tuple[str, dict[str, str]]:
        """A precreated trade whose notifications go to ``/notify/<out_trade_no>``."""
        out_trade_no = new_no()
        response = client.api_alipay_trade_precreate(
            subject="沙箱商品",
            out_trade_no=out_trade_no,
            total_amount=amount,
            notify_url=f"{self.merchant_base}/notify/{out_trade_no}",
            **extra,
        )
        assert response["code"] == "10000", response
        return out_trade_no, response

    def pay(self, out_trade_no: str) -> httpx.Response:
        return pay(self.base, out_trade_no)

    def reset(self) -> None:
        self.sim.clear_faults()
        self.clock.offset = timedelta()


def new_no(prefix: str = "T") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def pay(base: str, out_trade_no: str) -> httpx.Response:
    """The buyer pays, through the control API."""
    return httpx.post(f"{base}/simulator/pay", json={"out_trade_no": out_trade_no})


@contextmanager
def running_env() -> Iterator[Env]:
    creds = generate_test_credentials(app_id="2021000000000001")
    creds_b = generate_test_credentials(
        app_id="2021000000000002", platform_private_key_pem=creds.platform_private_key_pem
    )
    clock = MovableClock()
    config = SimulatorConfig(
        platform_private_key_pem=creds.platform_private_key_pem,
        apps={app.app_id: app for app in (creds.registration(), creds_b.registration())},
        notify_retry_schedule_s=RETRY_SCHEDULE_S,
        notify_timeout_s=3.0,
        reorder_hold_s=3.0,
        clock=clock,
    )
    app = create_simulator(config)
    merchant = Receiver()
    with serving(merchant.app) as merchant_base, serving(app) as base:
        yield Env(creds, creds_b, clock, merchant, merchant_base, app, base)
