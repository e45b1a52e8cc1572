"""WeChat-style access tokens: bought with the AppSecret, good for 7200 s.

As with WeChat, a new token makes the earlier ones "not latest": they keep working for at most
:data:`PREVIOUS_TOKEN_GRACE` more, so a game's servers can switch over without failed calls,
and at most the tokens issued in that window are ever valid together. Replacing the app's
Midas config (new AppSecret) ends every token at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.midas import repository as repo
from paydesk.midas.errors import (
    ExpiredToken,
    InvalidAppid,
    InvalidAppSecret,
    InvalidGrantType,
    InvalidToken,
)
from paydesk.midas.models import MidasConfig, MidasToken
from paydesk.midas.setup import hash_secret

GRANT_TYPE = "client_credential"
TOKEN_TTL = timedelta(seconds=7200)
PREVIOUS_TOKEN_GRACE = timedelta(seconds=300)
EXPIRED_TOKEN_KEPT = timedelta(days=1)
"""How long an expired token is remembered, to answer 42001 (expired) rather than 40001."""
TOKEN_BYTES = 64
TOKEN_LENGTH_MAX = 512


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    """Seconds."""


def issue(
    session: Session, *, grant_type: str | None, appid: str | None, secret: str | None
) -> IssuedToken:
    """A new access token for the config ``appid`` names, if ``secret`` is its AppSecret."""
    if grant_type != GRANT_TYPE:
        raise InvalidGrantType(f"grant_type must be {GRANT_TYPE}")
    config = repo.config_by_appid(session, appid) if appid else None
    if config is None:
        raise InvalidAppid()
    given = hash_secret(secret or "")
    if not secret or not hmac.compare_digest(given, config.app_secret_hash):
        raise InvalidAppSecret()
    now = clock.now()
    repo.prune_tokens(session, config.merchant_id, config.app_id, now - EXPIRED_TOKEN_KEPT)
    repo.cap_token_expiry(session, config.merchant_id, config.app_id, now + PREVIOUS_TOKEN_GRACE)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    repo.add(
        session,
        MidasToken(
            token_hash=hash_secret(token),
            app_id=config.app_id,
            merchant_id=config.merchant_id,
            expires_at=now + TOKEN_TTL,
            created_at=now,
        ),
    )
    return IssuedToken(token, int(TOKEN_TTL.total_seconds()))


def authenticate(session: Session, access_token: str | None) -> MidasConfig:
    """The Midas config an access token was issued for."""
    if not access_token or len(access_token) > TOKEN_LENGTH_MAX:
        raise InvalidToken()
    found = repo.token(session, hash_secret(access_token))
    config = repo.config_for_token(session, found) if found is not None else None
    if found is None or config is None:
        raise InvalidToken()
    if clock.as_utc(found.expires_at) <= clock.now():
        raise ExpiredToken()
    return config
