"""What a simulator is told at start: the platform key pair, the apps it knows, and the knobs.

Keys follow the open platform's model (CHANNELS.md, "Alipay open platform"): every app signs
its requests with its own RSA private key and the platform holds the app's public key; the
platform signs responses and notifications with its own private key and every app holds the
platform's public key. Nothing here is read from disk: :func:`generate_test_credentials` makes
fresh 2048-bit keys at run time, so no key is ever committed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from paydesk.core.crypto import generate_rsa_key_pair

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Alipay writes every time as Beijing time without an offset (``yyyy-MM-dd HH:mm:ss``)."""

# The real gateway retries a notification that was not answered ``success`` 8 times in 25 hours
# (4m, 10m, 10m, 1h, 2h, 6h, 15h after the first try).
NOTIFY_RETRY_SCHEDULE_S_REAL: tuple[float, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
NOTIFY_RETRIES_MAX = 20
TRADE_TIMEOUT_S_DEFAULT = 2 * 3600  # a precreate QR code lives 2 h unless told otherwise
BILL_URL_TTL_S_DEFAULT = 30.0  # the real bill_download_url stops working after 30 s
FEE_BPS_MAX = 10_000


def beijing_now() -> datetime:
    """The current time in Beijing, as the gateway's clocks read it."""
    return datetime.now(BEIJING)


@dataclass(frozen=True)
class AppRegistration:
    """An app the simulated platform knows."""

    app_id: str
    app_public_key_pem: str
    """Verifies the app's request signatures (PEM, SubjectPublicKeyInfo or PKCS#1)."""
    seller_id: str
    """The merchant's 16-digit partner id (``2088...``), echoed as ``seller_id`` and naming
    the merchant's bill (account ``<seller_id>0156``)."""


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulator needs; immutable once the app is created."""

    platform_private_key_pem: str
    """Signs every response, notification and return URL."""
    apps: Mapping[str, AppRegistration]
    public_base_url: str | None = None
    """Where browsers and notification receivers reach the simulator (used in ``qr_code`` and
    ``bill_download_url``); by default the base URL of the request being answered."""
    notify_retry_schedule_s: tuple[float, ...] = NOTIFY_RETRY_SCHEDULE_S_REAL
    """Seconds to wait after each failed delivery; ``len + 1`` attempts in all."""
    notify_timeout_s: float = 5.0
    notify_transport: httpx.BaseTransport | None = None
    """Swaps the network for tests (``httpx.MockTransport``); None sends real requests."""
    reorder_hold_s: float = 5.0
    """With the ``reorder`` fault, how long a notification waits for a later one to overtake
    it before it is sent anyway."""
    trade_timeout_s_default: int = TRADE_TIMEOUT_S_DEFAULT
    bill_url_ttl_s: float = BILL_URL_TTL_S_DEFAULT
    fee_bps: int = 0
    """Service fee in basis points of each payment, shown in the bill (negative on payments,
    returned pro rata on refunds); rounded half up to the fen."""
    trade_visible_before_scan: bool = False
    """The real gateway creates a precreate or page-pay trade only when the buyer scans the
    code or opens the page; until then query and close answer ACQ.TRADE_NOT_EXIST. True makes
    the trade visible (WAIT_BUYER_PAY) at once."""
    buyer_logon_id: str = "ali***@sandbox.com"
    clock: Callable[[], datetime] = field(default=beijing_now)
    """Current time (timezone-aware); tests may move it forward to expire trades."""

    def __post_init__(self) -> None:
        if not self.apps:
            raise ValueError("a simulator needs at least one app")
        for app_id, app in self.apps.items():
            if app_id != app.app_id:
                raise ValueError(f"apps[{app_id!r}] is registered as {app.app_id!r}")
        if len(self.notify_retry_schedule_s) > NOTIFY_RETRIES_MAX:
            raise ValueError(f"at most {NOTIFY_RETRIES_MAX} notification retries")
        if any(wait < 0 for wait in self.notify_retry_schedule_s):
            raise ValueError("notification retry waits cannot be negative")
        if not 0 <= self.fee_bps <= FEE_BPS_MAX:
            raise ValueError(f"fee_bps must be within 0..{FEE_BPS_MAX}")
        if self.trade_timeout_s_default <= 0 or self.bill_url_ttl_s <= 0:
            raise ValueError("timeouts must be positive")


@dataclass(frozen=True)
class SandboxCredentials:
    """Both sides' keys for one app, made fresh at run time."""

    app_id: str
    seller_id: str
    app_private_key_pem: str
    """Goes to the client (``app_private_key_string``)."""
    app_public_key_pem: str
    platform_private_key_pem: str
    platform_public_key_pem: str
    """Goes to the client (``alipay_public_key_string``)."""

    def registration(self) -> AppRegistration:
        """The app as the simulated platform knows it."""
        return AppRegistration(self.app_id, self.app_public_key_pem, self.seller_id)

    def simulator_config(self, **options: Any) -> SimulatorConfig:
        """A config knowing this one app; ``options`` are other :class:`SimulatorConfig`
        fields."""
        return SimulatorConfig(
            platform_private_key_pem=self.platform_private_key_pem,
            apps={self.app_id: self.registration()},
            **options,
        )


def _key_pair() -> tuple[str, str]:
    return generate_rsa_key_pair(2048)


def generate_test_credentials(
    app_id: str | None = None, platform_private_key_pem: str | None = None
) -> SandboxCredentials:
    """Fresh keys for an app and, unless one is given, for the platform (pass an existing
    platform key to register a second app with the same simulator)."""
    app_private, app_public = _key_pair()
    if platform_private_key_pem is None:
        platform_private, platform_public = _key_pair()
    else:
        platform_private = platform_private_key_pem
        loaded = serialization.load_pem_private_key(platform_private.encode(), password=None)
        platform_public = (
            loaded.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    return SandboxCredentials(
        app_id=app_id or f"2021{secrets.randbelow(10**12):012d}",
        seller_id=f"2088{secrets.randbelow(10**12):012d}",
        app_private_key_pem=app_private,
        app_public_key_pem=app_public,
        platform_private_key_pem=platform_private,
        platform_public_key_pem=platform_public,
    )
