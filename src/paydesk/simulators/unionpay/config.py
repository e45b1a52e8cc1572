"""What a simulator is told at start: UnionPay's signing key and certificate, the merchants it
knows, and the knobs.

Keys follow the gateway's model: each merchant signs with the key of a certificate UnionPay
issued it, named in every request by its decimal serial number (``certId``); UnionPay signs
answers and notifications with its own key and sends its certificate along
(``signPubKeyCert``), which merchants check against the root and intermediate certificates
they were given. :func:`generate_test_credentials` makes all of it at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography import x509

from paydesk.simulators.unionpay import certs

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
NOTIFY_RETRY_SCHEDULE_S_DEFAULT: tuple[float, ...] = (60, 120, 240, 480, 960)
"""Waits after each refused delivery (the public material we could check does not state
UnionPay's schedule; this one is the simulator's)."""
NOTIFY_RETRIES_MAX = 20
REFUND_DELAY_S_DEFAULT = 1.0


def beijing_now() -> datetime:
    """The current time in Beijing, as the gateway's clocks read it."""
    return datetime.now(BEIJING)


def cert_serial(cert_pem: str) -> str:
    """The decimal serial number of a PEM certificate."""
    return str(x509.load_pem_x509_certificate(cert_pem.encode()).serial_number)


@dataclass(frozen=True)
class MerchantRegistration:
    """A merchant the simulated gateway knows."""

    mer_id: str
    cert_pem: str
    """The merchant's signing certificate: its public key verifies the merchant's requests and
    its serial number is the ``certId`` they must name."""

    @property
    def cert_id(self) -> str:
        return cert_serial(self.cert_pem)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulator needs; immutable once the app is created."""

    sign_private_key_pem: str
    """UnionPay's signing key: signs every answer, notification and return form."""
    sign_cert_pem: str
    """UnionPay's signing certificate, sent as ``signPubKeyCert``."""
    merchants: Mapping[str, MerchantRegistration]
    public_base_url: str | None = None
    """Where browsers reach the simulator (pay-page form actions); by default the base URL of
    the request being answered."""
    notify_retry_schedule_s: tuple[float, ...] = NOTIFY_RETRY_SCHEDULE_S_DEFAULT
    """Seconds to wait after each refused delivery; ``len + 1`` attempts in all."""
    notify_timeout_s: float = 5.0
    notify_transport: httpx.BaseTransport | None = None
    """Swaps the network of notifications (tests); None sends real requests."""
    reorder_hold_s: float = 5.0
    """With the ``reorder`` fault, how long a notification waits for a later one to overtake
    it before it is sent anyway."""
    refund_delay_s: float = REFUND_DELAY_S_DEFAULT
    """How long an accepted refund stays in progress before it succeeds (and is notified)."""
    clock: Callable[[], datetime] = field(default=beijing_now)
    """Current time (timezone-aware); tests may move it to pass a ``payTimeout``."""

    def __post_init__(self) -> None:
        if not self.merchants:
            raise ValueError("a simulator needs at least one merchant")
        for mer_id, merchant in self.merchants.items():
            if mer_id != merchant.mer_id:
                raise ValueError(f"merchants[{mer_id!r}] is registered as {merchant.mer_id!r}")
        if len(self.notify_retry_schedule_s) > NOTIFY_RETRIES_MAX:
            raise ValueError(f"at most {NOTIFY_RETRIES_MAX} notification retries")
        if any(wait < 0 for wait in self.notify_retry_schedule_s) or self.refund_delay_s < 0:
            raise ValueError("waits cannot be negative")


@dataclass(frozen=True)
class SandboxCredentials:
    """Both sides of one merchant's certificates, made fresh at run time."""

    mer_id: str
    sign_cert_id: str
    """The merchant's ``certId``."""
    sign_private_key_pem: str
    """Secret of the merchant: signs its requests."""
    merchant_cert_pem: str
    root_cert_pem: str
    middle_cert_pem: str
    unionpay_sign_key_pem: str
    """Simulator side: UnionPay's signing key."""
    unionpay_sign_cert_pem: str

    def registration(self) -> MerchantRegistration:
        return MerchantRegistration(self.mer_id, self.merchant_cert_pem)

    def simulator_config(self, **options: Any) -> SimulatorConfig:
        """A config knowing this one merchant; ``options`` are other :class:`SimulatorConfig`
        fields."""
        return SimulatorConfig(
            sign_private_key_pem=self.unionpay_sign_key_pem,
            sign_cert_pem=self.unionpay_sign_cert_pem,
            merchants={self.mer_id: self.registration()},
            **options,
        )

    def credential_fields(self) -> dict[str, str]:
        """The merchant side, as ``UnionPayCredentials`` takes it."""
        return {
            "mer_id": self.mer_id,
            "sign_cert_id": self.sign_cert_id,
            "sign_private_key_pem": self.sign_private_key_pem,
            "root_cert_pem": self.root_cert_pem,
            "middle_cert_pem": self.middle_cert_pem,
        }


def generate_test_credentials(mer_id: str = "777000000000001") -> SandboxCredentials:
    """A fresh root, intermediate, UnionPay signing certificate and merchant signing key and
    certificate (four RSA 2048 keys: about a second)."""
    pki = certs.make_pki()
    merchant = certs.issue(
        f"sandbox@merchant@{mer_id}@00000001", issuer=pki.middle, ca=False, years=certs.LEAF_YEARS
    )
    return SandboxCredentials(
        mer_id=mer_id,
        sign_cert_id=merchant.serial,
        sign_private_key_pem=merchant.key_pem,
        merchant_cert_pem=merchant.cert_pem,
        root_cert_pem=pki.root.cert_pem,
        middle_cert_pem=pki.middle.cert_pem,
        unionpay_sign_key_pem=pki.unionpay_sign.key_pem,
        unionpay_sign_cert_pem=pki.unionpay_sign.cert_pem,
    )
