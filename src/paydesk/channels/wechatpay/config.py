"""One merchant account at WeChat Pay API v3: :class:`WeChatPayConfig`.

What the account needs, following CHANNELS.md ("WeChat Pay API v3"):

- the merchant signs requests with its RSA private key and names it by the serial number of
  its API certificate (``serial_no`` in ``Authorization``);
- the platform signs answers and notifications; in platform-public-key mode the merchant
  verifies them with the platform *public key* and recognises it by its id
  (``Wechatpay-Serial``), so nothing is downloaded at start-up;
- notification resources are AEAD_AES_256_GCM under the 32-byte APIv3 key.

The merchant private key and the APIv3 key are secrets: :meth:`WeChatPayConfig.__repr__`
never shows them (nor the long PEMs), so a config can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass

WECHATPAY_GATEWAY_URL = "https://api.mch.weixin.qq.com"
"""WeChat Pay's production host, the SDK's fixed gateway."""

APIV3_KEY_BYTES = 32
TIMEOUT_S_DEFAULT = 10.0
TIMEOUT_S_MAX = 120.0
NOTIFICATION_TOLERANCE_S_DEFAULT = 300
"""How far a notification's ``Wechatpay-Timestamp`` may be from our clock (WeChat signs every
delivery attempt afresh, so a genuine notification is always recent)."""


@dataclass(frozen=True, slots=True, repr=False)
class WeChatPayConfig:
    """A WeChat Pay merchant account (direct merchant mode, platform-public-key mode)."""

    mchid: str
    """The merchant number (商户号)."""
    appid: str
    """The app id bound to the merchant: the official account or mini program for JSAPI, the
    mobile app for APP (one connector per (mchid, appid) pair)."""
    merchant_private_key_pem: str
    """Secret. The merchant's RSA private key (PEM) that signs requests."""
    merchant_cert_serial_no: str
    """Serial number of the merchant's API certificate (hex)."""
    platform_public_key_pem: str
    """The platform public key (PEM) that verifies answers and notifications."""
    public_key_id: str
    """The platform public key's id, ``PUB_KEY_ID_...``, as sent in ``Wechatpay-Serial``."""
    apiv3_key: str
    """Secret. The APIv3 key, 32 bytes as UTF-8: decrypts notification resources."""
    gateway_url: str = WECHATPAY_GATEWAY_URL
    """Where the API is: the real host, or a simulator (``http://127.0.0.1:PORT``, or the
    sandbox mount ``.../sandbox/wechatpay``)."""
    timeout_s: float = TIMEOUT_S_DEFAULT
    """How long to wait to connect, and then for each read of the answer (``requests``
    semantics: not a bound on the whole call)."""
    notification_tolerance_s: int = NOTIFICATION_TOLERANCE_S_DEFAULT

    def __post_init__(self) -> None:
        for name in ("mchid", "appid", "merchant_cert_serial_no", "public_key_id"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required")
        if "PRIVATE KEY" not in self.merchant_private_key_pem:
            raise ValueError("merchant_private_key_pem must be a PEM private key")
        if "PUBLIC KEY" not in self.platform_public_key_pem:
            raise ValueError("platform_public_key_pem must be a PEM public key")
        if len(self.apiv3_key.encode()) != APIV3_KEY_BYTES:
            raise ValueError(f"the APIv3 key must be {APIV3_KEY_BYTES} bytes as UTF-8")
        if not self.gateway_url.startswith(("https://", "http://")):
            raise ValueError("gateway_url must be an http(s) URL")
        if not 0 < self.timeout_s <= TIMEOUT_S_MAX:
            raise ValueError(f"timeout_s must be more than 0 and at most {TIMEOUT_S_MAX}")
        if self.notification_tolerance_s <= 0:
            raise ValueError("notification_tolerance_s must be positive")

    @property
    def gateway(self) -> str:
        """The gateway without a trailing slash, as the SDK joins it with ``/v3/...``."""
        return self.gateway_url.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"WeChatPayConfig(mchid={self.mchid!r}, appid={self.appid!r}, "
            f"merchant_cert_serial_no={self.merchant_cert_serial_no!r}, "
            f"public_key_id={self.public_key_id!r}, gateway_url={self.gateway_url!r}, "
            f"timeout_s={self.timeout_s!r}, merchant_private_key_pem=<redacted>, "
            f"apiv3_key=<redacted>)"
        )

    __str__ = __repr__
