"""One Stripe account: :class:`StripeConfig`.

What the account needs, following CHANNELS.md ("Cards through Stripe"):

- every API call authenticates with the account's *secret key* (``sk_test_...`` or
  ``sk_live_...``, sent as a Bearer token by the SDK);
- each webhook endpoint has its own *signing secret* (``whsec_...``) that verifies the
  ``Stripe-Signature`` header of the events it receives;
- the payer's browser or app needs the *publishable key* (``pk_...``) to run Stripe.js and
  confirm a card with the PaymentIntent's ``client_secret``: it is not a secret.

The secret key and the signing secret never appear in :meth:`StripeConfig.__repr__`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRIPE_API_URL = "https://api.stripe.com"
"""Stripe's API host (the SDK's default ``api`` base address)."""

TIMEOUT_S_DEFAULT = 10.0
TIMEOUT_S_MAX = 120.0
LOOKUP_SCAN_MAX_DEFAULT = 1_000
"""How many PaymentIntents (newest first at Stripe) a look-up by ``out_trade_no`` reads before
giving up: the look-up is for a payment whose create answer was lost, which is recent."""
STATEMENT_ROWS_MAX_DEFAULT = 1_000_000
"""Most balance transactions one day's statement may hold (a bound on memory)."""

SECRET_KEY = re.compile(r"sk_(test|live)_[0-9A-Za-z]{1,247}")
PUBLISHABLE_KEY = re.compile(r"pk_(test|live)_[0-9A-Za-z]{1,247}")
WEBHOOK_SECRET = re.compile(r"whsec_[\x21-\x7e]{1,250}")
"""``whsec_`` then printable ASCII without spaces (Stripe's are base64-like)."""


def key_mode(key: str) -> str:
    """``test`` or ``live``: the mode a ``sk_``/``pk_`` key belongs to."""
    return key.split("_", 2)[1]


@dataclass(frozen=True, slots=True, repr=False)
class StripeConfig:
    """A Stripe account, as its connector needs it."""

    secret_key: str
    """Secret. ``sk_test_...`` or ``sk_live_...``: authenticates every API call."""
    webhook_secret: str
    """Secret. ``whsec_...``: the signing secret of the webhook endpoint Paydesk serves."""
    publishable_key: str | None = None
    """``pk_test_...`` / ``pk_live_...``, handed to Stripe.js with the ``client_secret``."""
    api_url: str = STRIPE_API_URL
    """Where the API is: Stripe, or localstripe on loopback (``http://127.0.0.1:PORT``)."""
    timeout_s: float = TIMEOUT_S_DEFAULT
    """Seconds to wait to connect, then for each read of the answer (the SDK's
    ``RequestsClient(timeout=...)``, ``requests`` semantics): not a bound on the whole call."""
    localstripe: bool = False
    """The API is localstripe (tests), which models an older API and refuses every parameter
    it does not know: creates say ``payment_method_types`` instead of
    ``allowed_payment_method_types`` and leave out ``description`` and ``return_url``. Never
    set it for Stripe itself."""
    lookup_scan_max: int = LOOKUP_SCAN_MAX_DEFAULT
    statement_rows_max: int = STATEMENT_ROWS_MAX_DEFAULT

    def __post_init__(self) -> None:
        if not SECRET_KEY.fullmatch(self.secret_key):
            raise ValueError("secret_key must be a Stripe secret key (sk_test_... or sk_live_...)")
        if not WEBHOOK_SECRET.fullmatch(self.webhook_secret):
            raise ValueError("webhook_secret must be a webhook signing secret (whsec_...)")
        if self.publishable_key is not None:
            if not PUBLISHABLE_KEY.fullmatch(self.publishable_key):
                raise ValueError("publishable_key must be pk_test_... or pk_live_...")
            if key_mode(self.publishable_key) != key_mode(self.secret_key):
                raise ValueError("the secret and publishable keys are of different modes")
        if not self.api_url.startswith(("https://", "http://")) or "?" in self.api_url:
            raise ValueError("api_url must be an http(s) URL without a query string")
        if not 0 < self.timeout_s <= TIMEOUT_S_MAX:
            raise ValueError(f"timeout_s must be within (0, {TIMEOUT_S_MAX}]")
        if self.lookup_scan_max <= 0 or self.statement_rows_max <= 0:
            raise ValueError("lookup_scan_max and statement_rows_max must be positive")

    @property
    def livemode(self) -> bool:
        """Whether the key is a live one (events must then say ``livemode: true``)."""
        return key_mode(self.secret_key) == "live"

    @property
    def api_base(self) -> str:
        """The API URL without a trailing slash: the SDK appends ``/v1/...``."""
        return self.api_url.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"StripeConfig(publishable_key={self.publishable_key!r}, "
            f"api_url={self.api_url!r}, timeout_s={self.timeout_s!r}, "
            f"localstripe={self.localstripe!r}, secret_key=<redacted>, "
            f"webhook_secret=<redacted>)"
        )

    __str__ = __repr__
