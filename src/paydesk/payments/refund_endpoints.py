"""``/v1/refunds`` and ``/v1/payment-settings`` (the merchant's refund window)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.merchants.schemas import Strict
from paydesk.payments import payment_settings, refunds
from paydesk.payments.endpoints import scope

router = APIRouter(route_class=ApiRoute, tags=["refunds"])


class RefundCreate(Strict):
    order_id: str = Field(min_length=1, max_length=40)
    amount: int | None = Field(
        default=None, description="Minor units; default: all that can still be refunded."
    )
    reason: str = Field(default="", max_length=200)


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    attempt_id: str
    livemode: bool
    channel: str
    status: str
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    reason: str
    automatic: bool
    channel_refund_no: str | None
    failure_code: str | None
    failure_message: str | None
    journal_id: str | None
    settle_journal_id: str | None
    created_at: datetime
    succeeded_at: datetime | None


class PaymentSettingsIn(Strict):
    """Only the settings given change."""

    refund_window_days: int | None = Field(
        default=None, description="Days after payment a refund is accepted."
    )
    settlement_currency: str | None = Field(
        default=None,
        description="Channel payments in other currencies are converted into it (docs/fx.md); "
        "null: settle each order in its own currency.",
    )
    fx_rounding: str | None = Field(
        default=None, description="half_even (default), half_up, down, up, floor, ceiling."
    )
    fx_rate_max_age_s: int | None = Field(
        default=None, description="A rate older than this is not used (default 86400)."
    )


class PaymentSettingsOut(BaseModel):
    refund_window_days: int
    settlement_currency: str | None
    fx_rounding: str
    fx_rate_max_age_s: int


def _settings_out(settings: payment_settings.Settings) -> PaymentSettingsOut:
    return PaymentSettingsOut(
        refund_window_days=settings.refund_window_days,
        settlement_currency=settings.settlement_currency,
        fx_rounding=settings.fx_rounding.value,
        fx_rate_max_age_s=settings.fx_rate_max_age_s,
    )


@router.post("/refunds", status_code=201, summary="Refund a paid order, in part or in full")
def create_refund(body: RefundCreate, session: SessionDep, principal: PrincipalDep) -> RefundOut:
    merchant_id, livemode = scope(principal)
    refund = refunds.create_refund(
        session,
        merchant_id=merchant_id,
        livemode=livemode,
        order_id=body.order_id,
        amount_minor=body.amount,
        reason=body.reason,
    )
    return RefundOut.model_validate(refund)


@router.get("/refunds", summary="List refunds, newest last")
def list_refunds(
    session: SessionDep,
    principal: PrincipalDep,
    order_id: str | None = None,
    after: str | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> Page[RefundOut]:
    merchant_id, livemode = scope(principal)
    result = refunds.list_refunds(
        session, merchant_id, livemode, order_id=order_id, after_id=after, limit=limit
    )
    return to_page(result, RefundOut.model_validate)


@router.get("/refunds/{refund_id}", summary="Get a refund")
def get_refund(refund_id: str, session: SessionDep, principal: PrincipalDep) -> RefundOut:
    merchant_id, livemode = scope(principal)
    return RefundOut.model_validate(refunds.get_refund(session, merchant_id, livemode, refund_id))


@router.get("/payment-settings", summary="The merchant's payment settings")
def get_payment_settings(session: SessionDep, principal: PrincipalDep) -> PaymentSettingsOut:
    merchant_id, _ = scope(principal)
    return _settings_out(payment_settings.current(session, merchant_id))


@router.put("/payment-settings", summary="Change the merchant's payment settings")
def put_payment_settings(
    body: PaymentSettingsIn, session: SessionDep, principal: PrincipalDep
) -> PaymentSettingsOut:
    merchant_id, _ = scope(principal)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "settlement_currency" not in changes:
        changes = {name: value for name, value in changes.items() if value is not None}
    else:
        changes = {
            name: value
            for name, value in changes.items()
            if value is not None or name == "settlement_currency"
        }
    return _settings_out(payment_settings.update(session, merchant_id, changes))
