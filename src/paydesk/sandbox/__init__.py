"""The sandbox: the channel simulators served by Paydesk itself, and what keeps them usable.

:mod:`.credentials` (the simulators' keys, made once and kept under the data directory),
:mod:`.mount` (``/sandbox/wechatpay``, ``/sandbox/alipay``, ``/sandbox/webhook-inbox``),
:mod:`.inbox` (the webhook inbox) and :mod:`.accounts` (a merchant's sandbox channel accounts
holding those keys). Enabled by ``PAYDESK_SANDBOX_ENABLED`` (default: on in development).
See docs/sandbox.md.
"""

from paydesk.sandbox.accounts import EnsuredAccount, Outcome, ensure_sandbox_account
from paydesk.sandbox.credentials import SandboxCredentialsError, SandboxKeys, load_or_create
from paydesk.sandbox.mount import Sandbox, mount_sandbox

__all__ = [
    "EnsuredAccount",
    "Outcome",
    "Sandbox",
    "SandboxCredentialsError",
    "SandboxKeys",
    "ensure_sandbox_account",
    "load_or_create",
    "mount_sandbox",
]
