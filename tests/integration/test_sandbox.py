"""The sandbox served by Paydesk itself: both simulators mounted in a real server, sandbox
channel accounts whose connectors talk to them, keys that survive a restart, the webhook inbox,
and what a server without a sandbox answers. On both databases.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydesk.api.app import create_app
from paydesk.api.routing import Services
from paydesk.channels.accounts import service as channel_service
from paydesk.channels.accounts.errors import SandboxUnavailable
from paydesk.channels.accounts.models import ChannelAccountMode
from paydesk.channels.base import (
    ActionKind,
    Connector,
    InvalidNotification,
    Method,
    Notification,
    PaymentRequest,
    PaymentStatus,
)
from paydesk.cli.main import app as cli
from paydesk.core.settings import load_settings
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import service as merchants
from paydesk.merchants.models import MerchantKind
from paydesk.sandbox import Outcome, SandboxCredentialsError, ensure_sandbox_account
from paydesk.sandbox import credentials as sandbox_credentials
from paydesk.sandbox.inbox import INBOX_SIZE
from tests.simulators.wechatpay_support import new_number
from tests.support.sandbox import DATA_DIR_NAME, SandboxServer, sandbox_server

WAIT_S = 10.0
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def payment(method: Method, notify_url: str, amount_minor: int = 1234) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no=new_number("S"),
        amount_minor=amount_minor,
        currency="CNY",
        subject="Gems 100",
        method=method,
        notify_url=notify_url,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )


def inbox_entries(server: SandboxServer) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.sandbox_base_url}/webhook-inbox")
    assert answer.status_code == 200
    entries: list[dict[str, Any]] = answer.json()["data"]
    return entries


def notified(server: SandboxServer, connector: Connector, out_trade_no: str) -> Notification:
    """The notification of ``out_trade_no`` that reached the server's webhook inbox (the
    notify_url of these tests, on the same server), verified by ``connector``."""

    def probe() -> Notification | None:
        for entry in inbox_entries(server):
            try:
                found = connector.parse_notification(entry["headers"], entry["body"].encode())
            except InvalidNotification:
                continue  # another channel's, or another payment's
            if found.payment is not None and found.payment.out_trade_no == out_trade_no:
                return found
        return None

    return wait_for(probe)


def pay_wechat_native(server: SandboxServer, connector: Connector) -> str:
    """A native payment through ``connector``: created, pending, paid at the simulator,
    succeeded. Its notification goes to the server's webhook inbox."""
    request = payment(Method.WECHAT_NATIVE, f"{server.sandbox_base_url}/webhook-inbox")
    action = connector.create_payment(request)
    assert action.kind is ActionKind.QR_CODE
    assert action.qr_code and action.qr_code.startswith(f"{server.wechat_control_url}/pay/")
    page = httpx.get(action.qr_code)  # the payer's pay page, at the public URL
    assert page.status_code == 200 and "Pay" in page.text
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING
    paid = httpx.post(
        f"{server.wechat_control_url}/simulator/pay",
        json={"out_trade_no": request.out_trade_no, "mchid": server.wechat_credentials.mchid},
    )
    assert paid.status_code == 200, paid.text
    done = connector.query_payment(request.out_trade_no)
    assert (done.status, done.amount_minor) == (PaymentStatus.SUCCEEDED, 1234)
    return request.out_trade_no


def test_the_mounted_simulators_serve_the_sandbox_accounts(db: Database, tmp_path: Path) -> None:
    with sandbox_server(db, tmp_path) as server:
        # WeChat Pay: the notification reaches this same server and verifies.
        wechat = server.connector(server.wechat_account_id)
        out_trade_no = pay_wechat_native(server, wechat)
        notice = notified(server, wechat, out_trade_no)
        assert notice.payment is not None and notice.payment.status is PaymentStatus.SUCCEEDED

        # Alipay: the trade exists once the payer opens the QR code.
        alipay = server.connector(server.alipay_account_id)
        request = payment(Method.ALIPAY_QR, f"{server.sandbox_base_url}/webhook-inbox")
        action = alipay.create_payment(request)
        assert action.kind is ActionKind.QR_CODE
        assert action.qr_code and action.qr_code.startswith(f"{server.alipay_control_url}/qr/")
        assert alipay.query_payment(request.out_trade_no).status is PaymentStatus.PENDING
        assert httpx.get(action.qr_code).status_code == 200  # the scan
        paid = httpx.post(
            f"{server.alipay_control_url}/simulator/pay",
            json={"out_trade_no": request.out_trade_no},
        )
        assert paid.status_code == 200, paid.text
        done = alipay.query_payment(request.out_trade_no)
        assert (done.status, done.amount_minor) == (PaymentStatus.SUCCEEDED, 1234)
        notice = notified(server, alipay, request.out_trade_no)
        assert notice.payment is not None and notice.payment.status is PaymentStatus.SUCCEEDED

        # The services of the app point load_connector at the mounted simulators.
        services: Services = server.app.state.services
        assert services.sandbox_base_url == server.sandbox_base_url
        assert server.settings.sandbox_base_url == server.sandbox_base_url
        index = httpx.get(f"{server.sandbox_base_url}/").json()
        assert index["alipay_gateway"] == f"{server.alipay_control_url}/gateway.do"


def test_another_merchant_gets_sandbox_accounts_with_the_same_credentials(
    db: Database, tmp_path: Path
) -> None:
    with sandbox_server(db, tmp_path) as server:
        with unit_of_work(db) as session:
            other = merchants.create_merchant(
                session, name="Other shop", kind=MerchantKind.MERCHANT, parent_id=None, actor="t"
            ).id
        env = {
            "PAYDESK_DATABASE_URL": db.url,
            "PAYDESK_DATA_DIR": str(tmp_path / DATA_DIR_NAME),
            "PAYDESK_LOG_FORMAT": "console",
        }
        runner = CliRunner()
        args = ["channels", "sandbox-account", "--merchant", other, "--channel", "wechatpay"]
        first = runner.invoke(cli, args, env=env)
        assert first.exit_code == 0, first.output
        created = re.search(r"^created sandbox wechatpay account (cha_\w+)", first.output, re.M)
        assert created, first.output
        account_id = created.group(1)
        again = runner.invoke(cli, args, env=env)
        assert again.exit_code == 0
        assert f"found sandbox wechatpay account {account_id}" in again.output
        named = runner.invoke(
            cli,
            [*args[:-1], "alipay", "--name", "Ali test"],
            env=env,
        )
        assert named.exit_code == 0 and "(Ali test)" in named.output
        clash = runner.invoke(
            cli,
            [*args[:-1], "alipay", "--name", "WeChat Pay sandbox"],
            env=env,
        )
        assert clash.exit_code == 1 and "channel_account_name_taken" in clash.output

        with unit_of_work(db, read_only=True) as session:
            mine = channel_service.get_account(
                session, server.merchant_id, server.wechat_account_id
            )
            theirs = channel_service.get_account(session, other, account_id)
        assert theirs.mode == ChannelAccountMode.SANDBOX
        assert theirs.public_fields["mchid"] == mine.public_fields["mchid"]
        # Both merchants pay through the one simulated merchant number.
        pay_wechat_native(server, server.connector(account_id, merchant_id=other))
        pay_wechat_native(server, server.connector(server.wechat_account_id))


def test_sandbox_keys_survive_a_restart(db: Database, tmp_path: Path) -> None:
    with sandbox_server(db, tmp_path) as first:
        pay_wechat_native(first, first.connector(first.wechat_account_id))
    stored = tmp_path / DATA_DIR_NAME / sandbox_credentials.FILE_NAME
    assert stored.stat().st_mode & 0o077 == 0

    with sandbox_server(db, tmp_path) as second:
        assert second.wechat_credentials == first.wechat_credentials
        assert second.alipay_credentials == first.alipay_credentials
        # The first server's merchant and accounts, stored in the database, still work.
        old = second.connector(first.wechat_account_id, merchant_id=first.merchant_id)
        pay_wechat_native(second, old)
        keys = second.sandbox.keys()
        with unit_of_work(db) as session:
            ensured = ensure_sandbox_account(
                session,
                first.merchant_id,
                "wechatpay",
                keys=keys,
                secret=second.settings.secret(),
                actor="test",
            )
        assert (ensured.account.id, ensured.outcome) == (first.wechat_account_id, Outcome.FOUND)

    # Keys made again (the file was lost): the same identities, and the stored accounts take
    # the new keys by rotation.
    stored.unlink()
    with sandbox_server(db, tmp_path) as third:
        assert third.wechat_credentials.mchid == first.wechat_credentials.mchid
        assert third.alipay_credentials.app_id == first.alipay_credentials.app_id
        assert third.wechat_credentials.apiv3_key != first.wechat_credentials.apiv3_key
        with unit_of_work(db) as session:
            for channel in ("wechatpay", "alipay"):
                ensured = ensure_sandbox_account(
                    session,
                    first.merchant_id,
                    channel,
                    keys=third.sandbox.keys(),
                    secret=third.settings.secret(),
                    actor="test",
                )
                assert ensured.outcome is Outcome.ROTATED
        pay_wechat_native(third, third.connector(first.wechat_account_id, first.merchant_id))


def test_a_damaged_keys_file_stops_start_up(db: Database, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / sandbox_credentials.FILE_NAME).write_text("{not json")
    settings = load_settings(database_url=db.url, data_dir=data, sandbox_enabled=True)
    with pytest.raises(SandboxCredentialsError, match=sandbox_credentials.FILE_NAME):
        create_app(settings, db, run_worker=False)


def test_the_webhook_inbox_records_what_is_posted(db: Database, tmp_path: Path) -> None:
    with sandbox_server(db, tmp_path) as server:
        inbox = f"{server.sandbox_base_url}/webhook-inbox"
        body = json.dumps({"type": "order.succeeded", "data": {"id": "ord_1"}})
        answer = httpx.post(
            f"{inbox}?attempt=1",
            content=body,
            headers={"Content-Type": "application/json", "Paydesk-Signature": "t=1,v1=abc"},
        )
        assert answer.status_code == 200 and answer.json() == {"received": 1}
        httpx.post(inbox, content=b"\xff\xfe binary")

        newest, oldest = inbox_entries(server)
        assert oldest["body"] == body and oldest["query"] == "attempt=1"
        assert oldest["headers"]["paydesk-signature"] == "t=1,v1=abc"
        assert (oldest["method"], oldest["number"]) == ("POST", 1)
        assert newest["body_encoding"] == "base64"

        page = httpx.get(inbox, headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "order.succeeded" in page.text and "<script" not in page.text

        with httpx.Client() as client:  # one connection for them all
            for number in range(INBOX_SIZE):
                client.post(inbox, content=f"n{number}")
        kept = inbox_entries(server)
        assert len(kept) == INBOX_SIZE and kept[0]["body"] == f"n{INBOX_SIZE - 1}"
        assert httpx.delete(inbox).status_code == 204
        assert inbox_entries(server) == []


def test_without_the_sandbox_nothing_is_mounted(db: Database, tmp_path: Path) -> None:
    settings = load_settings(database_url=db.url, data_dir=tmp_path / "data", sandbox_enabled=False)
    assert settings.sandbox_base_url is None
    app = create_app(settings, db, run_worker=False)
    services: Services = app.state.services
    assert services.sandbox_base_url is None and app.state.sandbox is None

    keys = sandbox_credentials.generate()
    with unit_of_work(db) as session:
        merchant = merchants.create_merchant(
            session, name="Shop", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        ).id
        account = ensure_sandbox_account(
            session, merchant, "wechatpay", keys=keys, secret=services.secret, actor="test"
        ).account.id
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in (
            "/sandbox/",
            "/sandbox/wechatpay/v3/pay/transactions/native",
            "/sandbox/alipay/gateway.do",
            "/sandbox/webhook-inbox",
        ):
            assert client.get(path).status_code == 404, path
        assert client.post("/sandbox/webhook-inbox", content=b"x").status_code == 404
    with unit_of_work(db, read_only=True) as session, pytest.raises(SandboxUnavailable):
        channel_service.load_connector(
            session,
            merchant,
            account,
            secret=services.secret,
            sandbox_base_url=services.sandbox_base_url,
        )
    assert not (tmp_path / "data" / sandbox_credentials.FILE_NAME).exists()
