"""The ``paydesk`` command line against both databases."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from paydesk.cli.main import app
from paydesk.db.engine import Database

runner = CliRunner()
SECRET = re.compile(r"pd_(test|live|admin)_sk_[A-Za-z0-9]{40}")


@pytest.fixture
def env(db: Database, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "PAYDESK_DATABASE_URL": db.url,
        "PAYDESK_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "PAYDESK_LOG_FORMAT": "console",
    }


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_every_command_has_help() -> None:
    for args in (
        [],
        ["serve"],
        ["worker"],
        ["migrate"],
        ["demo"],
        ["merchants", "create"],
        ["merchants", "list"],
        ["keys", "create"],
        ["keys", "revoke"],
        ["jobs", "list"],
        ["jobs", "retry"],
        ["wallet", "recharge"],
        ["ledger", "balance"],
        ["channels", "add"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_merchants_and_keys_lifecycle(env: dict[str, str]) -> None:
    code, out = _run(env, "migrate")
    assert code == 0 and "already current" in out
    code, out = _run(env, "merchants", "create", "Acme", "--kind", "agent")
    assert code == 0, out
    agent_id = re.search(r"mch_\w+", out).group(0)  # type: ignore[union-attr]
    code, out = _run(
        env, "merchants", "create", "Acme Store", "--kind", "store", "--parent", agent_id
    )
    assert code == 0, out
    code, out = _run(env, "merchants", "list", "--parent", agent_id)
    assert "Acme Store" in out and "store" in out

    code, out = _run(env, "keys", "create", "--merchant", agent_id, "--mode", "live")
    assert code == 0, out
    secret = SECRET.search(out)
    assert secret and secret.group(1) == "live"
    key_id = re.search(r"key_\w+", out).group(0)  # type: ignore[union-attr]
    code, out = _run(env, "keys", "revoke", key_id)
    assert code == 0 and "revoked" in out
    code, out = _run(env, "keys", "revoke", key_id)
    assert code == 1 and "api_key_already_revoked" in out


def test_clear_errors_without_tracebacks(env: dict[str, str]) -> None:
    code, out = _run(env, "merchants", "create", "X", "--parent", "mch_missing")
    assert code == 1
    assert "invalid_parent" in out and "Traceback" not in out
    code, out = _run(env, "keys", "create", "--merchant", "mch_missing")
    assert code == 1 and "merchant_not_found" in out
    code, out = _run(env, "keys", "create")
    assert code != 0 and "--merchant or --admin" in out
    code, out = _run({**env, "PAYDESK_PORT": "nope"}, "merchants", "list")
    assert code == 2 and "PAYDESK_PORT" in out


def test_demo_rotates_its_keys(env: dict[str, str]) -> None:
    code, first = _run(env, "demo")
    assert code == 0, first
    assert "created" in first
    first_keys = {m.group(0) for m in SECRET.finditer(first)}
    assert len(first_keys) == 2
    code, second = _run(env, "demo")
    assert code == 0 and "found" in second
    second_keys = {m.group(0) for m in SECRET.finditer(second)}
    assert len(second_keys) == 2 and not first_keys & second_keys
    code, out = _run(env, "keys", "list")
    assert out.count("demo") >= 4


def test_wallet_commands(env: dict[str, str], db: Database) -> None:
    from paydesk.db.uow import unit_of_work
    from paydesk.merchants import service
    from paydesk.merchants.models import MerchantKind

    with unit_of_work(db) as session:
        merchant = service.create_merchant(
            session, name="Game", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        )
        app_id = service.create_app(session, merchant.id, "Game app", actor="test").id
    code, out = _run(
        env, "wallet", "recharge", "u1", "CNY", "500", "--reference", "r1", "--app", app_id
    )
    assert code == 0, out
    code, out = _run(
        env, "wallet", "recharge", "u1", "CNY", "500", "--reference", "r1", "--app", app_id
    )
    assert code == 0 and "replayed" in out
    code, out = _run(
        env, "wallet", "consume", "u1", "CNY", "900", "--reference", "r2", "--app", app_id
    )
    assert code == 1 and "exceeds_floor" in out
    code, out = _run(
        env, "wallet", "consume", "u1", "CNY", "200", "--reference", "r3", "--app", app_id
    )
    assert code == 0, out
    code, out = _run(env, "wallet", "balance", "u1", "--app", app_id)
    assert code == 0 and "300" in out and "500" in out  # balance, and saved in the totals
    code, out = _run(
        env, "wallet", "transfer", "u1", "u2", "CNY", "50", "--reference", "t1", "--app", app_id
    )
    assert code == 0 and "250" in out, out
    code, out = _run(
        env, "wallet", "withdraw", "u1", "CNY", "100", "--reference", "w1", "--app", app_id
    )
    assert code == 0 and "reserved hold" in out, out
    hold_id = re.search(r"hld_\w+", out).group(0)  # type: ignore[union-attr]
    code, out = _run(env, "wallet", "payout", hold_id)
    assert code == 0 and "posted hold" in out, out
    code, out = _run(env, "wallet", "payout", hold_id, "--failed")
    assert code == 1 and "hold_not_pending" in out
    code, out = _run(env, "wallet", "freeze", "u1", "--app", app_id)
    assert code == 0 and "froze 1 account" in out


def test_routing_policy_set_and_show(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _run(env, "migrate")
    code, out = _run(env, "merchants", "create", "Router shop")
    assert code == 0, out
    merchant_id = re.search(r"mch_\w+", out).group(0)  # type: ignore[union-attr]
    code, out = _run(env, "routing", "show", "--merchant", merchant_id)
    assert code == 0, out
    assert '"version": 0' in out and '"default_strategy": "success_rate"' in out

    folder = tmp_path_factory.mktemp("policy")
    good = folder / "policy.json"
    good.write_text('{"default_strategy": "least_cost", "costs": {"cha_x": {"rate_bps": 55}}}')
    code, out = _run(env, "routing", "set", "--merchant", merchant_id, "--file", str(good))
    assert code == 0, out
    assert "version 1" in out

    bad = folder / "bad.json"
    bad.write_text('{"rules": [{"name": "w", "strategy": "weighted"}]}')
    code, out = _run(env, "routing", "set", "--merchant", merchant_id, "--file", str(bad))
    assert code == 1
    assert "needs weights" in out and "invalid_routing_policy" in out

    code, out = _run(env, "routing", "show", "--merchant", merchant_id)
    assert '"version": 1' in out and '"default_strategy": "least_cost"' in out
