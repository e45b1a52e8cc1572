"""Secrets at rest: AES-256-GCM under a key derived from the server's secret key.

Each ``context`` (a label such as ``midas.app_key:<app_id>``) derives its own key with
HKDF-SHA256, so a ciphertext only decrypts in the context it was written for: copying one row's
ciphertext into another row, or another table, fails authentication instead of leaking.

Format: ``v1:`` + base64(12-byte random nonce + ciphertext with its 16-byte tag). The version
prefix leaves room for a future scheme (or key rotation) beside the old one.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION_PREFIX = "v1:"
NONCE_BYTES = 12
"""96 bits, the size GCM is designed for; random per encryption."""
KEY_BYTES = 32
CONTEXT_LENGTH_MAX = 200
_HKDF_SALT = b"paydesk.crypto.v1"


class DecryptionFailed(ValueError):
    """The stored value is malformed, was tampered with, or belongs to another context or
    server secret key."""


def _key(secret: str, context: str) -> bytes:
    if not context or len(context) > CONTEXT_LENGTH_MAX:
        raise ValueError(f"context must be 1 to {CONTEXT_LENGTH_MAX} characters")
    if not secret:
        raise ValueError("the server secret key is empty")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=_HKDF_SALT,
        info=b"paydesk:" + context.encode(),
    )
    return hkdf.derive(secret.encode())


def encrypt(secret: str, plaintext: str, context: str) -> str:
    """Encrypt ``plaintext`` for storage; ``context`` must be given again to decrypt."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(secret, context)).encrypt(nonce, plaintext.encode(), None)
    return VERSION_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(secret: str, stored: str, context: str) -> str:
    """The plaintext of a value written by :func:`encrypt` with the same secret and context;
    :class:`DecryptionFailed` otherwise."""
    if not stored.startswith(VERSION_PREFIX):
        raise DecryptionFailed("unknown encryption format")
    try:
        raw = base64.b64decode(stored.removeprefix(VERSION_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionFailed("the stored value is not valid base64") from exc
    if len(raw) <= NONCE_BYTES:
        raise DecryptionFailed("the stored value is too short")
    nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
    try:
        plain = AESGCM(_key(secret, context)).decrypt(nonce, sealed, None)
    except InvalidTag as exc:
        raise DecryptionFailed("authentication failed: tampered, or another key") from exc
    return plain.decode()


RSA_TEST_KEY_BITS = 2048


def generate_rsa_key_pair(key_size: int = RSA_TEST_KEY_BITS) -> tuple[str, str]:
    """A fresh RSA key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM).

    For the sandbox simulators, tests and the demo, which make their keys at run time so that
    no key is ever committed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
