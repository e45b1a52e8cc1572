"""All SQL of channel accounts. Every query takes the merchant id (``None``: any merchant,
for admins and the operator's CLI)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.channels.accounts.models import ChannelAccount


def add(session: Session, row: ChannelAccount) -> None:
    session.add(row)
    session.flush()


def account(session: Session, merchant_id: str | None, account_id: str) -> ChannelAccount | None:
    query = sa.select(ChannelAccount).where(ChannelAccount.id == account_id)
    if merchant_id is not None:
        query = query.where(ChannelAccount.merchant_id == merchant_id)
    return session.scalars(query).first()


def account_named(session: Session, merchant_id: str, name: str) -> ChannelAccount | None:
    return session.scalars(
        sa.select(ChannelAccount).where(
            ChannelAccount.merchant_id == merchant_id, ChannelAccount.name == name
        )
    ).first()


def accounts(
    session: Session,
    merchant_id: str | None,
    *,
    channel: str | None,
    after_id: str | None,
    limit: int,
) -> Sequence[ChannelAccount]:
    query = sa.select(ChannelAccount).order_by(ChannelAccount.id).limit(limit)
    if merchant_id is not None:
        query = query.where(ChannelAccount.merchant_id == merchant_id)
    if channel is not None:
        query = query.where(ChannelAccount.channel == channel)
    if after_id is not None:
        query = query.where(ChannelAccount.id > after_id)
    return session.scalars(query).all()
