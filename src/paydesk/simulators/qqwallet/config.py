"""What a QQ Wallet simulator knows: the merchants it serves (each with its API key and refund
operator), how it retries notifications; plus :func:`generate_test_credentials`.

QQ Wallet signs with a shared secret, the merchant's API key (no key pairs): the simulator
verifies requests and signs answers and notifications with the key of the merchant named by
``mch_id``. Keys are made at run time by :func:`generate_test_credentials`; none is committed.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from paydesk.simulators.qqwallet.faults import FaultBook

API_KEY_LENGTH = 32
HOLD_S_MAX_DEFAULT = 60.0

RETRY_SCHEDULE_S: tuple[float, ...] = (15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600)
"""Waits between notification attempts after a failed one: WeChat Pay v2's published
15s/15s/30s/3m/30m/30m/30m/30m/60m (10 attempts in about 3 hours). QQ Wallet's own schedule
could not be read; the simulator borrows v2's, whose API QQ Wallet's mirrors."""


@dataclass(frozen=True)
class MerchantConfig:
    """One merchant the simulated platform knows."""

    mch_id: str
    api_key: str = field(repr=False)
    """Verifies the merchant's request signs; signs answers and notifications."""
    op_user_id: str
    """The operator allowed to refund."""
    op_user_password: str = field(repr=False)
    """Refunds must carry its MD5 as ``op_user_passwd``."""
    appid: str | None = None
    """The merchant's open-platform app, when requests must name it (None: any or none)."""
    name: str = "Paydesk sandbox merchant"
    """Shown to the payer on the pay page."""
    fee_rate_bps: int = 60
    """The channel fee in basis points of the paid amount (60 = 0.60%), for the statement."""

    def __post_init__(self) -> None:
        if not self.mch_id.isdigit():
            raise ValueError("mch_id must be digits")
        if len(self.api_key) != API_KEY_LENGTH:
            raise ValueError(f"the API key must be {API_KEY_LENGTH} characters")


@dataclass
class SimulatorConfig:
    """Everything :func:`~paydesk.simulators.qqwallet.create_simulator` needs."""

    merchants: dict[str, MerchantConfig] = field(default_factory=dict)
    retry_schedule_s: tuple[float, ...] = RETRY_SCHEDULE_S
    notify_timeout_s: float = 5.0
    """How long one notification attempt waits for the merchant's answer."""
    hold_s_max: float = HOLD_S_MAX_DEFAULT
    """The longest a call picked by the ``timeout_next_n`` fault is held when the caller does
    not hang up first."""
    public_base_url: str | None = None
    """Base URL of the simulator as payers reach it (for ``code_url``); by default taken from
    each request."""
    clock: Callable[[], float] = time.time
    """Seconds since the epoch; tests freeze it to keep one statement day."""
    faults: FaultBook = field(default_factory=FaultBook)
    """Failure injection, shared with ``POST /simulator/faults``."""

    def __post_init__(self) -> None:
        if any(not delay_s >= 0 for delay_s in self.retry_schedule_s):
            raise ValueError("retry waits must be >= 0 seconds")
        if not 0 < self.hold_s_max <= 600:
            raise ValueError("hold_s_max must be more than 0 and at most 600 seconds")

    @staticmethod
    def with_merchants(merchants: Iterable[MerchantConfig], **options: Any) -> SimulatorConfig:
        return SimulatorConfig(merchants={m.mch_id: m for m in merchants}, **options)


@dataclass(frozen=True)
class TestCredentials:
    """Both sides of one simulated merchant, freshly generated."""

    __test__ = False  # not a pytest test class, whatever its name

    mch_id: str
    appid: str
    api_key: str = field(repr=False)
    op_user_id: str
    op_user_password: str = field(repr=False)
    app_key: str = field(repr=False)
    """The open-platform AppKey of ``appid`` (signs the app SDK's ``sig``; the simulator
    itself never sees it, as QQ Wallet's merchant API never does)."""

    def merchant(self, **options: Any) -> MerchantConfig:
        """This merchant as the simulator sees it."""
        return MerchantConfig(
            mch_id=self.mch_id,
            api_key=self.api_key,
            op_user_id=self.op_user_id,
            op_user_password=self.op_user_password,
            appid=self.appid,
            **options,
        )

    def simulator_config(self, **options: Any) -> SimulatorConfig:
        """A simulator config that knows this one merchant."""
        return SimulatorConfig.with_merchants([self.merchant()], **options)


def _random(alphabet: str, count: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


def generate_test_credentials(mch_id: str | None = None) -> TestCredentials:
    """A merchant number and app id in QQ Wallet's shapes, and random secrets: a 32-character
    API key, an operator password and an AppKey."""
    number = mch_id or "19" + _random(string.digits, 8)
    return TestCredentials(
        mch_id=number,
        appid="11" + _random(string.digits, 8),
        api_key=_random(string.ascii_letters + string.digits, API_KEY_LENGTH),
        op_user_id=number,
        op_user_password=secrets.token_urlsafe(12),
        app_key=secrets.token_hex(16),
    )
