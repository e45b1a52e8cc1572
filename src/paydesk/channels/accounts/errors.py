"""Errors of channel accounts::

    PaydeskError
    ├── InvalidRequest (400)      unknown_channel, invalid_credentials,
    │                             channel_account_identity_changed
    ├── PermissionDenied (403)    mode_not_allowed (merchants.errors.ModeNotAllowed)
    ├── NotFound (404)            channel_account_not_found
    ├── Conflict (409)            channel_account_name_taken, channel_account_disabled
    ├── CredentialsUnreadable     500 channel_credentials_unreadable
    └── SandboxUnavailable        503 sandbox_unavailable

A message never quotes a credential value: it names the field (``param``) and the rule.
"""

from __future__ import annotations

from paydesk.core.errors import Conflict, InvalidRequest, NotFound, PaydeskError


class UnknownChannel(InvalidRequest):
    code = "unknown_channel"


class InvalidCredentials(InvalidRequest):
    """A credential is missing, unknown to the channel, malformed, or a key does not parse."""

    code = "invalid_credentials"


class IdentityChanged(InvalidRequest):
    """Rotation replaces keys, not the account at the channel: payments made through the
    account are queried and refunded with its merchant number / app id."""

    code = "channel_account_identity_changed"


class ChannelAccountNotFound(NotFound):
    code = "channel_account_not_found"


class ChannelAccountNameTaken(Conflict):
    code = "channel_account_name_taken"


class ChannelAccountDisabled(Conflict):
    code = "channel_account_disabled"


class CredentialsUnreadable(PaydeskError):
    """The stored credentials do not decrypt (the server secret key changed) or no longer
    make a connector: an operator must rotate them."""

    status = 500
    code = "channel_credentials_unreadable"


class SandboxUnavailable(PaydeskError):
    """A sandbox account needs the simulators mounted in Paydesk, and they are not."""

    status = 503
    code = "sandbox_unavailable"
