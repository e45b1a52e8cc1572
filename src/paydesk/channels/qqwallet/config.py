"""One merchant account at QQ Wallet (QQ钱包, "QPay"): :class:`QQWalletConfig`.

What the account needs (sources in :mod:`.connector`'s docstring):

- ``mch_id`` and the **API key** (API密钥, 32 characters set in the merchant platform): every
  request, answer and notification is signed with it, MD5 or HMAC-SHA256 (``sign_type``);
- an **operator** (``op_user_id`` and its password): refunds carry the operator id and the MD5
  of its password;
- the **merchant API certificate** (mutual TLS) for refunds at the real refund host
  ``https://api.qpay.qq.com``; it is given as two PEM files (``client_cert_file``,
  ``client_key_file``), never as text in the credentials;
- optionally the ``appid`` of the app at the Tencent open platform (open.qq.com / QQ互联), sent
  with each request, and that app's **AppKey** (``app_key``), which signs the parameters the
  QQ app SDK takes (QQ_APP). The AppKey is not the API key: it is the open platform's secret.

The API key, the operator password and the AppKey are secrets: :meth:`QQWalletConfig.__repr__`
never shows them, so a config can be logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

QQWALLET_GATEWAY_URL = "https://qpay.qq.com"
"""The host of order, query, close, refund-query and statement calls."""
QQWALLET_REFUND_GATEWAY_URL = "https://api.qpay.qq.com"
"""The host of refunds, which asks for the merchant's API certificate (mutual TLS)."""

API_KEY_LENGTH = 32
TIMEOUT_S_DEFAULT = 10.0
TIMEOUT_S_MAX = 120.0
STATEMENT_BYTES_MAX_DEFAULT = 200 * 1024 * 1024
"""The largest statement accepted: a busy merchant's day is tens of MB of text."""

_MCH_ID = re.compile(r"[0-9]{1,32}")
_APPID = re.compile(r"[0-9A-Za-z_]{1,32}")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


class SignType(StrEnum):
    """How requests, answers and notifications are signed (``sign_type``)."""

    MD5 = "MD5"
    """Upper-case hex MD5 of the signed text."""
    HMAC_SHA256 = "HMAC-SHA256"
    """Upper-case hex HMAC-SHA256 of the signed text, keyed with the API key."""


@dataclass(frozen=True, slots=True, repr=False)
class QQWalletConfig:
    """A QQ Wallet merchant account (normal merchant, not a service provider)."""

    mch_id: str
    """The merchant number (商户号), digits."""
    api_key: str
    """Secret. The API key (API密钥): 32 printable ASCII characters."""
    op_user_id: str
    """The operator that refunds (操作员帐号); the merchant number itself is one."""
    op_user_password: str
    """Secret. The operator's password; only its MD5 is sent."""
    sign_type: SignType = SignType.HMAC_SHA256
    appid: str | None = None
    """The app id at the Tencent open platform, when the merchant has one (needed for
    QQ_APP)."""
    app_key: str | None = None
    """Secret. The open-platform AppKey of ``appid``: signs the QQ app SDK's parameters."""
    gateway_url: str = QQWALLET_GATEWAY_URL
    """Where the API is: the real host or a simulator (``http://127.0.0.1:PORT``)."""
    refund_gateway_url: str | None = None
    """Where refunds go; None: ``api.qpay.qq.com`` for the real gateway, else
    ``gateway_url`` (a simulator serves every call on one host)."""
    client_cert_file: str | None = None
    """The merchant API certificate (PEM file) presented on refunds (mutual TLS)."""
    client_key_file: str | None = None
    """Its private key (PEM file, unencrypted)."""
    timeout_s: float = TIMEOUT_S_DEFAULT
    """Seconds to connect, then for each read of the answer (httpx): not a bound on the
    whole call."""
    statement_bytes_max: int = STATEMENT_BYTES_MAX_DEFAULT

    def __post_init__(self) -> None:
        if not _MCH_ID.fullmatch(self.mch_id):
            raise ValueError("mch_id must be 1 to 32 digits")
        if len(self.api_key) != API_KEY_LENGTH or not _PRINTABLE.fullmatch(self.api_key):
            raise ValueError(f"the API key must be {API_KEY_LENGTH} printable ASCII characters")
        if not _PRINTABLE.fullmatch(self.op_user_id) or not self.op_user_password:
            raise ValueError("op_user_id and op_user_password are required")
        try:
            object.__setattr__(self, "sign_type", SignType(self.sign_type))
        except ValueError:
            raise ValueError(f"sign_type must be one of {', '.join(SignType)}") from None
        if self.appid is not None and not _APPID.fullmatch(self.appid):
            raise ValueError("appid must be 1 to 32 letters, digits or underscores")
        if self.app_key is not None and not _PRINTABLE.fullmatch(self.app_key):
            raise ValueError("app_key must be printable ASCII")
        for name in ("gateway_url", "refund_gateway_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        if not 0 < self.timeout_s <= TIMEOUT_S_MAX:
            raise ValueError(f"timeout_s must be more than 0 and at most {TIMEOUT_S_MAX}")
        if self.statement_bytes_max <= 0:
            raise ValueError("statement_bytes_max must be positive")

    @property
    def gateway(self) -> str:
        return self.gateway_url.rstrip("/")

    @property
    def refund_gateway(self) -> str:
        if self.refund_gateway_url is not None:
            return self.refund_gateway_url.rstrip("/")
        if self.gateway == QQWALLET_GATEWAY_URL:
            return QQWALLET_REFUND_GATEWAY_URL
        return self.gateway

    @property
    def refund_needs_certificate(self) -> bool:
        """The real refund host refuses a TLS client without the merchant certificate."""
        return self.refund_gateway == QQWALLET_REFUND_GATEWAY_URL

    def __repr__(self) -> str:
        return (
            f"QQWalletConfig(mch_id={self.mch_id!r}, appid={self.appid!r}, "
            f"op_user_id={self.op_user_id!r}, sign_type={self.sign_type.value!r}, "
            f"gateway_url={self.gateway_url!r}, refund_gateway_url={self.refund_gateway!r}, "
            f"client_cert_file={self.client_cert_file!r}, timeout_s={self.timeout_s!r}, "
            f"api_key=<redacted>, op_user_password=<redacted>, "
            f"app_key={'<redacted>' if self.app_key else None})"
        )

    __str__ = __repr__
