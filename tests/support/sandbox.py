"""A real Paydesk server with its sandbox: both channel simulators mounted, as ``serve`` runs.

    with sandbox_server(db, tmp_path) as sandbox:
        httpx.post(f"{sandbox.base_url}/v1/orders", headers=sandbox.headers, json={...})
        connector = sandbox.connector(sandbox.wechat_account_id)
        httpx.post(f"{sandbox.wechat_control_url}/simulator/pay", json={...})

The server listens on a free loopback port and knows it as its ``public_url``, so the URLs the
simulators hand out (QR codes, pay pages) and the notifications they send reach it. The
embedded worker runs, so jobs run. A merchant with an app, a test-mode key and a WeChat Pay
and an Alipay sandbox account is made for each server. Keys (the server secret and the
sandbox keys) are kept in ``<tmp_path>/paydesk-data``: a second server on the same
``tmp_path`` is the same installation restarted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from paydesk.api.app import create_app
from paydesk.channels.accounts import service as channel_service
from paydesk.channels.base import Connector
from paydesk.core.settings import Settings, load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import auth
from paydesk.merchants import service as merchants
from paydesk.merchants.models import KeyMode, MerchantKind
from paydesk.sandbox import Sandbox, ensure_sandbox_account
from paydesk.simulators import alipay as alipay_sim
from paydesk.simulators import wechatpay as wechat_sim
from tests.support.server import free_port, serving

DATA_DIR_NAME = "paydesk-data"


@dataclass(frozen=True)
class SandboxServer:
    base_url: str
    """``http://127.0.0.1:<port>``: the server, and its ``public_url``."""
    merchant_id: str
    app_id: str
    key: str
    """A test-mode key of the merchant, bound to its app."""
    headers: dict[str, str]
    """``Authorization: Bearer <key>``."""
    wechat_account_id: str
    alipay_account_id: str
    qqwallet_account_id: str
    unionpay_account_id: str
    wechat_control_url: str
    """``<base_url>/sandbox/wechatpay``: the simulator's gateway, pay pages, control API."""
    alipay_control_url: str
    """``<base_url>/sandbox/alipay``: the gateway at ``/gateway.do``, pages, control API."""
    qqwallet_control_url: str
    """``<base_url>/sandbox/qqwallet``: the ``/cgi-bin`` API, pay pages, control API."""
    unionpay_control_url: str
    """``<base_url>/sandbox/unionpay``: the ``/gateway/api`` gateway, pages, control API."""
    wechat_credentials: wechat_sim.TestCredentials
    alipay_credentials: alipay_sim.SandboxCredentials
    settings: Settings
    db: Database
    app: FastAPI

    @property
    def sandbox_base_url(self) -> str:
        """``<base_url>/sandbox``, what ``load_connector(sandbox_base_url=...)`` takes."""
        return f"{self.base_url}/sandbox"

    @property
    def sandbox(self) -> Sandbox:
        """The mounted sandbox, for in-process control (``.simulator("alipay")``, ``.inbox``)."""
        found: Sandbox = self.app.state.sandbox
        return found

    def connector(self, account_id: str, merchant_id: str | None = None) -> Connector:
        """The connector of a sandbox account, as the payment flows load it."""
        with unit_of_work(self.db, read_only=True) as session:
            return channel_service.load_connector(
                session,
                merchant_id or self.merchant_id,
                account_id,
                secret=self.settings.secret(),
                sandbox_base_url=self.sandbox_base_url,
            )


def sandbox_settings(db: Database, tmp_path: Path, port: int, **overrides: Any) -> Settings:
    """Settings of a sandbox server on ``port`` for ``db``, data under ``tmp_path``."""
    options: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": tmp_path / DATA_DIR_NAME,
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "sandbox_enabled": True,
        "embedded_worker": True,
        **overrides,
    }
    return load_settings(**options)


@contextmanager
def sandbox_server(db: Database, tmp_path: Path, **settings: Any) -> Iterator[SandboxServer]:
    """Serve Paydesk with its sandbox on ``db`` until the block ends. ``settings`` override
    the defaults of :func:`sandbox_settings`."""
    port = free_port()
    config = sandbox_settings(db, tmp_path, port, **settings)
    app = create_app(config, db)
    sandbox: Sandbox = app.state.sandbox
    keys = sandbox.keys()
    secret = config.secret()
    with unit_of_work(db) as session:
        merchant = merchants.create_merchant(
            session, name="Sandbox shop", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        )
        shop_app = merchants.create_app(session, merchant.id, "Sandbox app", actor="test")
        issued = auth.issue_key(
            session, merchant_id=merchant.id, mode=KeyMode.TEST, app_id=shop_app.id, actor="test"
        )
        accounts = {
            channel: ensure_sandbox_account(
                session, merchant.id, channel, keys=keys, secret=secret, actor="test"
            ).account.id
            for channel in ("wechatpay", "alipay", "qqwallet", "unionpay")
        }
    with serving(app, port=port) as base_url:
        yield SandboxServer(
            base_url=base_url,
            merchant_id=merchant.id,
            app_id=shop_app.id,
            key=issued.secret,
            headers={"Authorization": f"Bearer {issued.secret}"},
            wechat_account_id=accounts["wechatpay"],
            alipay_account_id=accounts["alipay"],
            qqwallet_account_id=accounts["qqwallet"],
            unionpay_account_id=accounts["unionpay"],
            wechat_control_url=f"{base_url}/sandbox/wechatpay",
            alipay_control_url=f"{base_url}/sandbox/alipay",
            qqwallet_control_url=f"{base_url}/sandbox/qqwallet",
            unionpay_control_url=f"{base_url}/sandbox/unionpay",
            wechat_credentials=keys.wechatpay,
            alipay_credentials=keys.alipay,
            settings=config,
            db=db,
            app=app,
        )
