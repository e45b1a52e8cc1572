"""Sandbox channel accounts: any merchant's accounts at the simulators mounted in Paydesk.

The mounted simulators know one WeChat Pay merchant and one Alipay app (the persisted
:class:`~paydesk.sandbox.credentials.SandboxKeys`), so every sandbox account holds those same
credentials. Nothing forbids two merchants' accounts from naming the same merchant number or
app id: channel accounts are unique by (merchant, name) only, and payments never collide at
the channel, because each attempt's ``out_trade_no`` is the attempt's own id (unique across
merchants) and notifications come back to ``/notify/{channel}/{account_id}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from paydesk.channels.accounts import repository as channel_repo
from paydesk.channels.accounts import service as channel_service
from paydesk.channels.accounts.errors import ChannelAccountNameTaken
from paydesk.channels.accounts.models import ChannelAccount, ChannelAccountMode
from paydesk.sandbox.credentials import SandboxKeys

DEFAULT_NAMES = {
    "wechatpay": "WeChat Pay sandbox",
    "alipay": "Alipay sandbox",
    "qqwallet": "QQ Wallet sandbox",
    "unionpay": "UnionPay sandbox",
}
"""The names ``paydesk channels sandbox-account`` gives when told none."""


class Outcome(StrEnum):
    CREATED = "created"
    FOUND = "found"
    """It exists and holds the current sandbox keys."""
    ROTATED = "rotated"
    """It existed with other keys (the sandbox keys were made again): it now holds these."""


@dataclass(frozen=True, slots=True)
class EnsuredAccount:
    account: ChannelAccount
    outcome: Outcome


def ensure_sandbox_account(
    session: Session,
    merchant_id: str,
    channel: str,
    *,
    keys: SandboxKeys,
    secret: str,
    actor: str,
    name: str | None = None,
) -> EnsuredAccount:
    """The merchant's sandbox account at ``channel`` named ``name``, holding the sandbox's
    keys: created if missing, its credentials rotated if they are not the current keys.

    A differently made account under that name (live, or at another channel) is refused with
    ``channel_account_name_taken``: it is never changed. A disabled account stays disabled.
    """
    fields = keys.account_fields(channel)
    name = (name or DEFAULT_NAMES[channel]).strip()
    existing = channel_repo.account_named(session, merchant_id, name)
    if existing is None:
        account = channel_service.create_account(
            session,
            merchant_id,
            channel=channel,
            name=name,
            mode=ChannelAccountMode.SANDBOX,
            credentials=fields,
            secret=secret,
            actor=actor,
        )
        return EnsuredAccount(account, Outcome.CREATED)
    if existing.channel != channel or existing.mode != ChannelAccountMode.SANDBOX:
        raise ChannelAccountNameTaken(
            f"this merchant's channel account {name!r} is a {existing.mode} {existing.channel} "
            f"account, not a sandbox {channel} account; choose another name",
            param="name",
        )
    if channel_service.holds_credentials(existing, fields, secret=secret):
        return EnsuredAccount(existing, Outcome.FOUND)
    account = channel_service.rotate_credentials(
        session, merchant_id, existing.id, fields, secret=secret, actor=actor
    )
    return EnsuredAccount(account, Outcome.ROTATED)
