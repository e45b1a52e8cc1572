"""Use cases on channel accounts. Services never commit.

Credentials are checked by the channel's registry entry, then stored as one JSON document
encrypted with the server secret in the context ``channel-account:<id>`` (a ciphertext copied
to another row does not decrypt). What is read back is never a secret: the public fields, the
names of the secret fields that are set, and a fingerprint of the stored ciphertext that
changes whenever the credentials are rotated. Only :func:`load_connector` decrypts (and
:func:`holds_credentials`, which answers yes or no).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from paydesk.channels.accounts import registry
from paydesk.channels.accounts import repository as repo
from paydesk.channels.accounts.credentials import ChannelCredentials
from paydesk.channels.accounts.errors import (
    ChannelAccountDisabled,
    ChannelAccountNameTaken,
    ChannelAccountNotFound,
    CredentialsUnreadable,
    IdentityChanged,
    SandboxUnavailable,
)
from paydesk.channels.accounts.models import (
    ChannelAccount,
    ChannelAccountMode,
    ChannelAccountStatus,
)
from paydesk.channels.base import Connector
from paydesk.core import clock, crypto
from paydesk.core.errors import InvalidRequest
from paydesk.core.ids import new_id
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.merchants.errors import ModeNotAllowed
from paydesk.merchants.models import KeyMode
from paydesk.merchants.principal import Principal
from paydesk.merchants.service import audit, get_merchant

ID_PREFIX = "cha"
NAME_LENGTH_MAX = 200
FINGERPRINT_HEX_LENGTH = 16
"""64 bits of SHA-256: enough to tell two versions of an account's credentials apart."""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as a merchant or operator sees it: no secret, no key."""

    id: str
    merchant_id: str
    channel: str
    name: str
    mode: ChannelAccountMode
    status: ChannelAccountStatus
    public_fields: dict[str, str]
    secret_fields_set: list[str]
    credentials_fingerprint: str
    """A prefix of the SHA-256 of the stored ciphertext: changes on every rotation."""
    gray_users: list[str]
    created_at: datetime
    updated_at: datetime


def _context(account_id: str) -> str:
    return f"channel-account:{account_id}"


def fingerprint(account: ChannelAccount) -> str:
    digest = hashlib.sha256(account.credentials_encrypted.encode()).hexdigest()
    return digest[:FINGERPRINT_HEX_LENGTH]


def describe(account: ChannelAccount) -> AccountSummary:
    """What may be shown of ``account``. Every secret field is required by its channel, so a
    stored account has them all set."""
    spec = registry.spec_of(account.channel)
    return AccountSummary(
        id=account.id,
        merchant_id=account.merchant_id,
        channel=account.channel,
        name=account.name,
        mode=ChannelAccountMode(account.mode),
        status=ChannelAccountStatus(account.status),
        public_fields={str(k): str(v) for k, v in account.public_fields.items()},
        secret_fields_set=list(spec.secret_fields),
        credentials_fingerprint=fingerprint(account),
        gray_users=list(account.gray_users or []),
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LENGTH_MAX:
        raise InvalidRequest(f"name must be 1 to {NAME_LENGTH_MAX} characters", param="name")
    return name


def _check_mode(caller: Principal | None, mode: str, param: str | None = None) -> None:
    """A test-mode merchant key works on sandbox accounts only, as it cannot create live
    keys either. ``caller`` None: the operator's CLI."""
    if caller is None or caller.is_admin or caller.mode is not KeyMode.TEST:
        return
    if mode == ChannelAccountMode.LIVE:
        raise ModeNotAllowed("a test-mode key cannot change live channel accounts", param=param)


def _seal(account_id: str, credentials: ChannelCredentials, secret: str) -> str:
    plain = credentials.model_dump_json(exclude_none=True)
    return crypto.encrypt(secret, plain, context=_context(account_id))


def create_account(
    session: Session,
    merchant_id: str,
    *,
    channel: str,
    name: str,
    mode: ChannelAccountMode,
    credentials: Mapping[str, Any],
    secret: str,
    actor: str,
    caller: Principal | None = None,
) -> ChannelAccount:
    """A new active account of ``merchant_id`` at ``channel``."""
    merchant = get_merchant(session, merchant_id)
    _check_mode(caller, mode, param="mode")
    name = _check_name(name)
    checked = registry.parse_credentials(channel, credentials)
    if repo.account_named(session, merchant.id, name) is not None:
        raise ChannelAccountNameTaken(
            f"this merchant already has a channel account named {name!r}", param="name"
        )
    now = clock.now()
    account_id = new_id(ID_PREFIX)
    account = ChannelAccount(
        id=account_id,
        merchant_id=merchant.id,
        channel=channel,
        name=name,
        mode=mode.value,
        status=ChannelAccountStatus.ACTIVE.value,
        credentials_encrypted=_seal(account_id, checked, secret),
        public_fields=registry.public_values(channel, checked),
        created_at=now,
        updated_at=now,
    )
    repo.add(session, account)
    audit(session, merchant.id, actor, "channel_account.created", account_id)
    return account


def get_account(session: Session, merchant_id: str | None, account_id: str) -> ChannelAccount:
    """An account of ``merchant_id`` (``None``: of any merchant, for admins)."""
    account = repo.account(session, merchant_id, account_id)
    if account is None:
        raise ChannelAccountNotFound(f"no channel account {account_id}")
    return account


def list_accounts(
    session: Session,
    merchant_id: str | None,
    *,
    channel: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
) -> PageResult[ChannelAccount]:
    if channel is not None:
        registry.spec_of(channel)
    rows = repo.accounts(
        session, merchant_id, channel=channel, after_id=after_id, limit=page_size(limit) + 1
    )
    return trim(rows, limit)


def rotate_credentials(
    session: Session,
    merchant_id: str | None,
    account_id: str,
    credentials: Mapping[str, Any],
    *,
    secret: str,
    actor: str,
    caller: Principal | None = None,
) -> ChannelAccount:
    """Replace every credential of the account at once (a new key, a new certificate
    serial, a new APIv3 key). The account's identity at the channel stays the same."""
    account = get_account(session, merchant_id, account_id)
    _check_mode(caller, account.mode)
    checked = registry.parse_credentials(account.channel, credentials)
    shown = registry.public_values(account.channel, checked)
    for field in registry.spec_of(account.channel).identity_fields:
        if shown.get(field) != account.public_fields.get(field):
            raise IdentityChanged(
                f"credentials.{field} cannot change: open a new channel account for another "
                "account at the channel",
                param=f"credentials.{field}",
            )
    account.credentials_encrypted = _seal(account.id, checked, secret)
    account.public_fields = shown
    account.updated_at = clock.now()
    session.flush()
    audit(session, account.merchant_id, actor, "channel_account.credentials_rotated", account.id)
    return account


def set_status(
    session: Session,
    merchant_id: str | None,
    account_id: str,
    status: ChannelAccountStatus,
    *,
    actor: str,
    caller: Principal | None = None,
) -> ChannelAccount:
    """Enable or disable an account; asking for the status it has changes nothing."""
    account = get_account(session, merchant_id, account_id)
    _check_mode(caller, account.mode)
    if account.status != status:
        account.status = status.value
        account.updated_at = clock.now()
        session.flush()
        audit(session, account.merchant_id, actor, f"channel_account.{status.value}", account.id)
    return account


GRAY_USERS_MAX = 1000


def set_gray_users(
    session: Session,
    merchant_id: str | None,
    account_id: str,
    users: list[str],
    *,
    actor: str,
    caller: Principal | None = None,
) -> ChannelAccount:
    """Gray release: only these users' payments are routed to the account (empty: all)."""
    account = get_account(session, merchant_id, account_id)
    _check_mode(caller, account.mode)
    cleaned = sorted(set(users))
    if len(cleaned) > GRAY_USERS_MAX:
        raise InvalidRequest(f"at most {GRAY_USERS_MAX} gray users", param="users")
    if any(not user or len(user) > 128 for user in cleaned):
        raise InvalidRequest("user ids are 1 to 128 characters", param="users")
    account.gray_users = cleaned
    account.updated_at = clock.now()
    session.flush()
    audit(session, account.merchant_id, actor, "channel_account.gray_users", account.id)
    return account


def holds_credentials(
    account: ChannelAccount, credentials: Mapping[str, Any], *, secret: str
) -> bool:
    """Whether ``account`` stores exactly ``credentials`` (False too when its stored set no
    longer decrypts). Shows nothing of what is stored: for keeping an account in step with
    keys made elsewhere, such as the sandbox's."""
    checked = registry.parse_credentials(account.channel, credentials)
    try:
        plain = crypto.decrypt(secret, account.credentials_encrypted, context=_context(account.id))
        stored = json.loads(plain)
    except (crypto.DecryptionFailed, ValueError):
        return False
    return bool(stored == checked.model_dump(exclude_none=True))


def load_connector(
    session: Session,
    merchant_id: str,
    account_id: str,
    *,
    secret: str,
    sandbox_base_url: str | None,
    timeout_s: float | None = None,
) -> Connector:
    """The connector of an active account of ``merchant_id``, its credentials decrypted.

    A live account talks to the channel's real gateway. A sandbox account talks to the
    channel's simulator under ``sandbox_base_url``, where Paydesk mounts the simulators
    (``https://paydesk.example/sandbox``: WeChat Pay at ``/wechatpay``, Alipay at
    ``/alipay/gateway.do``); without it, :class:`SandboxUnavailable`.
    """
    account = get_account(session, merchant_id, account_id)
    if account.status != ChannelAccountStatus.ACTIVE:
        raise ChannelAccountDisabled(f"channel account {account.id} is disabled")
    spec = registry.spec_of(account.channel)
    gateway_url: str | None = None
    if account.mode == ChannelAccountMode.SANDBOX:
        if not sandbox_base_url:
            raise SandboxUnavailable("the channel simulators are not mounted on this server")
        gateway_url = sandbox_base_url.rstrip("/") + spec.sandbox_path
    unreadable = f"the credentials of channel account {account.id} cannot be used; rotate them"
    try:
        plain = crypto.decrypt(secret, account.credentials_encrypted, context=_context(account.id))
        credentials = spec.credentials.model_validate(json.loads(plain))
        return registry.build_connector(
            account, credentials, gateway_url=gateway_url, timeout_s=timeout_s
        )
    except (crypto.DecryptionFailed, ValidationError, ValueError):
        # ValidationError and JSONDecodeError are ValueErrors; named for the reader.
        raise CredentialsUnreadable(unreadable) from None
