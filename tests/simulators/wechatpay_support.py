"""Helpers for the WeChat Pay simulator tests: the SDK client, a notification receiver, and a
harness that runs both on loopback.

The SDK client is the unmodified ``wechatpayv3.WeChatPay`` in platform-public-key mode, pointed
at the simulator with ``_core._gate_way`` (CHANNELS.md). The receiver plays the merchant: it
verifies and decrypts each notification with the SDK's ``callback`` and answers 200, or 401 when
the SDK rejects it (or 500 while told to fail).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI, Request, Response
from wechatpayv3 import WeChatPay, WeChatPayType

from paydesk.simulators.wechatpay import (
    SimulatorConfig,
    TestCredentials,
    create_simulator,
    generate_test_credentials,
)
from tests.support.server import serving

RETRIES_S = (0.05, 0.1, 0.2)
WAIT_S = 5.0
BEIJING = timezone(timedelta(hours=8))
T = TypeVar("T")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    result: dict[str, Any] | None
    """What ``WeChatPay.callback`` made of it (None: rejected)."""


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
    """Poll ``probe`` until ``done`` holds for its value or time runs out; the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


class Receiver:
    """The merchant's notify endpoint: verifies with the SDK, records, answers."""

    def __init__(self, client: WeChatPay) -> None:
        self.client = client
        self.received: list[Received] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/notify")(self._notify)

    async def _notify(self, request: Request) -> Response:
        headers, body = dict(request.headers), await request.body()
        result = self.client.callback(headers, body)
        with self._lock:
            self.received.append(Received(headers, body, result))
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=500)
        return Response(status_code=200 if result else 401)

    def everything(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def about(self, number: str) -> list[Received]:
        """Verified notifications whose decrypted resource names ``number``."""
        return [
            r
            for r in self.everything()
            if r.result is not None and number in json.dumps(r.result["resource"])
        ]

    def wait_for(self, number: str, count: int = 1, timeout_s: float = WAIT_S) -> list[Received]:
        return wait_until(lambda: self.about(number), lambda found: len(found) >= count, timeout_s)


def sdk_client(creds: TestCredentials, gateway: str, notify_url: str, **options: Any) -> WeChatPay:
    """The unmodified SDK client, pointed at ``gateway``."""
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=options.pop("mchid", creds.mchid),
        private_key=options.pop("private_key", creds.merchant_private_key_pem),
        cert_serial_no=creds.merchant_cert_serial_no,
        appid=creds.appid,
        apiv3_key=creds.apiv3_key,
        notify_url=notify_url,
        public_key=options.pop("public_key", creds.platform_public_key_pem),
        public_key_id=options.pop("public_key_id", creds.public_key_id),
        timeout=options.pop("timeout", (5, 10)),
    )
    client._core._gate_way = gateway
    return client


@dataclass
class Harness:
    """A simulator and a receiver on loopback, sharing freshly generated credentials."""

    creds: TestCredentials
    config: SimulatorConfig
    gateway: str
    notes: Receiver
    notify_url: str

    @staticmethod
    @contextmanager
    def running() -> Iterator[Harness]:
        creds = generate_test_credentials()
        config = creds.simulator_config(retry_schedule_s=RETRIES_S, notify_timeout_s=2.0)
        notes = Receiver(sdk_client(creds, "http://unused.invalid", "http://unused.invalid"))
        with serving(notes.app) as receiver_url, serving(create_simulator(config)) as gateway:
            yield Harness(creds, config, gateway, notes, f"{receiver_url}/notify")

    def client(self, gateway: str | None = None, **options: Any) -> WeChatPay:
        return sdk_client(self.creds, gateway or self.gateway, self.notify_url, **options)

    def reset(self) -> None:
        self.config.faults.reset()
        self.notes.fail_next = 0


_numbers = iter(range(10**6))


def new_number(prefix: str = "T") -> str:
    return f"{prefix}{int(time.time() * 1000)}{next(_numbers):04d}"


def beijing_day(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, BEIJING).date().isoformat()


def create_native(client: WeChatPay, total: int = 1000, **fields: Any) -> str:
    number = new_number()
    code, text = client.pay(
        description=fields.pop("description", "Gems 宝石 100"),
        out_trade_no=number,
        amount={"total": total},
        **fields,
    )
    assert code == 200, text
    return number


def control(gateway: str, method: str, path: str, body: Any = None) -> httpx.Response:
    """A call to the simulator's own (unsigned) test API."""
    return httpx.request(method, gateway + path, json=body, timeout=10, trust_env=False)


def pay(gateway: str, number: str, **fields: Any) -> dict[str, Any]:
    response = control(gateway, "POST", "/simulator/pay", {"out_trade_no": number, **fields})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def deliveries(gateway: str) -> list[dict[str, Any]]:
    return control(gateway, "GET", "/simulator/notifications").json()["deliveries"]  # type: ignore[no-any-return]


def query(client: WeChatPay, **by: str) -> tuple[int, dict[str, Any]]:
    code, text = client.query(**by)
    return code, json.loads(text)


def refund(
    client: WeChatPay, number: str, out_refund_no: str, amount: int, total: int = 1000
) -> tuple[int, dict[str, Any]]:
    code, text = client.refund(
        out_refund_no=out_refund_no,
        amount={"refund": amount, "total": total, "currency": "CNY"},
        out_trade_no=number,
    )
    return code, json.loads(text)


def refund_status(client: WeChatPay, out_refund_no: str) -> str:
    code, text = client.query_refund(out_refund_no)
    assert code == 200, text
    return str(json.loads(text)["status"])


def error_of(text: str) -> str:
    return str(json.loads(text)["code"])
