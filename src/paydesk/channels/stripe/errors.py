"""The ``stripe`` SDK's exceptions as base.py's channel errors.

::

    stripe.StripeError                      → ChannelError (anything not below)
    ├── APIConnectionError
    │     never sent: the connection was refused, timed out or could not be resolved
    │                                       → ChannelUnavailable
    │     TLS failed                        → ChannelError
    │     sent, no (whole) answer: read time-out, connection lost → ChannelTimeout
    ├── CardError (402)                     → StripeRejected, with Stripe's decline code
    ├── IdempotencyError                    → StripeRejected (a key reused with other params)
    ├── InvalidRequestError (400, 404)
    │     404 / ``resource_missing`` on the object the call is about
    │                                       → the call's ``missing`` (PaymentNotFound, ...)
    │     otherwise                         → StripeRejected
    ├── AuthenticationError (401), PermissionError (403) → ChannelError (not transient)
    ├── RateLimitError (429, and ``lock_timeout``) → ChannelUnavailable
    └── APIError: 5xx → ChannelUnavailable; 409 (another request with the same idempotency key
          is in flight) → ChannelUnavailable; any other status → ChannelError

How "never sent" is told apart: the SDK's ``RequestsClient`` raises ``APIConnectionError``
*from* the ``requests`` exception (``__cause__``), and ``requests`` keeps urllib3's error in
its ``args``: a connect failure is a ``MaxRetryError`` whose ``reason`` is a
``ConnectTimeoutError`` (``NewConnectionError``, ``NameResolutionError`` are subclasses).
Nothing was sent then, so the payment cannot exist: ChannelUnavailable. Every other
connection failure happened after the request may have gone out, so the outcome is unknown:
ChannelTimeout, which makes the order centre query. When the cause cannot be read (another
HTTP client), ChannelTimeout is the safe answer for the same reason.

Stripe documents 5xx answers as indeterminate too; they are ChannelUnavailable here (the
payments service treats ChannelUnavailable and ChannelTimeout on create alike: the attempt
becomes UNKNOWN and is queried), and a retried call carries the same idempotency key.
"""

from __future__ import annotations

import stripe
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.exceptions import SSLError as Urllib3SSLError

from paydesk.channels.base import (
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
)

MESSAGE_CHARS_MAX = 300


class StripeRejected(ChannelRejected):
    """Stripe refused the request; its own codes are kept for operators."""

    def __init__(
        self,
        message: str,
        *,
        stripe_code: str | None,
        decline_code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, param=param)
        self.stripe_code = stripe_code
        self.decline_code = decline_code


def _connect_failure(error: stripe.APIConnectionError) -> MaxRetryError | None:
    cause = error.__cause__
    for arg in getattr(cause, "args", ()):
        if isinstance(arg, MaxRetryError):
            return arg
    return None


def connection_error(operation: str, error: stripe.APIConnectionError) -> ChannelError:
    """A failed exchange: not sent (ChannelUnavailable) or outcome unknown (ChannelTimeout)."""
    retried = _connect_failure(error)
    cause = error.__cause__
    detail = type(cause).__name__ if cause is not None else "connection error"
    if retried is not None and isinstance(retried.reason, ConnectTimeoutError):
        return ChannelUnavailable(f"Stripe {operation}: the API cannot be reached ({detail})")
    if retried is not None and isinstance(retried.reason, Urllib3SSLError):
        return ChannelError(f"Stripe {operation}: TLS with the API failed")
    return ChannelTimeout(f"Stripe {operation}: no answer ({detail}); the outcome is unknown")


def _message(operation: str, error: stripe.StripeError) -> str:
    text = (error.user_message or type(error).__name__)[:MESSAGE_CHARS_MAX]
    status = f"HTTP {error.http_status} " if error.http_status else ""
    code = f"{error.code} " if error.code else ""
    return f"Stripe {operation}: {status}{code}{text}".strip()


def from_stripe_error(
    operation: str,
    error: stripe.StripeError,
    *,
    missing: type[ChannelRejected] = ChannelRejected,
) -> ChannelError:
    """The channel error for ``error`` raised by the SDK during ``operation``.

    ``missing``: what a 404 (or ``resource_missing``) means for this call, e.g.
    :class:`PaymentNotFound` when the call names a PaymentIntent. Calls that name other
    objects too (a create naming a PaymentMethod) pass ChannelRejected."""
    message = _message(operation, error)
    if isinstance(error, stripe.APIConnectionError):
        return connection_error(operation, error)
    if isinstance(error, stripe.CardError):
        decline_code = error.error.decline_code if error.error is not None else None
        if decline_code:
            message = f"{message} (decline_code {decline_code})"
        return StripeRejected(
            message, stripe_code=error.code, decline_code=decline_code, param=error.param
        )
    if isinstance(error, stripe.IdempotencyError):
        return StripeRejected(message, stripe_code=error.code)
    if isinstance(error, stripe.InvalidRequestError):
        if error.code == "resource_missing" or error.http_status == 404:
            if missing is ChannelRejected:
                return StripeRejected(message, stripe_code=error.code, param=error.param)
            return missing(message, param=error.param)
        return StripeRejected(message, stripe_code=error.code, param=error.param)
    if isinstance(error, stripe.RateLimitError):
        return ChannelUnavailable(message)
    if isinstance(error, stripe.APIError) and (
        (error.http_status or 0) >= 500 or error.http_status == 409
    ):
        return ChannelUnavailable(message)
    return ChannelError(message)
