"""All SQL of the Midas module."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.midas.models import MidasConfig, MidasSession, MidasToken


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def config_of_app(session: Session, merchant_id: str, app_id: str) -> MidasConfig | None:
    return session.scalars(
        sa.select(MidasConfig).where(
            MidasConfig.app_id == app_id, MidasConfig.merchant_id == merchant_id
        )
    ).first()


def config_by_appid(session: Session, appid: str) -> MidasConfig | None:
    """The config a WeChat-style ``appid`` names (unique across merchants)."""
    return session.scalars(sa.select(MidasConfig).where(MidasConfig.appid == appid)).first()


def config_for_token(session: Session, token: MidasToken) -> MidasConfig | None:
    return config_of_app(session, token.merchant_id, token.app_id)


def token(session: Session, token_hash: str) -> MidasToken | None:
    return session.get(MidasToken, token_hash)


def delete_tokens(session: Session, merchant_id: str, app_id: str) -> None:
    session.execute(
        sa.delete(MidasToken).where(
            MidasToken.app_id == app_id, MidasToken.merchant_id == merchant_id
        )
    )


def prune_tokens(session: Session, merchant_id: str, app_id: str, expired_before: datetime) -> None:
    """Forget tokens that expired before ``expired_before``; younger expired ones stay so
    that their callers hear "expired" rather than "invalid"."""
    session.execute(
        sa.delete(MidasToken).where(
            MidasToken.app_id == app_id,
            MidasToken.merchant_id == merchant_id,
            MidasToken.expires_at < expired_before,
        )
    )


def cap_token_expiry(session: Session, merchant_id: str, app_id: str, latest: datetime) -> None:
    """Make every token of the app expire by ``latest`` at the latest."""
    session.execute(
        sa.update(MidasToken)
        .where(
            MidasToken.app_id == app_id,
            MidasToken.merchant_id == merchant_id,
            MidasToken.expires_at > latest,
        )
        .values(expires_at=latest)
    )


def user_session(
    session: Session, merchant_id: str, app_id: str, openid: str
) -> MidasSession | None:
    found = session.get(MidasSession, (app_id, openid))
    if found is None or found.merchant_id != merchant_id:
        return None
    return found
