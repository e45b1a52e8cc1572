"""Cards through Stripe: the connector of one Stripe account.

One folder, hyperswitch-style (STYLE.md): :mod:`.connector` holds the flows over the
unmodified ``stripe`` SDK, :mod:`.transformers` the SDK parameters and the mapping of Stripe's
objects onto base.py's types (pure), :mod:`.errors` the SDK's exceptions as channel errors,
:mod:`.config` the account's settings, :mod:`.credentials` the stored credentials. See
docs/channels-stripe.md.

Every module imports the SDK as ``import stripe``: imports are absolute, so this package
(``paydesk.channels.stripe``) never shadows it.

    connector = StripeConnector(StripeConfig(secret_key, webhook_secret, publishable_key))
"""

from paydesk.channels.stripe.config import STRIPE_API_URL, StripeConfig
from paydesk.channels.stripe.connector import StripeConnector
from paydesk.channels.stripe.credentials import StripeCredentials
from paydesk.channels.stripe.errors import StripeRejected

__all__ = [
    "STRIPE_API_URL",
    "StripeConfig",
    "StripeConnector",
    "StripeCredentials",
    "StripeRejected",
]
