"""Signatures of the UnionPay online gateway, signMethod 01 of ACP version 5.1.0. Pure functions.

Rules, as UnionPay's acp SDK (``SDKUtil.sign`` / ``SDKUtil.validate`` / ``CertUtil``, in its
Java, PHP and Ruby demos and their public ports) applies them:

- **The signed text**: every field except ``signature``, sorted by name, written ``name=value``
  with the raw (not URL-encoded) value and joined with ``&`` (``coverMap2String``). Requests
  leave out blank fields before signing (``filterBlank``); answers and notifications are
  verified over every field they carry, blank ones included.
- **Signing** (``sha256X16`` then ``signBySoft256``): the lowercase hex SHA-256 of that text
  (UTF-8) is itself signed with SHA256withRSA (PKCS#1 v1.5) by the merchant's key; the base64
  of the result is ``signature``, and ``certId`` is the decimal serial number of the
  merchant's signing certificate.
- **Verifying** an answer or notification (``validate`` for 5.1.0): ``signPubKeyCert`` is the
  PEM of UnionPay's signing certificate. It must be issued by the configured intermediate
  certificate, itself issued by the configured root, each within its validity period
  (``verifyCertificateChain``, ``checkValidity``); and its subject CN, split at ``@``, must name
  中国银联股份有限公司 in its third part (``getIdentitiesFromCertficate``; with
  ``ifValidateCNName`` off the test environment's ``00040000:SIGN`` passes too). Only then is
  the signature checked with that certificate's public key, the same way it was made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SIGNATURE = "signature"
SIGN_PUB_KEY_CERT = "signPubKeyCert"
UNIONPAY_CN_NAME = "中国银联股份有限公司"
TEST_ENVIRONMENT_CN_NAME = "00040000:SIGN"
RSA_KEY_BITS_MIN = 2048
CERT_CACHE_SIZE = 16


class SignatureError(ValueError):
    """A signature or certificate check failed; the message says which (never a key)."""


def signed_text(fields: Mapping[str, str]) -> str:
    """The sorted ``name=value`` pairs of every field but ``signature``, joined by ``&``."""
    return "&".join(f"{name}={fields[name]}" for name in sorted(fields) if name != SIGNATURE)


def digest(fields: Mapping[str, str]) -> bytes:
    """What the RSA signature covers: the lowercase hex SHA-256 of :func:`signed_text`."""
    return hashlib.sha256(signed_text(fields).encode("utf-8")).hexdigest().encode("ascii")


def load_signing_key(pem: str) -> rsa.RSAPrivateKey:
    """The merchant's signing key; ValueError (without the key) if it is not a usable one."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the signing key is not an unprotected PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < RSA_KEY_BITS_MIN:
        raise ValueError(f"the signing key must be RSA of at least {RSA_KEY_BITS_MIN} bits")
    return key


def load_certificate(pem: str) -> x509.Certificate:
    """A PEM certificate; ValueError if it is not one."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise ValueError("not a PEM X.509 certificate") from None


def sign(key: rsa.RSAPrivateKey, fields: Mapping[str, str]) -> str:
    """The ``signature`` of ``fields`` (which must already carry ``certId``)."""
    raw = key.sign(digest(fields), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SignatureError(f"the {what} certificate is not valid at {now.isoformat()}")


def cn_identity(cert: x509.Certificate) -> str:
    """The third ``@``-separated part of the subject CN ("" when there is none)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return ""
    value = names[0].value
    parts = (value.decode() if isinstance(value, bytes) else value).split("@")
    return parts[2] if len(parts) > 2 else ""


@dataclass(frozen=True, slots=True)
class _Verified:
    key: rsa.RSAPublicKey
    chain: tuple[x509.Certificate, ...]


class CertificateChain:
    """The configured root and intermediate, and the signing certificates checked against
    them (cached by PEM text, as the SDK does; validity is checked again on every use)."""

    def __init__(self, root_pem: str, middle_pem: str, *, validate_cn_name: bool = True) -> None:
        self._root = load_certificate(root_pem)
        self._middle = load_certificate(middle_pem)
        try:
            self._middle.verify_directly_issued_by(self._root)
        except (ValueError, TypeError, InvalidSignature):
            raise ValueError("the middle certificate is not issued by the root") from None
        try:
            constraints = self._middle.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            constraints = None  # the SDK does not ask; an explicit "not a CA" is refused
        if constraints is not None and not constraints.value.ca:
            raise ValueError("the middle certificate is not a CA certificate")
        self._names = (
            frozenset({UNIONPAY_CN_NAME})
            if validate_cn_name
            else frozenset({UNIONPAY_CN_NAME, TEST_ENVIRONMENT_CN_NAME})
        )
        self._lock = threading.Lock()
        self._cache: dict[str, _Verified] = {}

    def _check(self, pem: str) -> _Verified:
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            raise SignatureError("signPubKeyCert is not a PEM certificate") from None
        try:
            cert.verify_directly_issued_by(self._middle)
        except (ValueError, TypeError, InvalidSignature):
            raise SignatureError(
                "signPubKeyCert is not issued by the configured middle certificate"
            ) from None
        identity = cn_identity(cert)
        if identity not in self._names:
            raise SignatureError(f"signPubKeyCert does not belong to UnionPay (CN {identity!r})")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < RSA_KEY_BITS_MIN:
            raise SignatureError("signPubKeyCert does not carry an RSA key of 2048 bits or more")
        return _Verified(key, (cert, self._middle, self._root))

    def verified_key(self, pem: str, now: datetime) -> rsa.RSAPublicKey:
        """The public key of a ``signPubKeyCert`` that chains to the root and names UnionPay,
        valid (with its issuers) at ``now``; :class:`SignatureError` otherwise."""
        with self._lock:
            verified = self._cache.get(pem)
        if verified is None:
            verified = self._check(pem)
            with self._lock:
                if len(self._cache) >= CERT_CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[pem] = verified
        for cert, what in zip(verified.chain, ("signing", "middle", "root"), strict=True):
            _check_validity(cert, now, what)
        return verified.key

    def verify(self, fields: Mapping[str, str], now: datetime) -> None:
        """Checks a signed answer or notification; :class:`SignatureError` if it does not
        verify."""
        signature = fields.get(SIGNATURE, "")
        pem = fields.get(SIGN_PUB_KEY_CERT, "")
        if not signature or not pem:
            raise SignatureError("signature or signPubKeyCert is missing")
        key = self.verified_key(pem, now)
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("the signature is not base64") from None
        try:
            key.verify(raw, digest(fields), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise SignatureError("the signature does not verify") from None
