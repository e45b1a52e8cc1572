"""What a simulator knows: the platform's key pair and public key id, the APIv3 key, and the
merchants it serves; plus :func:`generate_test_credentials` for tests and the demo.

The documented rules this follows (see the shared CHANNELS.md, "WeChat Pay API v3"):

- the platform signs responses and notifications with its RSA-2048 private key; merchants
  verify with the platform *public key* and recognise it by its id (``Wechatpay-Serial``);
- each merchant signs requests with its own RSA key and names the key by the serial number of
  its API certificate (``serial_no`` in ``Authorization``); the platform verifies with the
  merchant's public key;
- notification resources are AEAD_AES_256_GCM under the merchant's APIv3 key, 32 bytes.

Keys are generated at run time (``generate_test_credentials``); none is ever committed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from paydesk.core.crypto import generate_rsa_key_pair
from paydesk.simulators.wechatpay.faults import FaultBook

APIV3_KEY_BYTES = 32
RSA_KEY_BITS = 2048

WECHAT_RETRY_SCHEDULE_S: tuple[float, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
"""Waits between notification attempts after a failed one: WeChat's published schedule
(15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h, 16 attempts in about 24 hours)."""

TIMESTAMP_TOLERANCE_S = 300
"""A request's ``timestamp`` may be at most five minutes away from the platform's clock."""


@dataclass(frozen=True)
class MerchantConfig:
    """One merchant the simulated platform knows."""

    mchid: str
    public_key_pem: str
    """The merchant's RSA public key: verifies the merchant's request signatures."""
    cert_serial_no: str
    """Serial number of the merchant's API certificate, as the client sends it in
    ``serial_no`` (hex; compared without regard to case)."""
    name: str = "Paydesk sandbox merchant"
    """Shown to the payer on the pay page."""
    fee_rate_bps: int = 60
    """The channel fee in basis points of the paid amount (60 = 0.60%), for the trade bill."""


@dataclass
class SimulatorConfig:
    """Everything :func:`~paydesk.simulators.wechatpay.create_simulator` needs."""

    platform_private_key_pem: str
    public_key_id: str
    """The id of the platform public key, sent as ``Wechatpay-Serial`` on every signature."""
    apiv3_key: str
    """The APIv3 key, 32 bytes as UTF-8 (WeChat uses one key per merchant; the simulator uses
    this one for every merchant it knows)."""
    merchants: dict[str, MerchantConfig] = field(default_factory=dict)
    retry_schedule_s: tuple[float, ...] = WECHAT_RETRY_SCHEDULE_S
    notify_timeout_s: float = 5.0
    """How long one notification attempt waits for the merchant's answer."""
    timestamp_tolerance_s: int = TIMESTAMP_TOLERANCE_S
    public_base_url: str | None = None
    """Base URL of the simulator as payers and clients reach it (for ``code_url``, ``h5_url``
    and bill ``download_url``); by default taken from each request."""
    clock: Callable[[], float] = time.time
    """Seconds since the epoch; tests move it to check timestamp rules."""
    faults: FaultBook = field(default_factory=FaultBook)
    """Failure injection, shared with ``POST /simulator/faults``."""

    def __post_init__(self) -> None:
        if len(self.apiv3_key.encode()) != APIV3_KEY_BYTES:
            raise ValueError(f"the APIv3 key must be {APIV3_KEY_BYTES} bytes as UTF-8")
        if not self.public_key_id:
            raise ValueError("public_key_id is required")
        if any(not delay_s >= 0 for delay_s in self.retry_schedule_s):
            raise ValueError("retry waits must be >= 0 seconds")

    @staticmethod
    def with_merchants(
        platform_private_key_pem: str,
        public_key_id: str,
        apiv3_key: str,
        merchants: Iterable[MerchantConfig],
        **options: Any,
    ) -> SimulatorConfig:
        """Build a config from a list of merchants (keyed by their ``mchid``)."""
        known = {merchant.mchid: merchant for merchant in merchants}
        return SimulatorConfig(
            platform_private_key_pem=platform_private_key_pem,
            public_key_id=public_key_id,
            apiv3_key=apiv3_key,
            merchants=known,
            **options,
        )


@dataclass(frozen=True)
class TestCredentials:
    """Both sides of one simulated merchant relationship, freshly generated."""

    __test__ = False  # not a pytest test class, whatever its name

    mchid: str
    appid: str
    merchant_private_key_pem: str
    """PKCS#8 PEM: the merchant signs requests with it (the SDK's ``private_key``)."""
    merchant_public_key_pem: str
    merchant_cert_serial_no: str
    """The SDK's ``cert_serial_no``."""
    platform_private_key_pem: str
    platform_public_key_pem: str
    """The SDK's ``public_key``."""
    public_key_id: str
    """The SDK's ``public_key_id``."""
    apiv3_key: str

    def merchant(self, **options: Any) -> MerchantConfig:
        """This merchant as the simulator sees it."""
        return MerchantConfig(
            mchid=self.mchid,
            public_key_pem=self.merchant_public_key_pem,
            cert_serial_no=self.merchant_cert_serial_no,
            **options,
        )

    def simulator_config(self, **options: Any) -> SimulatorConfig:
        """A simulator config that knows this one merchant."""
        return SimulatorConfig.with_merchants(
            self.platform_private_key_pem,
            self.public_key_id,
            self.apiv3_key,
            [self.merchant()],
            **options,
        )


def _key_pair() -> tuple[str, str]:
    return generate_rsa_key_pair(RSA_KEY_BITS)


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def generate_test_credentials(mchid: str | None = None) -> TestCredentials:
    """New merchant and platform keys, ids in WeChat's shapes, and a random APIv3 key."""
    merchant_private, merchant_public = _key_pair()
    platform_private, platform_public = _key_pair()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return TestCredentials(
        mchid=mchid or "19" + _digits(8),
        appid="wx" + secrets.token_hex(8),
        merchant_private_key_pem=merchant_private,
        merchant_public_key_pem=merchant_public,
        merchant_cert_serial_no=secrets.token_hex(20).upper(),
        platform_private_key_pem=platform_private,
        platform_public_key_pem=platform_public,
        public_key_id="PUB_KEY_ID_" + _digits(32),
        apiv3_key="".join(secrets.choice(alphabet) for _ in range(APIV3_KEY_BYTES)),
    )
