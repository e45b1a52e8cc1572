"""Channel accounts through the API, the service and the CLI, on both databases.

Credentials are generated at run time by the simulators; none is committed. Every response is
searched for the secrets it must not contain, and the stored column for plaintext.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paydesk.channels.accounts import service
from paydesk.channels.accounts.errors import (
    ChannelAccountDisabled,
    CredentialsUnreadable,
    SandboxUnavailable,
)
from paydesk.channels.accounts.models import ChannelAccount
from paydesk.channels.accounts.registry import CHANNELS
from paydesk.channels.alipay import AlipayConnector
from paydesk.channels.base import ActionKind, Method, PaymentRequest, PaymentStatus
from paydesk.channels.wechatpay import WECHATPAY_GATEWAY_URL, WeChatPayConnector
from paydesk.cli.main import app as cli
from paydesk.core import crypto
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.merchants import service as merchants
from paydesk.merchants.models import AuditEvent, MerchantKind
from paydesk.simulators import alipay as alipay_sim
from paydesk.simulators import wechatpay as wechat_sim
from tests.integration.conftest import World
from tests.simulators.wechatpay_support import new_number, pay
from tests.support.server import serving

PATH = "/v1/channel-accounts"
UNREACHABLE_NOTIFY_URL = "http://127.0.0.1:9/notify"


def wechat_fields(creds: wechat_sim.TestCredentials) -> dict[str, str]:
    names = CHANNELS["wechatpay"].credentials.model_fields
    return {name: getattr(creds, name) for name in names}


def alipay_fields(creds: alipay_sim.SandboxCredentials) -> dict[str, str]:
    return {
        "app_id": creds.app_id,
        "app_private_key_pem": creds.app_private_key_pem,
        "alipay_public_key_pem": creds.platform_public_key_pem,
        "seller_id": creds.seller_id,
    }


@pytest.fixture(scope="module")
def wechat() -> wechat_sim.TestCredentials:
    return wechat_sim.generate_test_credentials()


@pytest.fixture(scope="module")
def alipay() -> alipay_sim.SandboxCredentials:
    return alipay_sim.generate_test_credentials()


def secret_pieces(channel: str, fields: dict[str, str]) -> list[str]:
    """Each secret, and each base64 line of a secret PEM (a JSON body escapes newlines)."""
    pieces = []
    for name in CHANNELS[channel].secret_fields:
        pieces.append(fields[name])
        pieces.extend(line for line in fields[name].splitlines() if len(line) >= 32)
    return pieces


def assert_no_secret(text: str, channel: str, fields: dict[str, str]) -> None:
    assert "PRIVATE KEY" not in text
    for piece in secret_pieces(channel, fields):
        assert piece not in text


def create(
    client: TestClient, headers: dict[str, str], channel: str, fields: dict[str, Any], **body: Any
) -> Any:
    payload = {"channel": channel, "name": f"{channel} main", "mode": "sandbox", **body}
    return client.post(PATH, json={**payload, "credentials": fields}, headers=headers)


def server_secret(client: TestClient) -> str:
    secret: str = client.app.state.services.secret  # type: ignore[attr-defined]
    return secret


# --- create and read back ---------------------------------------------------------------------
def test_accounts_are_created_and_read_back_without_secrets(
    client: TestClient, world: World, wechat: Any, alipay: Any
) -> None:
    a = world.a.headers
    fields = {"wechatpay": wechat_fields(wechat), "alipay": alipay_fields(alipay)}
    made = {}
    for channel, values in fields.items():
        keyed = {**a, "Idempotency-Key": f"create-{channel}"}
        response = create(client, keyed, channel, values)
        assert response.status_code == 201, response.text
        assert_no_secret(response.text, channel, values)
        replay = create(client, keyed, channel, values)
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json() == response.json()
        made[channel] = response.json()

    account = made["wechatpay"]
    assert account["id"].startswith("cha_") and account["merchant_id"] == world.a.merchant_id
    assert (account["mode"], account["status"]) == ("sandbox", "active")
    assert account["public_fields"] == {
        "mchid": wechat.mchid,
        "appid": wechat.appid,
        "merchant_cert_serial_no": wechat.merchant_cert_serial_no,
        "public_key_id": wechat.public_key_id,
    }
    assert account["secret_fields_set"] == ["merchant_private_key_pem", "apiv3_key"]
    assert re.fullmatch(r"[0-9a-f]{16}", account["credentials_fingerprint"])
    assert made["alipay"]["public_fields"] == {
        "app_id": alipay.app_id,
        "seller_id": alipay.seller_id,
    }
    assert made["alipay"]["secret_fields_set"] == ["app_private_key_pem"]

    listed = client.get(PATH, headers=a)
    assert [x["id"] for x in listed.json()["data"]] == [
        made["wechatpay"]["id"],
        made["alipay"]["id"],
    ]
    only_alipay = client.get(f"{PATH}?channel=alipay", headers=a).json()["data"]
    assert [x["id"] for x in only_alipay] == [made["alipay"]["id"]]
    one = client.get(f"{PATH}/{account['id']}", headers=a)
    assert one.json() == account
    for text in (listed.text, one.text):
        for channel, values in fields.items():
            assert_no_secret(text, channel, values)

    again = create(client, a, "wechatpay", fields["wechatpay"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "channel_account_name_taken"


def test_stored_credentials_are_encrypted_for_their_row_only(
    client: TestClient, world: World, db: Database, wechat: Any, alipay: Any
) -> None:
    fields = wechat_fields(wechat)
    first = create(client, world.a.headers, "wechatpay", fields).json()["id"]
    other = create(client, world.a.headers, "alipay", alipay_fields(alipay)).json()["id"]
    with db.engine.connect() as connection:
        stored, shown = connection.execute(
            sa.select(ChannelAccount.credentials_encrypted, ChannelAccount.public_fields).where(
                ChannelAccount.id == first
            )
        ).one()
    assert stored.startswith("v1:") and "-----BEGIN" not in stored  # never in base64
    for piece in secret_pieces("wechatpay", fields):
        assert piece not in stored
    assert set(shown) == {"mchid", "appid", "merchant_cert_serial_no", "public_key_id"}

    secret = server_secret(client)
    plain = json.loads(crypto.decrypt(secret, stored, context=f"channel-account:{first}"))
    assert plain == fields
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(secret, stored, context=f"channel-account:{other}")


# --- refused input ----------------------------------------------------------------------------
def _bad_cases(wechat: Any) -> list[tuple[dict[str, Any], str]]:
    """Credentials that must be refused, and the field the answer must name."""
    good = wechat_fields(wechat)
    private, public = "merchant_private_key_pem", "platform_public_key_pem"
    return [
        ({k: v for k, v in good.items() if k != "apiv3_key"}, "apiv3_key"),
        ({**good, "apiv3_key": "short"}, "apiv3_key"),
        ({**good, "api_key": "x" * 32}, "api_key"),
        ({**good, "mchid": "19 12"}, "mchid"),
        ({**good, private: good[private][:300]}, private),
        ({**good, private: good[public]}, private),
        ({**good, public: "-----BEGIN PUBLIC KEY-----\nAAAA\n"}, public),
    ]


def test_bad_credentials_are_refused_naming_the_field(
    client: TestClient, world: World, wechat: Any
) -> None:
    for fields, field in _bad_cases(wechat):
        response = create(client, world.a.headers, "wechatpay", fields)
        assert response.status_code == 400, field
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("invalid_credentials", f"credentials.{field}")
        assert_no_secret(response.text, "wechatpay", wechat_fields(wechat))
    response = create(client, world.a.headers, "paypal", wechat_fields(wechat))
    assert (response.status_code, response.json()["error"]["param"]) == (400, "channel")
    assert response.json()["error"]["code"] == "unknown_channel"
    response = create(client, world.a.headers, "wechatpay", wechat_fields(wechat), mode="real")
    assert (response.status_code, response.json()["error"]["param"]) == (400, "mode")
    assert client.get(PATH, headers=world.a.headers).json()["data"] == []


# --- tenancy, modes, rotation, status ---------------------------------------------------------
def test_another_merchant_sees_nothing(client: TestClient, world: World, wechat: Any) -> None:
    account = create(client, world.a.headers, "wechatpay", wechat_fields(wechat)).json()
    b = world.b.headers
    assert client.get(f"{PATH}/{account['id']}", headers=b).status_code == 404
    assert client.get(PATH, headers=b).json()["data"] == []
    rotate = {"credentials": wechat_fields(wechat)}
    for action, body in (("credentials", rotate), ("disable", None), ("enable", None)):
        response = client.post(f"{PATH}/{account['id']}/{action}", json=body, headers=b)
        assert response.status_code == 404, action
        assert response.json()["error"]["code"] == "channel_account_not_found"
    response = create(
        client, b, "wechatpay", wechat_fields(wechat), merchant_id=world.a.merchant_id
    )
    assert response.status_code == 404
    assert client.get(f"{PATH}/{account['id']}", headers=world.admin).status_code == 200


def test_test_keys_keep_to_sandbox_accounts(client: TestClient, world: World, wechat: Any) -> None:
    fields = wechat_fields(wechat)
    response = create(client, world.a.headers, "wechatpay", fields, mode="live")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "mode_not_allowed"
    live = create(
        client, world.admin, "wechatpay", fields, mode="live", merchant_id=world.a.merchant_id
    )
    assert live.status_code == 201, live.text
    response = client.post(f"{PATH}/{live.json()['id']}/disable", headers=world.a.headers)
    assert response.status_code == 403


def test_rotation_replaces_the_keys_but_not_the_account(
    client: TestClient, world: World, db: Database, wechat: Any
) -> None:
    a = world.a.headers
    account = create(client, a, "wechatpay", wechat_fields(wechat)).json()
    fresh = wechat_fields(wechat_sim.generate_test_credentials(mchid=wechat.mchid))
    fresh["appid"] = wechat.appid
    response = client.post(
        f"{PATH}/{account['id']}/credentials", json={"credentials": fresh}, headers=a
    )
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["credentials_fingerprint"] != account["credentials_fingerprint"]
    assert rotated["public_fields"]["public_key_id"] == fresh["public_key_id"]
    assert_no_secret(response.text, "wechatpay", fresh)

    other = {**fresh, "mchid": "1900000001"}
    response = client.post(
        f"{PATH}/{account['id']}/credentials", json={"credentials": other}, headers=a
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (
        "channel_account_identity_changed",
        "credentials.mchid",
    )
    with unit_of_work(db, read_only=True) as session:
        actions = session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.target_id == account["id"])
        ).all()
    assert sorted(actions) == ["channel_account.created", "channel_account.credentials_rotated"]


def test_disable_and_enable(client: TestClient, world: World, db: Database, wechat: Any) -> None:
    a = world.a.headers
    account_id = create(client, a, "wechatpay", wechat_fields(wechat)).json()["id"]
    secret = server_secret(client)
    disabled = client.post(f"{PATH}/{account_id}/disable", headers=a)
    assert (disabled.status_code, disabled.json()["status"]) == (200, "disabled")
    assert client.post(f"{PATH}/{account_id}/disable", headers=a).json()["status"] == "disabled"
    with unit_of_work(db, read_only=True) as session, pytest.raises(ChannelAccountDisabled):
        service.load_connector(
            session, world.a.merchant_id, account_id, secret=secret, sandbox_base_url="http://x"
        )
    enabled = client.post(f"{PATH}/{account_id}/enable", headers=a)
    assert (enabled.status_code, enabled.json()["status"]) == (200, "active")
    with unit_of_work(db, read_only=True) as session:
        actions = session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.target_id == account_id)
        ).all()
    assert actions.count("channel_account.disabled") == 1
    assert actions.count("channel_account.active") == 1


# --- connectors -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(wechat: Any, alipay: Any) -> Iterator[str]:
    """Both simulators mounted as Paydesk mounts them; yields the sandbox base URL."""
    wechat_app = wechat_sim.create_simulator(
        wechat.simulator_config(retry_schedule_s=(), notify_timeout_s=1.0)
    )
    alipay_app = alipay_sim.create_simulator(
        alipay.simulator_config(
            notify_retry_schedule_s=(), notify_timeout_s=1.0, trade_visible_before_scan=True
        )
    )
    host = FastAPI()
    host.mount("/sandbox/wechatpay", wechat_app)
    host.mount("/sandbox/alipay", alipay_app)
    try:
        with serving(host) as base:
            yield f"{base}/sandbox"
    finally:
        wechat_app.state.simulator.close()
        alipay_sim.simulator_of(alipay_app).close()


def payment(method: Method) -> PaymentRequest:
    return PaymentRequest(
        out_trade_no=new_number("P"),
        amount_minor=1234,
        currency="CNY",
        subject="Gems 100",
        method=method,
        notify_url=UNREACHABLE_NOTIFY_URL,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )


def test_loaded_connectors_pay_through_the_sandbox(
    client: TestClient, world: World, db: Database, wechat: Any, alipay: Any, sandbox: str
) -> None:
    a, merchant_id, secret = world.a.headers, world.a.merchant_id, server_secret(client)
    wechat_id = create(client, a, "wechatpay", wechat_fields(wechat)).json()["id"]
    alipay_id = create(client, a, "alipay", alipay_fields(alipay)).json()["id"]
    with unit_of_work(db, read_only=True) as session:
        connector = service.load_connector(
            session, merchant_id, wechat_id, secret=secret, sandbox_base_url=sandbox
        )
        ali = service.load_connector(
            session, merchant_id, alipay_id, secret=secret, sandbox_base_url=sandbox
        )
    assert isinstance(connector, WeChatPayConnector) and isinstance(ali, AlipayConnector)

    request = payment(Method.WECHAT_NATIVE)
    action = connector.create_payment(request)
    assert action.kind is ActionKind.QR_CODE
    assert action.qr_code and action.qr_code.startswith(f"{sandbox}/wechatpay/pay/")
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING
    pay(f"{sandbox}/wechatpay", request.out_trade_no)
    paid = connector.query_payment(request.out_trade_no)
    assert (paid.status, paid.amount_minor, paid.currency) == (PaymentStatus.SUCCEEDED, 1234, "CNY")

    qr = payment(Method.ALIPAY_QR)
    assert ali.create_payment(qr).kind is ActionKind.QR_CODE
    assert ali.query_payment(qr.out_trade_no).status is PaymentStatus.PENDING


def test_load_connector_gateways_and_failures(
    client: TestClient, world: World, db: Database, wechat: Any
) -> None:
    fields, merchant_id = wechat_fields(wechat), world.a.merchant_id
    sandbox_id = create(client, world.a.headers, "wechatpay", fields).json()["id"]
    live = create(
        client, world.admin, "wechatpay", fields, name="live", mode="live", merchant_id=merchant_id
    )
    secret = server_secret(client)
    with unit_of_work(db, read_only=True) as session:
        connector = service.load_connector(
            session, merchant_id, live.json()["id"], secret=secret, sandbox_base_url="http://x"
        )
        assert isinstance(connector, WeChatPayConnector)
        assert connector.config.gateway_url == WECHATPAY_GATEWAY_URL
        assert wechat.apiv3_key not in repr(connector)
        with pytest.raises(SandboxUnavailable):
            service.load_connector(
                session, merchant_id, sandbox_id, secret=secret, sandbox_base_url=None
            )
        with pytest.raises(CredentialsUnreadable):
            service.load_connector(
                session, merchant_id, sandbox_id, secret="another", sandbox_base_url="http://x"
            )


# --- CLI --------------------------------------------------------------------------------------
def test_cli_adds_lists_and_disables(
    db: Database, tmp_path: Path, wechat: Any, alipay: Any
) -> None:
    runner = CliRunner()
    env = {
        "PAYDESK_DATABASE_URL": db.url,
        "PAYDESK_DATA_DIR": str(tmp_path / "data"),
        "PAYDESK_LOG_FORMAT": "console",
    }
    with unit_of_work(db) as session:
        merchant = merchants.create_merchant(
            session, name="Shop", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        ).id
    fields = wechat_fields(wechat)
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(fields))

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["channels", *args], env=env)
        return result.exit_code, result.output

    add = ("add", "--merchant", merchant, "--channel", "wechatpay", "--name", "Main")
    code, out = run(*add, "--mode", "sandbox", "--credentials-file", str(creds))
    assert code == 0, out
    assert_no_secret(out, "wechatpay", fields)
    account_id = re.search(r"cha_\w+", out).group(0)  # type: ignore[union-attr]
    assert f"mchid={wechat.mchid}" in out

    code, out = run("list", "--merchant", merchant)
    assert code == 0 and account_id in out and "active" in out
    assert_no_secret(out, "wechatpay", fields)
    code, out = run("disable", account_id)
    assert code == 0 and "disabled" in out
    code, out = run("list")
    assert "disabled" in out

    creds.write_text(json.dumps({**fields, "apiv3_key": "short"}))
    code, out = run(*add[:-1], "Other", "--credentials-file", str(creds))
    assert code == 1 and "invalid_credentials" in out and "Traceback" not in out
    code, out = run(*add[:-1], "Other", "--credentials-file", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot be read" in out
    creds.write_text("not json " + fields["apiv3_key"])
    code, out = run(*add[:-1], "Other", "--credentials-file", str(creds))
    assert code == 1 and "not a UTF-8 JSON file" in out and fields["apiv3_key"] not in out
