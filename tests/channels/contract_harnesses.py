"""One harness per registered channel, for the connector contract suite
(``test_connector_contract.py``).

A harness builds a connector against the channel's simulator (or, for Stripe, localstripe),
says which method to create with, and makes the payer pay. Notifications go to a capture
server the suite runs, so the suite hands the connector genuine notifications, then tampered
ones. Adding a channel to the registry without adding its harness here fails the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response

from paydesk.channels.base import Connector, Method, PaymentAction, PaymentStatus
from paydesk.db.engine import Database
from tests.support.localstripe import (
    TEST_PUBLISHABLE_KEY,
    TEST_SECRET_KEY,
    localstripe_server,
)
from tests.support.sandbox import SandboxServer, sandbox_server
from tests.support.server import serving


@dataclass
class Captured:
    headers: dict[str, str]
    body: bytes


class Capture:
    """A notify endpoint that records every notification and answers each channel's
    "accepted" (200 with ``success``: WeChat, UnionPay and Stripe take any 2xx; Alipay wants
    ``success``; QQ Wallet's XML answer)."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.lock = threading.Lock()
        self.received: dict[str, list[Captured]] = {}

        @self.app.post("/notify/{channel}")
        async def notify(channel: str, request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.received.setdefault(channel, []).append(
                    Captured({k.lower(): v for k, v in request.headers.items()}, body)
                )
            if channel == "qqwallet":
                return Response(
                    "<xml><return_code>SUCCESS</return_code></xml>", media_type="text/xml"
                )
            return Response("success", media_type="text/plain")

    def of(self, channel: str) -> list[Captured]:
        with self.lock:
            return list(self.received.get(channel, []))


@dataclass
class Harness:
    channel: str
    method: Method
    currency: str
    connector: Connector
    pay: Callable[[str, PaymentAction], None]
    """Make the payer pay the payment ``out_trade_no`` (given what create answered)."""
    payment_token: Callable[[], str | None] = lambda: None
    statement: bool = True
    """False where the stand-in has no statement the connector can read (said in the test)."""
    statement_zone: str = "Asia/Shanghai"
    """Whose calendar a statement's day is: the channel's (China's for the Chinese ones)."""
    closes_unpaid: bool = True
    """False for a channel without a close: an unpaid payment stays payable until it expires,
    and closing it before is refused (ChannelRejected), never pretended."""
    closed_reads_as: frozenset[PaymentStatus] = frozenset({PaymentStatus.CLOSED})
    """What a query says of a payment closed before anyone paid (None: not found, is fine
    for every channel)."""
    extra: dict[str, str] = field(default_factory=dict)


def _control_pay(base: str) -> Callable[[str, PaymentAction], None]:
    def pay(out_trade_no: str, _action: PaymentAction) -> None:
        answer = httpx.post(
            f"{base}/simulator/pay", json={"out_trade_no": out_trade_no}, timeout=30
        )
        assert answer.status_code == 200, answer.text

    return pay


@contextmanager
def wechatpay(sandbox: SandboxServer, notify_base: str) -> Iterator[Harness]:
    yield Harness(
        "wechatpay",
        Method.WECHAT_NATIVE,
        "CNY",
        sandbox.connector(sandbox.wechat_account_id),
        _control_pay(sandbox.wechat_control_url),
    )


@contextmanager
def alipay(sandbox: SandboxServer, notify_base: str) -> Iterator[Harness]:
    yield Harness(
        "alipay",
        Method.ALIPAY_QR,
        "CNY",
        sandbox.connector(sandbox.alipay_account_id),
        _control_pay(sandbox.alipay_control_url),
        # A QR code nobody scanned is no trade at Alipay (ACQ.TRADE_NOT_EXIST), which the
        # connector reads as pending (the code may still be scanned); closing kills the code.
        closed_reads_as=frozenset({PaymentStatus.CLOSED, PaymentStatus.PENDING}),
    )


@contextmanager
def stripe(sandbox: SandboxServer, notify_base: str) -> Iterator[Harness]:
    from paydesk.channels.stripe import StripeCredentials

    with localstripe_server() as server:
        secret = "whsec_contract0000000000000000"
        server.configure_webhook("contract", f"{notify_base}/notify/stripe", secret)
        credentials = StripeCredentials(
            secret_key=TEST_SECRET_KEY,
            publishable_key=TEST_PUBLISHABLE_KEY,
            webhook_secret=secret,
        )
        yield Harness(
            "stripe",
            Method.CARD,
            "USD",
            credentials.connector(server.url, 10.0, sandbox=True),
            lambda _no, _action: None,  # the token confirms the card at create
            payment_token=lambda: server.card_payment_method("4242424242424242"),
            statement=False,  # localstripe refuses the day filter (docs/channels-stripe.md)
            statement_zone="UTC",
        )


@contextmanager
def qqwallet(sandbox: SandboxServer, notify_base: str) -> Iterator[Harness]:
    def pay(out_trade_no: str, _action: PaymentAction) -> None:
        base = sandbox.qqwallet_control_url
        answer = httpx.post(f"{base}/simulator/trades/{out_trade_no}/pay", json={}, timeout=30)
        assert answer.status_code == 200, answer.text

    yield Harness(
        "qqwallet",
        Method.QQ_NATIVE,
        "CNY",
        sandbox.connector(sandbox.qqwallet_account_id),
        pay,
    )


@contextmanager
def unionpay(sandbox: SandboxServer, notify_base: str) -> Iterator[Harness]:
    def pay(out_trade_no: str, action: PaymentAction) -> None:
        # The payer's browser posts the signed form: only then does UnionPay know the order.
        assert action.redirect_url is not None
        opened = httpx.post(action.redirect_url, data=dict(action.form_fields), timeout=30)
        assert opened.status_code == 200, opened.text
        base = sandbox.unionpay_control_url
        answer = httpx.post(f"{base}/simulator/trades/{out_trade_no}/pay", json={}, timeout=30)
        assert answer.status_code == 200, answer.text

    yield Harness(
        "unionpay",
        Method.UNIONPAY_PAGE,
        "CNY",
        sandbox.connector(sandbox.unionpay_account_id),
        pay,
        # UnionPay has no close: an order expires at its payTimeout (docs/channels-unionpay.md).
        closes_unpaid=False,
    )


HARNESSES: dict[str, Callable[[SandboxServer, str], AbstractContextManager[Harness]]] = {
    "wechatpay": wechatpay,
    "alipay": alipay,
    "stripe": stripe,
    "qqwallet": qqwallet,
    "unionpay": unionpay,
}


@contextmanager
def environment(db: Database, tmp_path: Path) -> Iterator[tuple[SandboxServer, Capture, str]]:
    """The sandbox server (every simulator mounted) and the capture server."""
    capture = Capture()
    with ExitStack() as stack:
        sandbox = stack.enter_context(sandbox_server(db, tmp_path))
        capture_base = stack.enter_context(serving(capture.app))
        yield sandbox, capture, capture_base
