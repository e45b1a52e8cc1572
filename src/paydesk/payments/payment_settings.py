"""A merchant's payment settings: the refund window and how channel payments are settled
(the settlement currency, the rounding of conversions, how old a rate may be). A merchant
without a row has the defaults. Services never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.currencies import iso_currency
from paydesk.core.errors import InvalidRequest
from paydesk.core.money import Rounding
from paydesk.payments.models import PaymentSettings

REFUND_WINDOW_DAYS_DEFAULT = 365
REFUND_WINDOW_DAYS_MAX = 3650
ROUNDING_DEFAULT = Rounding.HALF_EVEN
RATE_MAX_AGE_S_DEFAULT = 86_400
RATE_MAX_AGE_S_RANGE = (60, 30 * 86_400)


@dataclass(frozen=True, slots=True)
class Settings:
    refund_window_days: int = REFUND_WINDOW_DAYS_DEFAULT
    settlement_currency: str | None = None
    fx_rounding: Rounding = ROUNDING_DEFAULT
    fx_rate_max_age_s: int = RATE_MAX_AGE_S_DEFAULT


def current(session: Session, merchant_id: str) -> Settings:
    row = session.get(PaymentSettings, merchant_id)
    if row is None:
        return Settings()
    return Settings(
        refund_window_days=row.refund_window_days,
        settlement_currency=row.settlement_currency,
        fx_rounding=Rounding(row.fx_rounding),
        fx_rate_max_age_s=row.fx_rate_max_age_s,
    )


def update(session: Session, merchant_id: str, changes: dict[str, Any]) -> Settings:
    """Apply the settings named in ``changes`` (the others keep their value); checked first."""
    settings = current(session, merchant_id)
    values: dict[str, Any] = {
        "refund_window_days": settings.refund_window_days,
        "settlement_currency": settings.settlement_currency,
        "fx_rounding": settings.fx_rounding,
        "fx_rate_max_age_s": settings.fx_rate_max_age_s,
    }
    unknown = set(changes) - set(values)
    if unknown:
        raise InvalidRequest(f"no setting {sorted(unknown)[0]}", param=sorted(unknown)[0])
    values.update(changes)
    days = values["refund_window_days"]
    if not isinstance(days, int) or not 0 <= days <= REFUND_WINDOW_DAYS_MAX:
        raise InvalidRequest(
            f"refund_window_days is 0 to {REFUND_WINDOW_DAYS_MAX}", param="refund_window_days"
        )
    currency: str | None = values["settlement_currency"]
    if currency is not None:
        iso_currency(str(currency), param="settlement_currency")
    try:
        rounding = Rounding(values["fx_rounding"])
    except ValueError:
        names = ", ".join(r.value for r in Rounding)
        raise InvalidRequest(f"fx_rounding is one of {names}", param="fx_rounding") from None
    max_age = values["fx_rate_max_age_s"]
    low, high = RATE_MAX_AGE_S_RANGE
    if not isinstance(max_age, int) or not low <= max_age <= high:
        raise InvalidRequest(f"fx_rate_max_age_s is {low} to {high}", param="fx_rate_max_age_s")
    row = session.get(PaymentSettings, merchant_id)
    if row is None:
        row = PaymentSettings(merchant_id=merchant_id)
        session.add(row)
    row.refund_window_days = days
    row.settlement_currency = currency
    row.fx_rounding = rounding.value
    row.fx_rate_max_age_s = max_age
    row.updated_at = clock.now()
    session.flush()
    return current(session, merchant_id)
