"""One app at the Alipay open platform: :class:`AlipayConfig`.

What the app needs, following CHANNELS.md ("Alipay open platform"):

- the app signs every request with its own RSA private key (RSA2: SHA256withRSA);
- the platform signs answers and notifications with its key, which the app verifies with the
  *Alipay public key* shown in the open platform's console (public-key mode, not certificates);
- every call goes to one gateway URL (``/gateway.do``), the real one unless a simulator's is
  given (``http://127.0.0.1:PORT/gateway.do`` or ``.../sandbox/alipay/gateway.do``).

The app private key is a secret: :meth:`AlipayConfig.__repr__` shows neither it nor the long
public key PEM, so a config can be logged. Keys are passed as PEM text, never read from disk
here.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIPAY_GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
"""The production gateway (the SDK's default)."""

TIMEOUT_S_DEFAULT = 10.0
TIMEOUT_S_MAX = 120.0
STATEMENT_BYTES_MAX_DEFAULT = 200 * 1024 * 1024
"""Largest statement ZIP (and largest detail file inside it) we accept: a day's bill of a
busy merchant is tens of MB; a bigger answer is refused rather than filling memory."""


@dataclass(frozen=True, slots=True, repr=False)
class AlipayConfig:
    """An Alipay open-platform app in public-key mode, signing with RSA2."""

    app_id: str
    """The app's id (``2021...``), sent as ``app_id`` and required in notifications."""
    app_private_key_pem: str
    """Secret. The app's RSA private key (PEM, PKCS#8 or PKCS#1) that signs requests."""
    alipay_public_key_pem: str
    """The platform's RSA public key (PEM) that verifies answers and notifications."""
    gateway_url: str = ALIPAY_GATEWAY_URL
    timeout_s: float = TIMEOUT_S_DEFAULT
    """Seconds to wait to connect, then for each read of the answer (urllib's socket timeout,
    passed to the SDK through ``AliPayConfig(timeout=...)``): not a bound on the whole call.
    Also the bound for each read of a statement download."""
    seller_id: str | None = None
    """The merchant's partner id (``2088...``). When set, a notification naming another
    ``seller_id`` is refused, as Alipay advises; None skips that check."""
    statement_bytes_max: int = STATEMENT_BYTES_MAX_DEFAULT

    def __post_init__(self) -> None:
        if not self.app_id:
            raise ValueError("app_id is required")
        if not self.app_private_key_pem or not self.alipay_public_key_pem:
            raise ValueError("the app private key and the Alipay public key are required")
        if not self.gateway_url.startswith(("https://", "http://")) or "?" in self.gateway_url:
            # The SDK appends "?" and the signed query to it.
            raise ValueError("gateway_url must be an http(s) URL without a query string")
        if not 0 < self.timeout_s <= TIMEOUT_S_MAX:
            raise ValueError(f"timeout_s must be within (0, {TIMEOUT_S_MAX}]")
        if self.statement_bytes_max <= 0:
            raise ValueError("statement_bytes_max must be positive")

    def __repr__(self) -> str:
        return (
            f"AlipayConfig(app_id={self.app_id!r}, gateway_url={self.gateway_url!r}, "
            f"timeout_s={self.timeout_s!r}, seller_id={self.seller_id!r})"
        )
