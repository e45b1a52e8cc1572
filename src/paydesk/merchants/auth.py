"""API keys: issue, revoke, list, and authenticate a request's bearer key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.core.pagination import PageResult, page_size, trim
from paydesk.merchants import key_cache
from paydesk.merchants import repository as repo
from paydesk.merchants.errors import (
    InvalidKey,
    KeyAlreadyRevoked,
    KeyNotFound,
    MerchantSuspended,
    MissingKey,
    ModeNotAllowed,
    RevokedKey,
)
from paydesk.merchants.keys import generate_key, hash_key, is_well_formed
from paydesk.merchants.models import ApiKey, KeyMode, KeyRole, MerchantKind, MerchantStatus
from paydesk.merchants.principal import Principal
from paydesk.merchants.service import audit, ensure_platform, get_app, get_merchant

LABEL_LENGTH_MAX = 200


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str
    """Shown once, in the response to its creation; Paydesk keeps only its hash."""


def issue_key(
    session: Session,
    *,
    merchant_id: str,
    mode: KeyMode,
    app_id: str | None = None,
    label: str = "",
    actor: str,
    issuer: Principal | None = None,
) -> IssuedKey:
    """A new merchant key. A test-mode key may only issue test-mode keys."""
    test_issuer = issuer is not None and not issuer.is_admin and issuer.mode is KeyMode.TEST
    if test_issuer and mode is KeyMode.LIVE:
        raise ModeNotAllowed("a test-mode key cannot create live-mode keys", param="mode")
    merchant = get_merchant(session, merchant_id)
    if merchant.kind == MerchantKind.PLATFORM:
        raise ModeNotAllowed("the platform has admin keys, not merchant keys")
    if app_id is not None:
        get_app(session, merchant.id, app_id)
    return _issue(session, merchant.id, KeyRole.MERCHANT, mode, app_id, label, actor)


def issue_admin_key(session: Session, *, label: str = "", actor: str) -> IssuedKey:
    """A new platform admin key (on the platform root merchant)."""
    root = ensure_platform(session)
    return _issue(session, root.id, KeyRole.ADMIN, KeyMode.LIVE, None, label, actor)


def _issue(
    session: Session,
    merchant_id: str,
    role: KeyRole,
    mode: KeyMode,
    app_id: str | None,
    label: str,
    actor: str,
) -> IssuedKey:
    new = generate_key(role, mode)
    key = ApiKey(
        id=new_id("key"),
        merchant_id=merchant_id,
        app_id=app_id,
        role=role,
        mode=mode,
        key_hash=new.key_hash,
        display_prefix=new.display_prefix,
        label=label.strip()[:LABEL_LENGTH_MAX],
        created_at=clock.now(),
        revoked_at=None,
    )
    repo.add(session, key)
    audit(session, merchant_id, actor, "api_key.created", key.id)
    return IssuedKey(key=key, secret=new.secret)


def revoke_key(session: Session, merchant_id: str | None, key_id: str, *, actor: str) -> ApiKey:
    """Revoke a key of ``merchant_id`` (``None``: any merchant, for admins), for good."""
    key = repo.key(session, merchant_id, key_id)
    if key is None:
        raise KeyNotFound(f"no API key {key_id}")
    if key.revoked_at is not None:
        raise KeyAlreadyRevoked("this key is already revoked")
    key.revoked_at = clock.now()
    session.flush()
    key_cache.forget_on_commit(session)
    audit(session, key.merchant_id, actor, "api_key.revoked", key.id)
    return key


def list_keys(
    session: Session, merchant_id: str | None, *, after_id: str | None = None, limit: int = 50
) -> PageResult[ApiKey]:
    rows = repo.keys(session, merchant_id, after_id=after_id, limit=page_size(limit) + 1)
    return trim(rows, limit)


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer <key>`` header value."""
    if not authorization:
        raise MissingKey("send your API key as 'Authorization: Bearer <key>'")
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise MissingKey("send your API key as 'Authorization: Bearer <key>'")
    if not is_well_formed(secret):
        raise InvalidKey("this API key is not valid")
    key_hash = hash_key(secret)
    remembered = key_cache.recall(key_hash)
    if remembered is not None:
        return remembered
    found = repo.key_with_merchant_status(session, key_hash)
    if found is None:
        raise InvalidKey("this API key is not valid")
    key, merchant_status = found
    if key.revoked_at is not None:
        raise RevokedKey("this API key has been revoked")
    if merchant_status != MerchantStatus.ACTIVE:
        raise MerchantSuspended("this merchant is suspended")
    principal = Principal(
        key_id=key.id,
        merchant_id=key.merchant_id,
        role=KeyRole(key.role),
        mode=KeyMode(key.mode),
        app_id=key.app_id,
    )
    key_cache.remember(key_hash, principal)
    return principal
