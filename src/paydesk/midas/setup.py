"""Merchant-side use cases: configure an app for Midas, register users' session keys, and
read the stored keys back. Services never commit."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from paydesk.core import clock, crypto
from paydesk.merchants import repository as merchants_repo
from paydesk.merchants.models import VirtualKind
from paydesk.merchants.service import audit, get_app
from paydesk.midas import repository as repo
from paydesk.midas.errors import (
    MidasAppidTaken,
    MidasConfigInvalid,
    MidasCurrencyInvalid,
    MidasNotConfigured,
)
from paydesk.midas.models import MidasConfig, MidasSession
from paydesk.wallet.accounts import USER_ID_PATTERN

APPID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OFFER_ID_PATTERN = APPID_PATTERN
SESSION_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")
APP_KEY_BYTES = 24
"""32 URL-safe characters, like the AppKeys WeChat hands out."""
APP_SECRET_BYTES = 16
"""32 hex characters, like a WeChat AppSecret."""


@dataclass(frozen=True, slots=True)
class IssuedConfig:
    config: MidasConfig
    app_key: str
    """Keys ``sig``. Shown once; Paydesk keeps it encrypted to recompute signatures."""
    app_secret: str
    """Buys access tokens at ``/cgi-bin/token``. Shown once; Paydesk keeps its hash."""


def hash_secret(value: str) -> str:
    """SHA-256 hex: for random secrets (app secrets, tokens) with 128+ bits, a fast hash is
    safe and makes a lookup one indexed equality."""
    return hashlib.sha256(value.encode()).hexdigest()


def _app_key_context(app_id: str) -> str:
    return f"midas.app_key:{app_id}"


def _session_key_context(app_id: str, openid: str) -> str:
    return f"midas.session_key:{app_id}:{openid}"


def configure(
    session: Session,
    merchant_id: str | None,
    app_id: str,
    *,
    appid: str,
    offer_id: str,
    currency: str,
    server_secret: str,
    actor: str,
) -> IssuedConfig:
    """Create the app's Midas config, or replace it: either way a new AppKey and AppSecret
    are issued and every access token of the app stops working."""
    app = get_app(session, merchant_id, app_id)
    if not APPID_PATTERN.match(appid):
        raise MidasConfigInvalid("appid is 1 to 64 of A-Z a-z 0-9 _ -", param="appid")
    if not OFFER_ID_PATTERN.match(offer_id):
        raise MidasConfigInvalid("offer_id is 1 to 64 of A-Z a-z 0-9 _ -", param="offer_id")
    virtual = merchants_repo.virtual_currency(session, app.id, currency)
    if virtual is None or virtual.kind != VirtualKind.COINS:
        raise MidasCurrencyInvalid(
            f"{currency!r} is not a virtual currency of kind coins registered for this app",
            param="currency",
        )
    holder = repo.config_by_appid(session, appid)
    if holder is not None and holder.app_id != app.id:
        raise MidasAppidTaken("this appid is configured for another app", param="appid")

    app_key = secrets.token_urlsafe(APP_KEY_BYTES)
    app_secret = secrets.token_hex(APP_SECRET_BYTES)
    now = clock.now()
    config = repo.config_of_app(session, app.merchant_id, app.id)
    if config is None:
        config = MidasConfig(app_id=app.id, merchant_id=app.merchant_id, created_at=now)
        session.add(config)
    else:
        repo.delete_tokens(session, app.merchant_id, app.id)
    config.appid = appid
    config.offer_id = offer_id
    config.currency = virtual.code
    config.app_key_encrypted = crypto.encrypt(server_secret, app_key, _app_key_context(app.id))
    config.app_secret_hash = hash_secret(app_secret)
    config.updated_at = now
    session.flush()
    audit(session, app.merchant_id, actor, "midas.configured", app.id)
    return IssuedConfig(config, app_key, app_secret)


def get_config(session: Session, merchant_id: str | None, app_id: str) -> MidasConfig:
    app = get_app(session, merchant_id, app_id)
    config = repo.config_of_app(session, app.merchant_id, app.id)
    if config is None:
        raise MidasNotConfigured("Midas is not configured for this app")
    return config


def register_session(
    session: Session,
    merchant_id: str | None,
    app_id: str,
    *,
    openid: str,
    session_key: str,
    server_secret: str,
) -> MidasSession:
    """Store (or replace) a user's session key, as ``code2session`` gave it to the game."""
    config = get_config(session, merchant_id, app_id)
    if not USER_ID_PATTERN.match(openid):
        raise MidasConfigInvalid("openid is 1 to 128 printable ASCII characters", param="openid")
    if not SESSION_KEY_PATTERN.match(session_key):
        raise MidasConfigInvalid(
            "session_key is 1 to 128 printable ASCII characters", param="session_key"
        )
    encrypted = crypto.encrypt(
        server_secret, session_key, _session_key_context(config.app_id, openid)
    )
    row = repo.user_session(session, config.merchant_id, config.app_id, openid)
    if row is None:
        row = MidasSession(app_id=config.app_id, openid=openid, merchant_id=config.merchant_id)
        session.add(row)
    row.session_key_encrypted = encrypted
    row.updated_at = clock.now()
    session.flush()
    return row


def app_key(config: MidasConfig, server_secret: str) -> str:
    """The config's AppKey in clear (raises ``crypto.DecryptionFailed`` if the server secret
    changed since it was stored)."""
    return crypto.decrypt(server_secret, config.app_key_encrypted, _app_key_context(config.app_id))


def session_key(
    session: Session, config: MidasConfig, openid: str, server_secret: str
) -> str | None:
    """The user's session key in clear, or ``None`` when none was registered."""
    row = repo.user_session(session, config.merchant_id, config.app_id, openid)
    if row is None:
        return None
    context = _session_key_context(config.app_id, openid)
    return crypto.decrypt(server_secret, row.session_key_encrypted, context)
