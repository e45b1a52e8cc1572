"""Helpers for the QQ Wallet simulator and connector tests: a plain merchant client, a
notification receiver, and a harness that runs both beside the simulator on loopback.

The merchant client signs with its own few lines (:func:`sign`), apart from the connector's and
the simulator's code, and checks them against WeChat Pay v2's published vectors (which QQ
Wallet's signature page repeats), so the simulator is held to the protocol, not to itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import defusedxml.ElementTree
import httpx
from fastapi import FastAPI, Request, Response

from paydesk.simulators.qqwallet import (
    SimulatorConfig,
    TestCredentials,
    create_simulator,
    generate_test_credentials,
)
from tests.support.server import serving

RETRIES_S = (0.05, 0.1, 0.2)
WAIT_S = 5.0
BEIJING = timezone(timedelta(hours=8))
ACK = b"<xml><return_code>SUCCESS</return_code></xml>"
NACK = b"<xml><return_code>FAIL</return_code><return_msg>busy</return_msg></xml>"
T = TypeVar("T")

UNIFIED_ORDER = "/cgi-bin/pay/qpay_unified_order.cgi"
ORDER_QUERY = "/cgi-bin/pay/qpay_order_query.cgi"
CLOSE_ORDER = "/cgi-bin/pay/qpay_close_order.cgi"
REFUND = "/cgi-bin/pay/qpay_refund.cgi"
REFUND_QUERY = "/cgi-bin/pay/qpay_refund_query.cgi"
STATEMENT = "/cgi-bin/sp_download/qpay_mch_statement_down.cgi"


# --- the wire, written out once more ------------------------------------------------------------
def sign(fields: Mapping[str, str], key: str, sign_type: str = "MD5") -> str:
    names = sorted(k for k, v in fields.items() if k != "sign" and v.strip())
    text = ("&".join(f"{k}={fields[k]}" for k in names) + f"&key={key}").encode()
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text).hexdigest().upper()


def to_xml(fields: Mapping[str, str]) -> bytes:
    return (
        "<xml>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items()) + "</xml>"
    ).encode()


def parse(body: bytes) -> dict[str, str]:
    root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def verified(fields: Mapping[str, str], key: str, sign_type: str) -> bool:
    return bool(fields.get("sign")) and fields["sign"] == sign(fields, key, sign_type)


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
    """Poll ``probe`` until ``done`` holds for its value or time runs out; the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


# --- the merchant's notify endpoint -------------------------------------------------------------
@dataclass
class Arrival:
    body: bytes
    accepted: bool
    result: Any = None
    """What the judge made of it (its return value, or the exception it raised)."""


Judge = Callable[[bytes], tuple[bool, Any]]


class Receiver:
    """Records every notification; answers as ``judge`` says (or fails on purpose)."""

    def __init__(self) -> None:
        self.judge: Judge = lambda body: (True, None)
        self.answer_for: Callable[[bool], tuple[int, bytes]] = lambda ok: (
            (200, ACK) if ok else (500, NACK)
        )
        self.fail_next = 0
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/notify")(self._notify)

    async def _notify(self, request: Request) -> Response:
        body = await request.body()
        accepted, result = self.judge(body)
        with self._lock:
            self._arrivals.append(Arrival(body, accepted, result))
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(NACK, 200, media_type="text/xml")
        status, answer = self.answer_for(accepted)
        return Response(answer, status, media_type="text/xml")

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def about(self, number: str) -> list[Arrival]:
        needle = f"<out_trade_no>{number}</out_trade_no>".encode()
        return [arrival for arrival in self.arrivals() if needle in arrival.body]

    def wait_for(self, number: str, count: int = 1, timeout_s: float = WAIT_S) -> list[Arrival]:
        return wait_until(lambda: self.about(number), lambda found: len(found) >= count, timeout_s)

    def reset(self) -> None:
        self.fail_next = 0
        self.judge = lambda body: (True, None)
        self.answer_for = lambda ok: (200, ACK) if ok else (500, NACK)


# --- the harness --------------------------------------------------------------------------------
@dataclass
class Harness:
    """A simulator and a receiver on loopback, sharing freshly generated credentials."""

    creds: TestCredentials
    config: SimulatorConfig
    gateway: str
    receiver: Receiver
    notify_url: str
    numbers: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    @staticmethod
    @contextmanager
    def running(creds: TestCredentials | None = None, **options: Any) -> Iterator[Harness]:
        creds = creds or generate_test_credentials()
        options = {"retry_schedule_s": RETRIES_S, "notify_timeout_s": 2.0, **options}
        config = creds.simulator_config(**options)
        receiver = Receiver()
        with serving(receiver.app) as receiver_url, serving(create_simulator(config)) as gateway:
            yield Harness(creds, config, gateway, receiver, f"{receiver_url}/notify")

    def reset(self) -> None:
        self.config.faults.reset()
        self.receiver.reset()

    def call(
        self,
        path: str,
        fields: Mapping[str, str],
        *,
        sign_type: str | None = "HMAC-SHA256",
        key: str | None = None,
        raw: bytes | None = None,
        timeout_s: float = 10,
    ) -> tuple[int, bytes]:
        """One signed call as a merchant makes it; ``raw`` sends that body instead."""
        body = raw
        if body is None:
            signed = {"mch_id": self.creds.mch_id, "nonce_str": secrets.token_hex(16), **fields}
            if sign_type is not None:
                signed["sign_type"] = sign_type
            signed["sign"] = sign(signed, key or self.creds.api_key, sign_type or "MD5")
            body = to_xml(signed)
        response = httpx.post(
            self.gateway + path,
            content=body,
            headers={"Content-Type": "text/xml"},
            timeout=timeout_s,
            trust_env=False,
        )
        return response.status_code, response.content

    def api(self, path: str, fields: Mapping[str, str], **options: Any) -> dict[str, str]:
        """A call whose answer is XML: its fields."""
        status, body = self.call(path, fields, **options)
        assert status == 200, body
        return parse(body)

    def order(
        self, number: str | None = None, *, sign_type: str | None = "HMAC-SHA256", **fields: str
    ) -> tuple[str, dict[str, str]]:
        """A NATIVE order (or what ``fields`` say); its number and the answer."""
        number = number or new_number()
        base = {
            "body": "Gems 宝石 100",
            "out_trade_no": number,
            "fee_type": "CNY",
            "total_fee": "1000",
            "spbill_create_ip": "127.0.0.1",
            "trade_type": "NATIVE",
            "notify_url": self.notify_url,
        }
        return number, self.api(UNIFIED_ORDER, {**base, **fields}, sign_type=sign_type)


_numbers = iter(range(10**6))


def new_number(prefix: str = "Q") -> str:
    return f"{prefix}{int(time.time() * 1000)}{next(_numbers):04d}"


def beijing_day(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, BEIJING)


def control(gateway: str, method: str, path: str, body: Any = None) -> httpx.Response:
    """A call to the simulator's own (unsigned) control API."""
    return httpx.request(method, gateway + path, json=body, timeout=10, trust_env=False)


def pay(gateway: str, number: str, **fields: Any) -> dict[str, Any]:
    response = control(gateway, "POST", f"/simulator/trades/{number}/pay", fields or None)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def deliveries(gateway: str) -> list[dict[str, Any]]:
    return control(gateway, "GET", "/simulator/notifications").json()["deliveries"]  # type: ignore[no-any-return]
