"""The embedded default as a user runs it: migrate, demo, serve; real processes, real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import free_port

STARTUP_TIMEOUT_S = 30


def _paydesk(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "paydesk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_migrate_demo_serve_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PAYDESK_DATA_DIR": str(tmp_path / "var"),
        "PAYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'paydesk.db'}",
        "PAYDESK_PORT": str(port),
    }
    assert "-> " in _paydesk("migrate", env=env)
    demo = _paydesk("demo", env=env)
    test_key = re.search(r"pd_test_sk_\w+", demo).group(0)  # type: ignore[union-attr]
    admin_key = re.search(r"pd_admin_sk_\w+", demo).group(0)  # type: ignore[union-attr]
    # Both sandbox channel accounts, made once, with the quick start to try them.
    sandbox_accounts = re.findall(
        r"^  (wechatpay|alipay|qqwallet|unionpay) +(cha_\w+) .*\(created\)", demo, re.M
    )
    assert [c for c, _ in sandbox_accounts] == [
        "wechatpay",
        "alipay",
        "qqwallet",
        "unionpay",
    ], demo
    assert f"KEY={test_key}" in demo and '{"method": "wechat_native"}' in demo
    assert f"http://127.0.0.1:{port}/sandbox/webhook-inbox" in demo
    again = _paydesk("demo", env=env)
    assert re.findall(
        r"^  (wechatpay|alipay|qqwallet|unionpay) +(cha_\w+) .*\(found\)", again, re.M
    ) == (sandbox_accounts)
    test_key = re.search(r"pd_test_sk_\w+", again).group(0)  # type: ignore[union-attr]
    admin_key = re.search(r"pd_admin_sk_\w+", again).group(0)  # type: ignore[union-attr]
    keys_file = tmp_path / "var" / "sandbox-credentials.json"
    assert keys_file.stat().st_mode & 0o077 == 0

    server = subprocess.Popen(
        [sys.executable, "-m", "paydesk", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        me = httpx.get(f"{base}/v1/merchant", headers={"Authorization": f"Bearer {test_key}"})
        assert me.json()["name"] == "Demo Shop"
        merchants = httpx.get(
            f"{base}/v1/merchants", headers={"Authorization": f"Bearer {admin_key}"}
        ).json()["data"]
        assert "Demo Shop" in {m["name"] for m in merchants}
        assert httpx.get(f"{base}/openapi.json").status_code == 200
        accounts = httpx.get(
            f"{base}/v1/channel-accounts", headers={"Authorization": f"Bearer {test_key}"}
        ).json()["data"]
        assert {(a["channel"], a["id"], a["mode"]) for a in accounts} == {
            (channel, account_id, "sandbox") for channel, account_id in sandbox_accounts
        }
        unsigned = httpx.get(f"{base}/sandbox/wechatpay/v3/pay/transactions/id/1?mchid=1")
        assert unsigned.json()["code"] == "SIGN_ERROR"  # the simulator itself answers
        assert httpx.get(f"{base}/sandbox/webhook-inbox").json()["data"] == []
        _pay_as_the_quick_start_says(base, test_key)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in output
    assert '"event": "http_request"' in output  # JSON logs


def _pay_as_the_quick_start_says(base: str, key: str) -> None:
    """Create an order, pay it with WeChat Pay in the sandbox by pressing Pay on the page its
    QR code points at, and see the order paid and its webhook in the inbox."""
    auth = {"Authorization": f"Bearer {key}"}
    inbox = f"{base}/sandbox/webhook-inbox"
    order = httpx.post(
        f"{base}/v1/orders",
        json={
            "merchant_order_no": "demo-1",
            "amount": 100,
            "currency": "CNY",
            "subject": "Demo",
            "notify_url": inbox,
        },
        headers=auth,
    ).json()
    paying = httpx.post(
        f"{base}/v1/orders/{order['id']}/pay", json={"method": "wechat_native"}, headers=auth
    )
    assert paying.status_code == 200, paying.text
    qr_code = paying.json()["attempt"]["action"]["qr_code"]
    assert "Pay" in httpx.get(qr_code).text
    pressed = httpx.post(qr_code, data={"openid": "demo-payer", "outcome": "SUCCESS"})
    assert pressed.status_code == 200, pressed.text
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while httpx.get(f"{base}/v1/orders/{order['id']}", headers=auth).json()["status"] != (
        "succeeded"
    ):
        assert time.monotonic() < deadline, "the order was not paid"
        time.sleep(0.2)
    while not any(
        '"order.succeeded"' in entry["body"] for entry in httpx.get(inbox).json()["data"]
    ):
        assert time.monotonic() < deadline, "no webhook reached the inbox"
        time.sleep(0.2)
