"""A test PKI made at run time: a root CA, an intermediate CA, UnionPay's signing certificate
and merchants' signing certificates, all RSA 2048 / SHA-256, as :mod:`cryptography` builds
them. Nothing is read from or written to disk, so no key or certificate is ever committed.

Names follow the shape the SDK checks (docs/simulators-unionpay.md): UnionPay's signing
certificate has the subject CN ``<org>@<id>@中国银联股份有限公司@<n>`` (the third ``@`` part
names UnionPay); every name also says it is a sandbox's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

KEY_BITS = 2048
UNIONPAY_CN_NAME = "中国银联股份有限公司"
UNIONPAY_SIGN_CN = f"sandbox@Z00000001@{UNIONPAY_CN_NAME}@00000001"
CA_YEARS = 10
LEAF_YEARS = 2
SERIAL_BITS = 63


@dataclass(frozen=True)
class Issued:
    """A key and its certificate, as PEM text."""

    key_pem: str
    cert_pem: str

    @property
    def serial(self) -> str:
        """The decimal serial number (UnionPay's ``certId``)."""
        return str(x509.load_pem_x509_certificate(self.cert_pem.encode()).serial_number)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Paydesk sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _load_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    ca: bool,
    years: int,
    key: rsa.RSAPrivateKey | None = None,
    not_before: datetime | None = None,
) -> Issued:
    """A certificate for ``common_name`` signed by ``issuer`` (self-signed when None), with a
    fresh key unless one is given."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    if issuer is None:
        issuer_name, signer = _name(common_name), key
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer.cert_pem.encode())
        issuer_name, signer = issuer_cert.subject, _load_key(issuer.key_pem)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(SERIAL_BITS) | 1 << (SERIAL_BITS - 1))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    cert = builder.sign(signer, hashes.SHA256())
    return Issued(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM).decode())


@dataclass(frozen=True)
class Pki:
    """A root, its intermediate, and UnionPay's signing certificate below them."""

    root: Issued
    middle: Issued
    unionpay_sign: Issued


def make_pki(label: str = "Paydesk Sandbox UnionPay") -> Pki:
    root = issue(f"{label} Root CA", ca=True, years=CA_YEARS)
    middle = issue(f"{label} OCA", issuer=root, ca=True, years=CA_YEARS)
    sign = issue(UNIONPAY_SIGN_CN, issuer=middle, ca=False, years=LEAF_YEARS)
    return Pki(root, middle, sign)


def make_stranger() -> Issued:
    """A certificate with UnionPay's CN that chains to no trusted root (one key for its
    whole chain: a forger's)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    root = issue("Stranger Root CA", ca=True, years=CA_YEARS, key=key)
    middle = issue("Stranger OCA", issuer=root, ca=True, years=CA_YEARS, key=key)
    return issue(UNIONPAY_SIGN_CN, issuer=middle, ca=False, years=LEAF_YEARS, key=key)
