"""WeChat Pay API v3 signatures and notification encryption, pure functions.

Rules followed (CHANNELS.md, "WeChat Pay API v3", checked against the ``wechatpayv3`` SDK):

- Requests carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."`` (the SDK quotes every value; unquoted values
  are accepted too). The signed text is ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``
  over the raw request target (query string included, exactly as sent) and the raw body;
  RSA-SHA256 with PKCS#1 v1.5 padding under the merchant's key, base64.
- Responses and notifications are signed over ``TIMESTAMP\\nNONCE\\nBODY\\n`` with the
  platform key, in the headers ``Wechatpay-Signature``, ``Wechatpay-Timestamp``,
  ``Wechatpay-Nonce``, ``Wechatpay-Serial`` (the platform public key id) and
  ``Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048``.
- A notification's ``resource`` is AEAD_AES_256_GCM under the 32-byte APIv3 key: the nonce
  and ``associated_data`` are given as UTF-8 text beside the base64 ciphertext (which ends with
  the 16-byte tag, as ``cryptography``'s AESGCM writes it).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
AUTHORIZATION_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
AUTHORIZATION_LENGTH_MAX = 4096
RESOURCE_ALGORITHM = "AEAD_AES_256_GCM"
RESOURCE_NONCE_CHARS = 12
"""WeChat's resource nonces are 12 characters: 96 bits as UTF-8, the size GCM is made for."""

_FIELD = re.compile(r'\s*([a-z_]+)=("([^"]*)"|[^,]*)\s*(?:,|$)')
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class AuthorizationMalformed(ValueError):
    """The ``Authorization`` header is missing, of another scheme, or lacks a field."""


@dataclass(frozen=True)
class Authorization:
    """The fields of a request's ``Authorization`` header."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def parse_authorization(header: str | None) -> Authorization:
    """Read ``WECHATPAY2-SHA256-RSA2048 k="v",...`` (values quoted or not)."""
    if not header:
        raise AuthorizationMalformed("the Authorization header is missing")
    if len(header) > AUTHORIZATION_LENGTH_MAX:
        raise AuthorizationMalformed("the Authorization header is too long")
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        raise AuthorizationMalformed(f"the Authorization scheme must be {SCHEME}")
    values: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _FIELD.match(rest, position)
        if match is None or match.end() == position:
            raise AuthorizationMalformed("the Authorization header is malformed")
        quoted = match.group(3)
        values[match.group(1)] = quoted if quoted is not None else match.group(2).strip()
        position = match.end()
    missing = [name for name in AUTHORIZATION_FIELDS if not values.get(name)]
    if missing:
        raise AuthorizationMalformed(f"the Authorization header lacks {', '.join(missing)}")
    return Authorization(**{name: values[name] for name in AUTHORIZATION_FIELDS})


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The text a merchant signs for one request (``target`` is path plus ``?query``)."""
    head = f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """The text the platform signs for a response or a notification."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (PKCS#8 or PKCS#1)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("WeChat Pay v3 keys are RSA keys")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo)."""
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay v3 keys are RSA keys")
    return key


def public_key_pem(private_key: rsa.RSAPrivateKey) -> str:
    """The PEM of a private key's public half."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """RSA-SHA256, PKCS#1 v1.5, base64."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is the RSA-SHA256 PKCS#1 v1.5 signature of ``message``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def verify_request(
    public_key: rsa.RSAPublicKey,
    authorization: Authorization,
    method: str,
    targets: Iterable[str],
    body: bytes,
) -> bool:
    """Whether the request's signature holds for one of the ways its target can be written
    (the target as the client addressed it, and as this server received it)."""
    for target in targets:
        message = request_message(
            method, target, authorization.timestamp, authorization.nonce_str, body
        )
        if verify(public_key, message, authorization.signature):
            return True
    return False


def new_nonce() -> str:
    """A 32-character nonce, as WeChat sends in ``Wechatpay-Nonce``."""
    return secrets.token_hex(16).upper()


def signature_headers(
    private_key: rsa.RSAPrivateKey,
    public_key_id: str,
    timestamp: int,
    body: bytes,
    *,
    forge: bool = False,
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of a signed response or notification. With ``forge`` the
    signature is made over a different nonce than the one sent, so it cannot verify."""
    nonce = new_nonce()
    signed_nonce = new_nonce() if forge else nonce
    signature = sign(private_key, response_message(str(timestamp), signed_nonce, body))
    return {
        "Wechatpay-Signature": signature,
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": public_key_id,
        "Wechatpay-Signature-Type": SCHEME,
    }


def encrypt_resource(
    apiv3_key: str, plaintext: bytes, associated_data: str, original_type: str
) -> dict[str, str]:
    """A notification's ``resource`` object: AEAD_AES_256_GCM under the APIv3 key."""
    nonce = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(RESOURCE_NONCE_CHARS))
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": RESOURCE_ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode(),
        "nonce": nonce,
        "associated_data": associated_data,
        "original_type": original_type,
    }


def decrypt_resource(apiv3_key: str, resource: dict[str, str]) -> bytes:
    """The inverse of :func:`encrypt_resource` (raises ``InvalidTag`` when it does not hold)."""
    return AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource.get("associated_data", "").encode(),
    )
