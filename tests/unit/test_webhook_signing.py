"""Webhook signatures and the retry schedule: pure functions, no database."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from paydesk.webhooks import retries, signing
from paydesk.webhooks.signing import (
    SignatureHeaderInvalid,
    SignatureMismatch,
    SignatureTimestampInvalid,
    sign,
    verify,
)

SECRET = "whsec_" + "k" * 43
NOW = 1_800_000_000
BODY = signing.event_body(
    event_id="evt_1",
    event_type="order.succeeded",
    created=NOW - 5,
    livemode=False,
    data={"object": "order", "id": "ord_1", "amount": 100, "subject": "Café"},
)


def test_body_is_compact_sorted_json_of_the_event() -> None:
    assert json.loads(BODY) == {
        "id": "evt_1",
        "type": "order.succeeded",
        "created": NOW - 5,
        "livemode": False,
        "data": {"object": "order", "id": "ord_1", "amount": 100, "subject": "Café"},
    }
    assert BODY.startswith(b'{"created":')
    assert b", " not in BODY and b": " not in BODY
    assert "Café".encode() in BODY  # UTF-8, not \\u escapes


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(SECRET, BODY, NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert verify(SECRET, header, BODY, now=NOW) == NOW
    assert verify(SECRET, header, BODY.decode(), now=NOW + 299) == NOW  # str body too


def test_tampered_body_fails() -> None:
    header = sign(SECRET, BODY, NOW)
    tampered = BODY.replace(b'"amount":100', b'"amount":999')
    with pytest.raises(SignatureMismatch):
        verify(SECRET, header, tampered, now=NOW)


def test_tampered_timestamp_fails() -> None:
    digest = sign(SECRET, BODY, NOW).split(",")[1]
    with pytest.raises(SignatureMismatch):
        verify(SECRET, f"t={NOW + 60},{digest}", BODY, now=NOW + 60)


def test_wrong_secret_fails() -> None:
    header = sign(SECRET, BODY, NOW)
    with pytest.raises(SignatureMismatch) as caught:
        verify(signing.new_secret(), header, BODY, now=NOW)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("offset_s", [-301, 301, -86400])
def test_timestamp_outside_tolerance_fails(offset_s: int) -> None:
    header = sign(SECRET, BODY, NOW)
    with pytest.raises(SignatureTimestampInvalid):
        verify(SECRET, header, BODY, now=NOW + offset_s)
    assert verify(SECRET, header, BODY, now=NOW + offset_s, tolerance_s=86400) == NOW


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        f"t={NOW}",
        f"t=abc,v1={'0' * 64}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        "garbage",
        f"t={NOW},v1=" + "0" * 2000,
    ],
)
def test_malformed_header_fails(header: str | None) -> None:
    with pytest.raises(SignatureHeaderInvalid):
        verify(SECRET, header, BODY, now=NOW)


def test_any_matching_v1_signature_is_enough() -> None:
    good = sign(SECRET, BODY, NOW).split(",")[1]
    header = f"t={NOW},v1={'0' * 64},{good},v0=ignored"
    assert verify(SECRET, header, BODY, now=NOW) == NOW


def test_secrets_are_fresh_and_well_formed() -> None:
    made = {signing.new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 43
        assert signing.secret_display(secret) == secret[:10]


def test_headers_of_a_delivery() -> None:
    headers = signing.delivery_headers(
        SECRET, BODY, event_id="evt_1", event_type="order.succeeded", timestamp=NOW
    )
    assert headers == {
        "Paydesk-Signature": sign(SECRET, BODY, NOW),
        "Paydesk-Event-Id": "evt_1",
        "Paydesk-Event-Type": "order.succeeded",
        "Content-Type": "application/json",
        "User-Agent": "Paydesk-Webhooks/1",
    }


def test_retry_schedule_spans_about_a_day() -> None:
    assert retries.ATTEMPTS_MAX == 12
    assert retries.schedule_span_s() == 85_860  # 23 h 51 min
    assert 21 * 3600 < retries.schedule_span_s(-0.1) < retries.schedule_span_s(0.1) < 27 * 3600
    rng = random.Random(7)
    for attempt, nominal in enumerate(retries.RETRY_DELAYS_S, start=1):
        delay = retries.retry_delay_s(attempt, rng)
        assert nominal * 0.9 <= delay <= nominal * 1.1
    assert 18000 * 0.9 <= retries.retry_delay_s(40, rng) <= 18000 * 1.1
    with pytest.raises(ValueError):
        retries.retry_delay_s(0)
