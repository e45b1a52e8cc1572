"""Secrets at rest: round trip, and every kind of tampering or mix-up is refused."""

from __future__ import annotations

import base64

import pytest

from paydesk.core.crypto import DecryptionFailed, decrypt, encrypt

SECRET = "s" * 48
CONTEXT = "midas.app_key:app_1"


def test_round_trip() -> None:
    stored = encrypt(SECRET, "zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u", CONTEXT)
    assert stored.startswith("v1:")
    assert "zNLg" not in stored
    assert decrypt(SECRET, stored, CONTEXT) == "zNLgAGgqsEWJOg1nFVaO5r7fAlIQxr1u"


def test_each_encryption_uses_a_new_nonce() -> None:
    assert encrypt(SECRET, "same", CONTEXT) != encrypt(SECRET, "same", CONTEXT)


def test_a_flipped_bit_is_detected() -> None:
    raw = bytearray(base64.b64decode(encrypt(SECRET, "session key", CONTEXT)[3:]))
    raw[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        decrypt(SECRET, "v1:" + base64.b64encode(bytes(raw)).decode(), CONTEXT)


@pytest.mark.parametrize(
    ("secret", "context"),
    [("t" * 48, CONTEXT), (SECRET, "midas.app_key:app_2")],
    ids=["other server secret", "other context"],
)
def test_another_key_or_context_cannot_decrypt(secret: str, context: str) -> None:
    stored = encrypt(SECRET, "value", CONTEXT)
    with pytest.raises(DecryptionFailed):
        decrypt(secret, stored, context)


@pytest.mark.parametrize("stored", ["", "v2:AAAA", "v1:not base64!", "v1:AAAA"])
def test_malformed_values_are_refused(stored: str) -> None:
    with pytest.raises(DecryptionFailed):
        decrypt(SECRET, stored, CONTEXT)
