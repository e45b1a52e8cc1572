"""Midas signatures against the published test vector, and what a changed request does."""

from __future__ import annotations

import pytest

from paydesk.midas import signing

URI = "/cgi-bin/midas/getbalance"
APP_KEY = "zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u"
SESSION_KEY = "V7Q38/i2KXaqrQyl2Yx9Hg=="
PARAMS: dict[str, signing.ParamValue] = {
    "openid": "odkx20ENSNa2w5y3g_qOkOvBNM1g",
    "appid": "wx1234567",
    "offer_id": "12345678",
    "ts": 1507530737,
    "zone_id": "1",
    "pf": "android",
}
SIG = "1ad64e8dcb2ec1dc486b7fdf01f4a15159fc623dc3422470e51cf6870734726b"
MP_SIG = "ff4c5bb39dea1002a8f03be0438724e1a8bcea5ebce8f221f9b9fea3bcf3bf76"


def test_sig_reproduces_the_published_vector() -> None:
    assert signing.sig(PARAMS, URI, APP_KEY) == SIG


def test_mp_sig_reproduces_the_published_vector() -> None:
    everything = {**PARAMS, "access_token": "ACCESSTOKEN", "sig": SIG}
    assert signing.mp_sig(everything, URI, SESSION_KEY) == MP_SIG


def test_sig_ignores_the_signatures_and_the_token_in_its_input() -> None:
    given = {**PARAMS, "sig": "x", "mp_sig": "y", "access_token": "ACCESSTOKEN"}
    assert signing.sig(given, URI, APP_KEY) == SIG
    assert signing.mp_sig({**given, "sig": SIG}, URI, SESSION_KEY) == MP_SIG


def test_a_number_signs_like_its_digits() -> None:
    assert signing.sig({**PARAMS, "ts": "1507530737"}, URI, APP_KEY) == SIG


@pytest.mark.parametrize(
    ("name", "value"), [("zone_id", "2"), ("openid", "someone-else"), ("ts", 1507530738)]
)
def test_a_tampered_param_fails(name: str, value: signing.ParamValue) -> None:
    tampered = {**PARAMS, name: value}
    assert not signing.matches(signing.sig(tampered, URI, APP_KEY), SIG)
    everything = {**tampered, "access_token": "ACCESSTOKEN", "sig": SIG}
    assert not signing.matches(signing.mp_sig(everything, URI, SESSION_KEY), MP_SIG)


def test_an_added_param_the_uri_or_the_key_change_the_sig() -> None:
    assert signing.sig({**PARAMS, "user_ip": "1.2.3.4"}, URI, APP_KEY) != SIG
    assert signing.sig(PARAMS, "/cgi-bin/midas/sandbox/getbalance", APP_KEY) != SIG
    assert signing.sig(PARAMS, URI, APP_KEY[:-1] + "v") != SIG


def test_matches_is_exact_but_case_blind() -> None:
    assert signing.matches(SIG, SIG)
    assert signing.matches(SIG, SIG.upper())
    assert not signing.matches(SIG, SIG[:-1])
    assert not signing.matches(SIG, "")
    assert not signing.matches(SIG, "é" * 64)
