"""All SQL of the merchants module. Every query on a merchant's data takes its merchant id."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.merchants.models import (
    ApiKey,
    App,
    AuditEvent,
    Merchant,
    MerchantKind,
    VirtualCurrency,
)


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def platform(session: Session) -> Merchant | None:
    return session.scalars(
        sa.select(Merchant).where(Merchant.kind == MerchantKind.PLATFORM).limit(1)
    ).first()


def merchant(session: Session, merchant_id: str) -> Merchant | None:
    return session.get(Merchant, merchant_id)


def merchants(
    session: Session,
    *,
    parent_id: str | None,
    subtree_of: Merchant | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Merchant]:
    query = sa.select(Merchant).order_by(Merchant.id).limit(limit)
    if parent_id is not None:
        query = query.where(Merchant.parent_id == parent_id)
    if subtree_of is not None:
        query = query.where(Merchant.path.startswith(subtree_of.path, autoescape=True))
    if after_id is not None:
        query = query.where(Merchant.id > after_id)
    return session.scalars(query).all()


def app(session: Session, merchant_id: str | None, app_id: str) -> App | None:
    query = sa.select(App).where(App.id == app_id)
    if merchant_id is not None:
        query = query.where(App.merchant_id == merchant_id)
    return session.scalars(query).first()


def apps(
    session: Session, merchant_id: str | None, *, after_id: str | None, limit: int
) -> Sequence[App]:
    query = sa.select(App).order_by(App.id).limit(limit)
    if merchant_id is not None:
        query = query.where(App.merchant_id == merchant_id)
    if after_id is not None:
        query = query.where(App.id > after_id)
    return session.scalars(query).all()


def key(session: Session, merchant_id: str | None, key_id: str) -> ApiKey | None:
    query = sa.select(ApiKey).where(ApiKey.id == key_id)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    return session.scalars(query).first()


def keys(
    session: Session, merchant_id: str | None, *, after_id: str | None, limit: int
) -> Sequence[ApiKey]:
    query = sa.select(ApiKey).order_by(ApiKey.id).limit(limit)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)
    return session.scalars(query).all()


def key_with_merchant_status(session: Session, key_hash: str) -> tuple[ApiKey, str] | None:
    """The key with this hash and its merchant's status, in one round trip."""
    row = session.execute(
        sa.select(ApiKey, Merchant.status)
        .join(Merchant, Merchant.id == ApiKey.merchant_id)
        .where(ApiKey.key_hash == key_hash)
    ).first()
    return (row[0], row[1]) if row is not None else None


def keys_labelled(session: Session, app_id: str, label: str) -> Sequence[ApiKey]:
    return session.scalars(
        sa.select(ApiKey).where(
            ApiKey.app_id == app_id, ApiKey.label == label, ApiKey.revoked_at.is_(None)
        )
    ).all()


def virtual_currency(session: Session, app_id: str, code: str) -> VirtualCurrency | None:
    return session.scalars(
        sa.select(VirtualCurrency).where(
            VirtualCurrency.app_id == app_id, VirtualCurrency.code == code
        )
    ).first()


def virtual_currencies(
    session: Session, merchant_id: str, app_id: str
) -> Sequence[VirtualCurrency]:
    return session.scalars(
        sa.select(VirtualCurrency)
        .where(VirtualCurrency.merchant_id == merchant_id, VirtualCurrency.app_id == app_id)
        .order_by(VirtualCurrency.code)
    ).all()


def audit_events(session: Session, merchant_id: str | None, *, limit: int) -> Sequence[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if merchant_id is not None:
        query = query.where(AuditEvent.merchant_id == merchant_id)
    return session.scalars(query).all()
