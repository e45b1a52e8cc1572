"""RSA2 signatures as the open platform computes them (CHANNELS.md, "Alipay open platform").

- Requests: the sorted ``k=v`` pairs joined by ``&`` with raw (URL-decoded) values, ``sign``
  left out and ``sign_type`` kept; SHA256withRSA (PKCS#1 v1.5), base64. Pairs with an empty
  value are left out too, as the official SDKs do when they sign (python-alipay-sdk never
  sends one).
- Notifications and return URLs: the same pairs without ``sign`` *and* ``sign_type``.
- Responses: the exact bytes of the inner ``<method>_response`` object as sent.
  python-alipay-sdk finds those bytes by counting braces from the first ``{`` after the
  response key, without regard to JSON strings, so :func:`encode_compact` writes every brace
  inside a string as ``\\u007b``/``\\u007d``; the value decodes the same and the count holds.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN = "sign"
SIGN_TYPE = "sign_type"
RSA2 = "RSA2"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the key is not an RSA private key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1)."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the key is not an RSA public key")
    return key


def content_to_sign(params: Mapping[str, str], *, exclude: frozenset[str]) -> str:
    """Sorted ``k=v`` pairs joined by ``&``: raw values, empty ones and ``exclude`` left out."""
    return "&".join(
        f"{name}={params[name]}" for name in sorted(params) if name not in exclude and params[name]
    )


REQUEST_EXCLUDED = frozenset({SIGN})
NOTIFICATION_EXCLUDED = frozenset({SIGN, SIGN_TYPE})


def sign_bytes(key: rsa.RSAPrivateKey, data: bytes) -> str:
    """SHA256withRSA over ``data``, base64 without line breaks."""
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_bytes(key: rsa.RSAPublicKey, data: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a SHA256withRSA signature of ``data`` by ``key``."""
    try:
        signature = base64.b64decode(signature_b64, validate=False)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_request(key: rsa.RSAPublicKey, params: Mapping[str, str]) -> bool:
    """Whether a gateway request carries a valid signature by the app."""
    signature = params.get(SIGN, "")
    content = content_to_sign(params, exclude=REQUEST_EXCLUDED)
    return bool(signature) and verify_bytes(key, content.encode("utf-8"), signature)


def sign_notification(key: rsa.RSAPrivateKey, params: Mapping[str, str]) -> dict[str, str]:
    """``params`` plus ``sign_type=RSA2`` and their ``sign`` (over all but those two)."""
    signed = {**params, SIGN_TYPE: RSA2}
    content = content_to_sign(signed, exclude=NOTIFICATION_EXCLUDED)
    signed[SIGN] = sign_bytes(key, content.encode("utf-8"))
    return signed


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")
    if isinstance(value, Mapping):
        items = (f"{_encode(str(name))}:{_encode(item)}" for name, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a gateway response")


def encode_compact(value: Any) -> str:
    """Compact JSON (UTF-8 text kept as is) with every brace inside a string escaped."""
    return _encode(value)


def signed_response(key: rsa.RSAPrivateKey, response_key: str, inner: Mapping[str, Any]) -> bytes:
    """``{"<response_key>":<inner>,"sign":"..."}`` signed over the inner object's bytes."""
    inner_bytes = encode_compact(inner).encode("utf-8")
    signature = sign_bytes(key, inner_bytes)
    return b"".join(
        (
            b"{",
            encode_compact(response_key).encode("utf-8"),
            b":",
            inner_bytes,
            b',"sign":',
            encode_compact(signature).encode("utf-8"),
            b"}",
        )
    )
