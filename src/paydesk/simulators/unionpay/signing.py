"""Signatures as the gateway computes them (signMethod 01 of ACP 5.1.0), written apart from the
connector's so that one cannot hide the other's mistake.

- The signed text: all fields but ``signature``, sorted by name, ``name=value`` (raw values,
  blank ones included) joined with ``&``; its SHA-256 as lowercase hex is what SHA256withRSA
  (PKCS#1 v1.5) signs; ``signature`` is the base64 of that.
- Requests are verified with the public key of the merchant certificate whose decimal serial
  number is the request's ``certId``.
- Answers, notifications and return forms carry ``signPubKeyCert`` (UnionPay's signing
  certificate, PEM with CRLF line ends) and are signed with UnionPay's key; the ``forge``
  variants use a stranger's certificate and key, and :func:`corrupt` spoils a signature
  (fault injection).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGNATURE = "signature"
SIGN_PUB_KEY_CERT = "signPubKeyCert"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the key is not an RSA private key")
    return key


def certificate_key(cert_pem: str) -> rsa.RSAPublicKey:
    key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the certificate does not hold an RSA key")
    return key


def _hex_digest(fields: Mapping[str, str]) -> bytes:
    pairs = [f"{name}={value}" for name, value in sorted(fields.items()) if name != SIGNATURE]
    return hashlib.sha256("&".join(pairs).encode("utf-8")).hexdigest().encode("ascii")


def verify(key: rsa.RSAPublicKey, fields: Mapping[str, str]) -> bool:
    """Whether ``fields`` carry a valid ``signature`` by ``key``."""
    try:
        raw = base64.b64decode(fields.get(SIGNATURE, ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    if not raw:
        return False
    try:
        key.verify(raw, _hex_digest(fields), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class Signer:
    """Signs with one key and attaches its certificate as ``signPubKeyCert``."""

    def __init__(self, key_pem: str, cert_pem: str) -> None:
        self._key = load_private_key(key_pem)
        # CRLF line ends: a browser posting the return form writes every line break as CRLF,
        # so the certificate (and the signature over it) reaches ``frontUrl`` unchanged.
        self.cert_pem = cert_pem.replace("\r\n", "\n").replace("\n", "\r\n")

    def sign(self, fields: Mapping[str, str]) -> dict[str, str]:
        """``fields`` plus ``signPubKeyCert`` and ``signature``."""
        signed = {name: value for name, value in fields.items() if name != SIGNATURE}
        signed[SIGN_PUB_KEY_CERT] = self.cert_pem
        raw = self._key.sign(_hex_digest(signed), padding.PKCS1v15(), hashes.SHA256())
        signed[SIGNATURE] = base64.b64encode(raw).decode("ascii")
        return signed


def corrupt(fields: Mapping[str, str]) -> dict[str, str]:
    """The same fields with a signature that no longer matches them."""
    spoiled = dict(fields)
    raw = bytearray(base64.b64decode(spoiled[SIGNATURE]))
    raw[len(raw) // 2] ^= 0x01
    spoiled[SIGNATURE] = base64.b64encode(bytes(raw)).decode("ascii")
    return spoiled
