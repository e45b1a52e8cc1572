"""What Paydesk serves under ``/sandbox`` when the sandbox is enabled.

- ``/sandbox/wechatpay``: the WeChat Pay API v3 simulator (``/v3/...``, the pay page
  ``/pay/{prepay_id}``, the control API ``/simulator/...``);
- ``/sandbox/alipay``: the Alipay simulator (``/gateway.do``, the QR page ``/qr/{token}``,
  ``/simulator/...``);
- ``/sandbox/webhook-inbox``: the webhook inbox (:mod:`.inbox`);
- ``/sandbox/``: where each of them is, as JSON.

Both simulators are built from the persisted keys (:mod:`.credentials`) and hand out URLs
(QR codes, pay pages, bills) under ``<public_url>/sandbox/...``. Their notifications go to the
``notify_url`` a connector sends, ``<public_url>/notify/...``: this same server. They are
sent from the simulators' background threads, so the request that caused one never waits for
it. A connector's call to a simulator is an HTTP request to this same server as well: it is
answered while the calling endpoint waits in its worker thread (endpoints that call channels
are plain ``def`` endpoints; an ``async def`` one would block the loop that must answer).

The simulators are built on the first request under ``/sandbox/wechatpay`` or
``/sandbox/alipay`` (then kept for the life of the process): a server or a test that never
uses the sandbox makes no keys and starts no simulator. Keys already on disk are read when
the server starts, so a damaged file stops start-up with a message naming it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from paydesk.core.settings import SANDBOX_PATH, Settings
from paydesk.sandbox import credentials
from paydesk.sandbox.credentials import SandboxKeys
from paydesk.sandbox.inbox import WebhookInbox
from paydesk.sandbox.stripe_proxy import StripeSandboxProxy
from paydesk.simulators import alipay as alipay_sim
from paydesk.simulators import qqwallet as qq_sim
from paydesk.simulators import unionpay as unionpay_sim
from paydesk.simulators import wechatpay as wechat_sim

WECHATPAY_PATH = "/wechatpay"
ALIPAY_PATH = "/alipay"
INBOX_PATH = "/webhook-inbox"
STRIPE_PATH = "/stripe"
QQWALLET_PATH = "/qqwallet"
UNIONPAY_PATH = "/unionpay"


class Sandbox:
    """The ``/sandbox`` application: both simulators and the webhook inbox."""

    def __init__(
        self, data_dir: Path, public_url: str, stripe_sandbox_url: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.base_url = public_url.rstrip("/") + SANDBOX_PATH
        self.inbox = WebhookInbox()
        self._keys = credentials.load(data_dir)
        self._lock = threading.Lock()
        self._simulators: dict[str, FastAPI] = {}
        self._closed = False
        self.app = Router(
            routes=[
                Route("/", self._index, methods=["GET"]),
                Route(INBOX_PATH, self.inbox.endpoint, methods=["GET", "POST", "DELETE"]),
                Mount(WECHATPAY_PATH, app=self._simulator_app("wechatpay")),
                Mount(ALIPAY_PATH, app=self._simulator_app("alipay")),
                Mount(QQWALLET_PATH, app=self._simulator_app("qqwallet")),
                Mount(UNIONPAY_PATH, app=self._simulator_app("unionpay")),
                Mount(STRIPE_PATH, app=StripeSandboxProxy(stripe_sandbox_url)),
            ]
        )

    def keys(self) -> SandboxKeys:
        """The persisted keys, made on first need."""
        with self._lock:
            if self._keys is None:
                self._keys = credentials.load_or_create(self.data_dir)
            return self._keys

    def simulator(self, channel: str) -> FastAPI:
        """The simulator app of ``channel`` (built on first use), for in-process control."""
        keys = self.keys()
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox is closed")
            if not self._simulators:
                self._simulators = {
                    "wechatpay": wechat_sim.create_simulator(
                        keys.wechatpay.simulator_config(
                            public_base_url=self.base_url + WECHATPAY_PATH
                        )
                    ),
                    "alipay": alipay_sim.create_simulator(
                        keys.alipay.simulator_config(public_base_url=self.base_url + ALIPAY_PATH)
                    ),
                    "qqwallet": qq_sim.create_simulator(
                        keys.qqwallet.simulator_config(
                            public_base_url=self.base_url + QQWALLET_PATH
                        )
                    ),
                    "unionpay": unionpay_sim.create_simulator(
                        keys.unionpay.simulator_config(
                            public_base_url=self.base_url + UNIONPAY_PATH
                        )
                    ),
                }
            return self._simulators[channel]

    def close(self) -> None:
        """Stop the simulators' background threads (pending notifications are dropped)."""
        with self._lock:
            self._closed = True
            built, self._simulators = self._simulators, {}
        if "wechatpay" in built:
            built["wechatpay"].state.simulator.close()
        if "alipay" in built:
            alipay_sim.simulator_of(built["alipay"]).close()
        if "qqwallet" in built:
            built["qqwallet"].state.simulator.close()
        if "unionpay" in built:
            unionpay_sim.simulator_of(built["unionpay"]).close()

    def _simulator_app(self, channel: str) -> ASGIApp:
        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            found = self._simulators.get(channel)
            if found is None:  # the first call: keys may be made, which takes a moment
                found = await anyio.to_thread.run_sync(self.simulator, channel)
            await found(scope, receive, send)

        return dispatch

    async def _index(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "wechatpay": self.base_url + WECHATPAY_PATH,
                "alipay_gateway": self.base_url + ALIPAY_PATH + "/gateway.do",
                "stripe_api": self.base_url + STRIPE_PATH,
                "qqwallet": self.base_url + QQWALLET_PATH,
                "unionpay_gateway": self.base_url + UNIONPAY_PATH + "/gateway/api",
                "webhook_inbox": self.base_url + INBOX_PATH,
                "docs": "docs/sandbox.md",
            }
        )


def mount_sandbox(app: FastAPI, settings: Settings) -> Sandbox | None:
    """Mount the sandbox on ``app`` when the settings enable it; the caller closes it at
    shutdown. None when the sandbox is disabled (``/sandbox/...`` then answers 404)."""
    if not settings.sandbox_enabled:
        return None
    sandbox = Sandbox(settings.data_dir, settings.public_url, settings.stripe_sandbox_url)
    app.mount(SANDBOX_PATH, sandbox.app)
    return sandbox
