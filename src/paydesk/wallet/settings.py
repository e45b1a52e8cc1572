"""Per-app wallet settings: which part of a virtual currency is spent first, and expiries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.merchants.service import get_app
from paydesk.wallet.models import SpendOrder, WalletSettings

TTL_DAYS_MAX = 3650


@dataclass(frozen=True, slots=True)
class AppWalletSettings:
    spend_order: SpendOrder = SpendOrder.GIFTED_FIRST
    gifted_ttl_days: int | None = None
    points_ttl_days: int | None = None


def get_settings(session: Session, merchant_id: str, app_id: str) -> AppWalletSettings:
    row = session.get(WalletSettings, app_id)
    if row is None or row.merchant_id != merchant_id:
        return AppWalletSettings()
    return AppWalletSettings(SpendOrder(row.spend_order), row.gifted_ttl_days, row.points_ttl_days)


def update_settings(
    session: Session, merchant_id: str, app_id: str, new: AppWalletSettings
) -> AppWalletSettings:
    app = get_app(session, merchant_id, app_id)
    for name in ("gifted_ttl_days", "points_ttl_days"):
        value = getattr(new, name)
        if value is not None and not 1 <= value <= TTL_DAYS_MAX:
            raise InvalidRequest(f"{name} is between 1 and {TTL_DAYS_MAX}", param=name)
    row = session.get(WalletSettings, app.id)
    if row is None:
        row = WalletSettings(app_id=app.id, merchant_id=app.merchant_id)
        session.add(row)
    row.spend_order = new.spend_order.value
    row.gifted_ttl_days = new.gifted_ttl_days
    row.points_ttl_days = new.points_ttl_days
    row.updated_at = clock.now()
    session.flush()
    return new
