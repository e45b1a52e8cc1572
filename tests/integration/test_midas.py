"""The Midas API end to end through HTTP: a game is set up, buys a token, registers a session
key, and moves coins with signed calls; bad signatures, tokens and sessions change nothing;
zones, the sandbox and merchants stay apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paydesk.core import clock
from paydesk.db.engine import Database
from paydesk.midas.models import MidasConfig, MidasSession
from tests.integration.conftest import Tenant, World
from tests.support.midas_client import MidasClient

COINS = "GEM"
ALICE, ALICE_KEY = "o_alice", "V7Q38/i2KXaqrQyl2Yx9Hg=="


def _currency(client: TestClient, tenant: Tenant, code: str, kind: str = "coins") -> None:
    response = client.post(
        f"/v1/apps/{tenant.app_id}/currencies",
        json={"code": code, "exponent": 0, "name": code, "kind": kind},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text


def _configure(client: TestClient, tenant: Tenant, appid: str) -> dict[str, Any]:
    response = client.post(
        f"/v1/apps/{tenant.app_id}/midas",
        json={"appid": appid, "offer_id": "offer1", "currency": COINS},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _session(client: TestClient, tenant: Tenant, openid: str, key: str) -> None:
    response = client.post(
        f"/v1/apps/{tenant.app_id}/midas/sessions",
        json={"openid": openid, "session_key": key},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text


def _recharge(
    client: TestClient, tenant: Tenant, user: str, amount: int, reference: str, zone: str = "1"
) -> None:
    response = client.post(
        f"/v1/wallets/{user}/recharge",
        json={"currency": COINS, "amount": amount, "reference": reference, "zone": zone},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text


def _game(client: TestClient, tenant: Tenant, appid: str) -> MidasClient:
    _currency(client, tenant, COINS)
    config = _configure(client, tenant, appid)
    game = MidasClient(client, appid, "offer1", config["app_key"], config["app_secret"])
    assert game.fetch_token()["expires_in"] == 7200
    _session(client, tenant, ALICE, ALICE_KEY)
    game.session_keys[ALICE] = ALICE_KEY
    return game


@pytest.fixture
def game(client: TestClient, world: World) -> MidasClient:
    return _game(client, world.a, "wxgameA")


@pytest.fixture
def moved_clock() -> Iterator[list[timedelta]]:
    """``moved_clock[0] = timedelta(...)`` moves the server's clock."""
    offset = [timedelta(0)]
    clock.set_clock(lambda: datetime.now(UTC) + offset[0])
    try:
        yield offset
    finally:
        clock.set_clock(None)


def _balance(game: MidasClient, openid: str = ALICE, **kwargs: Any) -> tuple[int, int]:
    answer = game.call("getbalance", openid, **kwargs)
    assert answer["errcode"] == 0, answer
    return answer["balance"], answer["gen_balance"]


def test_setup_shows_secrets_once_and_stores_none_in_clear(
    client: TestClient, world: World, game: MidasClient, db: Database
) -> None:
    read = client.get(f"/v1/apps/{world.a.app_id}/midas", headers=world.a.headers)
    assert read.status_code == 200
    assert read.json()["appid"] == "wxgameA" and read.json()["currency"] == COINS
    assert "app_key" not in read.json() and "app_secret" not in read.json()
    with db.engine.connect() as connection:
        config = connection.execute(sa.select(MidasConfig)).one()
        stored_session = connection.execute(sa.select(MidasSession)).one()
    assert game.app_key not in config.app_key_encrypted
    assert config.app_secret_hash != game.app_secret
    assert ALICE_KEY not in stored_session.session_key_encrypted


def test_setup_needs_a_coins_currency_of_the_app(client: TestClient, world: World) -> None:
    _currency(client, world.a, "PTS", kind="points")
    for code in ("PTS", "NOPE"):
        response = client.post(
            f"/v1/apps/{world.a.app_id}/midas",
            json={"appid": "wxA", "offer_id": "o", "currency": code},
            headers=world.a.headers,
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "midas_currency_invalid"


def test_another_merchants_app_is_not_found(
    client: TestClient, world: World, game: MidasClient
) -> None:
    base = f"/v1/apps/{world.a.app_id}/midas"
    calls = [
        client.get(base, headers=world.b.headers),
        client.post(
            base, json={"appid": "wxB", "offer_id": "o", "currency": COINS}, headers=world.b.headers
        ),
        client.post(
            f"{base}/sessions", json={"openid": ALICE, "session_key": "k"}, headers=world.b.headers
        ),
    ]
    assert [response.status_code for response in calls] == [404, 404, 404]


def test_an_appid_belongs_to_one_app(client: TestClient, world: World, game: MidasClient) -> None:
    _currency(client, world.b, COINS)
    response = client.post(
        f"/v1/apps/{world.b.app_id}/midas",
        json={"appid": "wxgameA", "offer_id": "o", "currency": COINS},
        headers=world.b.headers,
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "midas_appid_taken"


def test_token_errors_in_wechat_shape(client: TestClient, game: MidasClient) -> None:
    def token(**params: str) -> Any:
        response = client.get("/cgi-bin/token", params=params)
        assert response.status_code == 200
        return response.json()

    good = {"grant_type": "client_credential", "appid": game.appid, "secret": game.app_secret}
    assert token(**{**good, "grant_type": "password"})["errcode"] == 40002
    assert token(**{**good, "appid": "wxnobody"}) == {"errcode": 40013, "errmsg": "invalid appid"}
    assert token(**{**good, "secret": "wrong"})["errcode"] == 40125
    assert token(grant_type="client_credential")["errcode"] == 40013
    assert set(token(**good)) == {"access_token", "expires_in"}


def test_present_recharge_pay_cancel(client: TestClient, world: World, game: MidasClient) -> None:
    presented = game.call("present", ALICE, bill_no="gift-1", present_counts=50)
    assert presented == {"errcode": 0, "errmsg": "ok", "bill_no": "gift-1", "balance": 50}
    assert game.call("present", ALICE, bill_no="gift-1", present_counts=50)["balance"] == 50
    _recharge(client, world.a, ALICE, 100, "order-1")
    assert game.call("getbalance", ALICE) == {
        "errcode": 0,
        "errmsg": "ok",
        "balance": 150,
        "gen_balance": 50,
        "first_save": 0,
        "save_amt": 100,
        "save_sum": 150,
        "cost_sum": 0,
        "present_sum": 50,
    }

    paid = game.call("pay", ALICE, bill_no="bill-1", amt=70)
    assert paid == {
        "errcode": 0,
        "errmsg": "ok",
        "bill_no": "bill-1",
        "balance": 80,
        "used_gen_amt": 50,
    }
    assert game.call("pay", ALICE, bill_no="bill-1", amt=70) == paid
    assert _balance(game) == (80, 0)
    assert game.call("pay", ALICE, bill_no="bill-1", amt=71)["errcode"] == 90012
    assert game.call("pay", ALICE, bill_no="bill-2", amt=81)["errcode"] == 90013
    assert _balance(game) == (80, 0)
    assert game.call("getbalance", ALICE)["cost_sum"] == 70

    cancelled = game.call("cancelpay", ALICE, bill_no="bill-1")
    assert cancelled == {"errcode": 0, "errmsg": "ok", "bill_no": "bill-1"}
    assert _balance(game) == (150, 50)
    assert game.call("cancelpay", ALICE, bill_no="bill-1") == cancelled
    assert _balance(game) == (150, 50)
    assert game.call("getbalance", ALICE)["cost_sum"] == 0
    assert game.call("pay", ALICE, bill_no="bill-1", amt=70)["errcode"] == 90015
    assert game.call("cancelpay", ALICE, bill_no="no-such-bill")["errcode"] == 90018
    assert _balance(game) == (150, 50)


def test_a_new_user_may_claim_a_first_save_bonus(game: MidasClient) -> None:
    answer = game.call("getbalance", ALICE)
    assert (answer["balance"], answer["first_save"], answer["save_amt"]) == (0, 1, 0)


def test_bad_sig_mp_sig_session_and_fields_change_nothing(game: MidasClient) -> None:
    game.call("present", ALICE, bill_no="gift-1", present_counts=40)

    def pay(**kwargs: Any) -> int:
        return int(game.call("pay", ALICE, **{"bill_no": "b", "amt": 10, **kwargs})["errcode"])

    assert pay(app_key="x" * 32) == 90011
    assert pay(after_signing={"amt": 1}) == 90011
    assert pay(after_signing={"sig": "0" * 64}) == 90011
    assert pay(session_key="not-alices-key") == 90009
    assert pay(after_signing={"mp_sig": "0" * 64}) == 90009
    assert pay(after_signing={"appid": "wxother"}) == 90017
    assert pay(after_signing={"offer_id": "other"}) == 90017
    assert pay(amt="10") == 90018
    assert pay(amt=0) == 90018
    assert pay(after_signing={"bill_no": None}) == 90018
    assert pay(ts=int(clock.now().timestamp()) - 601) == 90018
    bob = game.call("pay", "o_bob", bill_no="b", amt=10, session_key="bobs-key")
    assert bob["errcode"] == 90010
    malformed = game.http.post(
        "/cgi-bin/midas/pay", params={"access_token": game.access_token}, content=b"{not json"
    )
    assert malformed.json()["errcode"] == 90018
    assert _balance(game) == (40, 40)


def test_a_refreshed_session_key_replaces_the_old_one(
    client: TestClient, world: World, game: MidasClient
) -> None:
    _session(client, world.a, ALICE, "new-key")
    assert game.call("getbalance", ALICE)["errcode"] == 90009
    assert game.call("getbalance", ALICE, session_key="new-key")["errcode"] == 0


def test_invalid_expired_and_superseded_tokens(
    client: TestClient, world: World, game: MidasClient, moved_clock: list[timedelta]
) -> None:
    assert game.call("getbalance", ALICE, access_token="")["errcode"] == 40001
    assert game.call("getbalance", ALICE, access_token="forged")["errcode"] == 40001
    first = game.access_token
    game.fetch_token()
    assert game.call("getbalance", ALICE, access_token=first)["errcode"] == 0
    moved_clock[0] = timedelta(seconds=301)
    assert game.call("getbalance", ALICE, access_token=first)["errcode"] == 42001
    assert game.call("getbalance", ALICE)["errcode"] == 0
    moved_clock[0] = timedelta(seconds=7201)
    expired = game.call("getbalance", ALICE)
    assert expired == {"errcode": 42001, "errmsg": "access_token expired"}

    moved_clock[0] = timedelta(0)
    game.fetch_token()
    rotated = _configure(client, world.a, "wxgameA")
    assert game.call("getbalance", ALICE)["errcode"] == 40001
    game.app_key, game.app_secret = rotated["app_key"], rotated["app_secret"]
    game.fetch_token()
    assert game.call("getbalance", ALICE)["errcode"] == 0


def test_zones_partition_balances(client: TestClient, world: World, game: MidasClient) -> None:
    _recharge(client, world.a, ALICE, 30, "order-1", zone="1")
    assert game.call("pay", ALICE, bill_no="bill-1", amt=10, zone_id="1")["balance"] == 20
    assert _balance(game, zone_id="2") == (0, 0)
    assert game.call("pay", ALICE, bill_no="bill-2", amt=10, zone_id="2")["errcode"] == 90013
    assert game.call("cancelpay", ALICE, bill_no="bill-1", zone_id="2")["errcode"] == 90018
    assert _balance(game, zone_id="1") == (20, 0)
    assert game.call("getbalance", ALICE, zone_id="bad:zone")["errcode"] == 90018


def test_sandbox_and_live_never_mix(client: TestClient, world: World, game: MidasClient) -> None:
    _recharge(client, world.a, ALICE, 100, "order-1")
    assert _balance(game, sandbox=True) == (0, 0)
    assert game.call("pay", ALICE, bill_no="b1", amt=5, sandbox=True)["errcode"] == 90013
    sandbox_gift = game.call("present", ALICE, bill_no="g1", present_counts=20, sandbox=True)
    assert sandbox_gift["balance"] == 20
    assert _balance(game) == (100, 0)
    assert game.call("present", ALICE, bill_no="g1", present_counts=7)["balance"] == 107
    _recharge(client, world.a, ALICE, 5, "order-2", zone="sandbox:1")
    assert game.call("pay", ALICE, bill_no="b1", amt=25, sandbox=True)["balance"] == 0
    assert _balance(game) == (107, 7)
    # The URI is signed: a body signed for the live route is refused by the sandbox one.
    live_uri = "/cgi-bin/midas/getbalance"
    assert game.call("getbalance", ALICE, sandbox=True, signed_uri=live_uri)["errcode"] == 90011


def test_merchant_b_cannot_touch_merchant_a_users(
    client: TestClient, world: World, game: MidasClient
) -> None:
    game.call("present", ALICE, bill_no="gift-1", present_counts=50)
    other = _game(client, world.b, "wxgameB")
    other.session_keys[ALICE] = ALICE_KEY
    # B's token with A's appid and offer: no permission, whatever B signs with.
    as_a = MidasClient(client, game.appid, game.offer_id, game.app_key, "", other.access_token)
    as_a.session_keys[ALICE] = ALICE_KEY
    assert as_a.call("pay", ALICE, bill_no="steal", amt=50)["errcode"] == 90017
    assert as_a.call("getbalance", ALICE)["errcode"] == 90017
    # B's own config reaches B's own wallets only, where the same openid has nothing.
    assert other.call("pay", ALICE, bill_no="steal", amt=50)["errcode"] == 90013
    assert other.call("cancelpay", ALICE, bill_no="gift-1")["errcode"] == 90018
    assert _balance(game) == (50, 50)


def test_an_internal_error_answers_system_busy(
    game: MidasClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("paydesk.midas.flows.getbalance", broken)
    assert game.call("getbalance", ALICE) == {"errcode": -1, "errmsg": "system busy"}
