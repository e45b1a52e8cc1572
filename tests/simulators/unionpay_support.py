"""Helpers for the UnionPay tests: a simulator served on loopback, a merchant endpoint that
receives notifications (answering with a connector's ``acknowledge`` when it has one, else with
the statuses a test queues), a payer's browser played with httpx, a clock the tests can move,
and raw signed requests (made with the connector's signing module, checked by the simulator's
own)."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from paydesk.channels.base import ChannelError, Notification
from paydesk.channels.unionpay import UnionPayConfig, UnionPayConnector, signing, wire
from paydesk.simulators.unionpay import (
    SandboxCredentials,
    UnionPaySimulator,
    create_simulator,
    generate_test_credentials,
    simulator_of,
)
from paydesk.simulators.unionpay.config import beijing_now
from tests.support.server import serving

WAIT_S = 5.0
RETRY_SCHEDULE_S = (0.1, 0.2)
REFUND_DELAY_S = 0.3
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class Clock:
    """Now plus an offset the test sets: ``utc`` for connectors, ``beijing`` for the
    simulator."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def utc(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def beijing(self) -> datetime:
        return beijing_now() + self.offset


@dataclass
class Delivery:
    name: str
    body: bytes
    outcome: Notification | Exception | None


@dataclass
class Merchant:
    """``POST /notify/{name}`` (and ``/return/{name}``, the frontUrl): records each form and
    answers with ``connector.acknowledge`` (after ``parse_notification``) when a connector is
    set, else with the next of ``statuses[name]`` (200 once they run out)."""

    connector: UnionPayConnector | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notify/{name}")
        async def notify(name: str, request: Request) -> Response:
            body = await request.body()
            connector = self.connector
            outcome: Notification | Exception | None = None
            if connector is not None:
                try:
                    outcome = await run_in_threadpool(
                        connector.parse_notification, dict(request.headers), body
                    )
                except ChannelError as error:
                    outcome = error
            with self.cond:
                self.deliveries.append(Delivery(name, body, outcome))
                queue = self.statuses.get(name, [])
                status = queue.pop(0) if queue else 200
                self.cond.notify_all()
            if connector is not None:
                ack = connector.acknowledge(not isinstance(outcome, Exception))
                return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)
            return Response(b"ok" if status == 200 else b"fail", status_code=status)

        @app.post("/return/{name}")
        async def front(name: str, request: Request) -> Response:
            body = await request.body()
            with self.cond:
                self.deliveries.append(Delivery(f"return:{name}", body, None))
                self.cond.notify_all()
            return Response(b"<html>thanks</html>", media_type="text/html")

        return app

    def wait_for(self, name: str, count: int = 1, timeout_s: float = WAIT_S) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                got = [d for d in self.deliveries if d.name == name]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(got)} of {count} notifications for {name}")
                self.cond.wait(remaining)


@dataclass
class Env:
    """A running simulator knowing one merchant, and the merchant's endpoint."""

    creds: SandboxCredentials
    clock: Clock
    merchant: Merchant
    merchant_base: str
    app: FastAPI
    base: str

    @property
    def sim(self) -> UnionPaySimulator:
        return simulator_of(self.app)

    def config(self, **changes: Any) -> UnionPayConfig:
        fields: dict[str, Any] = {
            **self.creds.credential_fields(),
            "gateway_url": self.base,
            "timeout_s": 5.0,
        }
        return UnionPayConfig(**(fields | changes))

    def connector(self, **changes: Any) -> UnionPayConnector:
        return UnionPayConnector(self.config(**changes), now=self.clock.utc)

    def reset(self) -> None:
        self.sim.clear_faults()
        self.clock.offset = timedelta()

    def settled(self) -> None:
        assert self.sim.notifier.wait_settled(WAIT_S)

    def log(self, order_id: str) -> list[dict[str, Any]]:
        self.settled()
        return [d for d in self.sim.notifier.deliveries() if d["orderId"] == order_id]


@contextmanager
def running_env(creds: SandboxCredentials | None = None) -> Iterator[Env]:
    creds = creds or generate_test_credentials()
    clock = Clock()
    app = create_simulator(
        creds.simulator_config(
            notify_retry_schedule_s=RETRY_SCHEDULE_S,
            notify_timeout_s=3.0,
            reorder_hold_s=2.0,
            refund_delay_s=REFUND_DELAY_S,
            clock=clock.beijing,
        )
    )
    merchant = Merchant()
    with serving(merchant.app()) as merchant_base, serving(app) as base:
        yield Env(creds, clock, merchant, merchant_base, app, base)


# --- the payer's browser ----------------------------------------------------------------------
def form_actions(page: str) -> list[str]:
    return [html.unescape(action) for action in _ACTION.findall(page)]


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's form as a browser submits them: entities undone, line
    breaks read as LF by the HTML parser and then written as CRLF by the form submission."""
    return {
        html.unescape(name): html.unescape(value).replace("\r\n", "\n").replace("\n", "\r\n")
        for name, value in _INPUT.findall(page)
    }


def open_pay_page(redirect_url: str, form_fields: Mapping[str, str]) -> httpx.Response:
    """The browser posts the merchant's signed form to the gateway."""
    return httpx.post(redirect_url, data=dict(form_fields))


def press(page: httpx.Response, label: str) -> httpx.Response:
    """Presses the button whose form action ends with ``/label`` (``pay`` or ``cancel``)."""
    (action,) = [a for a in form_actions(page.text) if a.endswith(f"/{label}")]
    return httpx.post(action)


# --- raw signed requests ---------------------------------------------------------------------
def sign_request(
    creds: SandboxCredentials, fields: Mapping[str, str], *, key_pem: str | None = None
) -> dict[str, str]:
    """``fields`` with the common 5.1.0 fields, ``certId`` and a signature."""
    key = signing.load_signing_key(key_pem or creds.sign_private_key_pem)
    signed = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "accessType": "0",
        "merId": creds.mer_id,
        "certId": creds.sign_cert_id,
        "txnTime": beijing_now().strftime("%Y%m%d%H%M%S"),
        **fields,
    }
    signed["signature"] = signing.sign(key, signed)
    return signed


def post_raw(
    base: str, path: str, fields: Mapping[str, str]
) -> tuple[httpx.Response, dict[str, str]]:
    response = httpx.post(f"{base}{path}", data=dict(fields))
    return response, wire.parse_answer(response.text)


def verifies(creds: SandboxCredentials, fields: Mapping[str, str]) -> bool:
    chain = signing.CertificateChain(creds.root_cert_pem, creds.middle_cert_pem)
    try:
        chain.verify(fields, datetime.now(UTC))
    except signing.SignatureError:
        return False
    return True
