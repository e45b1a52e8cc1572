"""The credentials of a Stripe account: :class:`StripeCredentials`.

Checked before anything is stored (``ChannelCredentials``: unknown fields are refused): each
key must have Stripe's shape, and the secret and publishable keys must be of one mode (test or
live). The secret key and the webhook signing secret are left out of ``repr``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from paydesk.channels.accounts.credentials import ChannelCredentials
from paydesk.channels.base import Connector
from paydesk.channels.stripe.config import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    STRIPE_API_URL,
    TIMEOUT_S_DEFAULT,
    WEBHOOK_SECRET,
    StripeConfig,
    key_mode,
)
from paydesk.channels.stripe.connector import StripeConnector


class StripeCredentials(ChannelCredentials):
    """A Stripe account: its API keys and the signing secret of Paydesk's webhook endpoint."""

    secret_key: str = Field(
        pattern=SECRET_KEY.pattern,
        repr=False,
        description="Secret. sk_test_... or sk_live_...: authenticates every API call.",
    )
    publishable_key: str = Field(
        pattern=PUBLISHABLE_KEY.pattern,
        description="pk_test_... or pk_live_...: for Stripe.js on the payer's device.",
    )
    webhook_secret: str = Field(
        pattern=WEBHOOK_SECRET.pattern,
        repr=False,
        description="Secret. whsec_...: verifies the Stripe-Signature of webhook events.",
    )

    @model_validator(mode="after")
    def check_one_mode(self) -> StripeCredentials:
        if key_mode(self.secret_key) != key_mode(self.publishable_key):
            raise ValueError("the secret and publishable keys are of different modes")
        return self

    @property
    def livemode(self) -> bool:
        return key_mode(self.secret_key) == "live"

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        """``gateway_url`` None: Stripe itself (:data:`STRIPE_API_URL`). ``sandbox``: the
        gateway is the sandbox's, which is localstripe (docs/sandbox.md), so the connector
        speaks its dialect. Builds the SDK client only: no network."""
        config = StripeConfig(
            secret_key=self.secret_key,
            webhook_secret=self.webhook_secret,
            publishable_key=self.publishable_key,
            api_url=gateway_url or STRIPE_API_URL,
            timeout_s=timeout_s or TIMEOUT_S_DEFAULT,
            localstripe=sandbox,
        )
        return StripeConnector(config)
