"""``/v1/orders``: create, get (by id or merchant order number), list, close, pay, and read
an order's payment attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.pagination import Page, to_page
from paydesk.api.routing import (
    ApiRoute,
    PrincipalDep,
    SessionDep,
    admission_released,
    commit_checkpoint,
    services,
)
from paydesk.cashier.tokens import cashier_url
from paydesk.channels.base import ChannelError, Method
from paydesk.core.errors import InvalidRequest, NotFound
from paydesk.core.pagination import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from paydesk.features import service as features
from paydesk.fees import service as fee_service
from paydesk.fees.endpoints import ChargeOut
from paydesk.merchants.models import KeyMode
from paydesk.merchants.principal import Principal
from paydesk.payments import channel_pay, orders, paying, settlement
from paydesk.payments.methods import platform_method
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.schemas import (
    AttemptOut,
    OrderCreate,
    OrderOut,
    PaymentOut,
    PayRequest,
    RoutingDecisionOut,
)
from paydesk.payments.states import AttemptStatus, OrderStatus

router = APIRouter(route_class=ApiRoute, tags=["orders"])


def scope(principal: Principal) -> tuple[str, bool]:
    """The merchant and mode of the caller: test keys see test orders only."""
    if principal.is_admin:
        raise InvalidRequest("orders are reached with a merchant key", code="merchant_key_required")
    return principal.merchant_id, principal.mode is KeyMode.LIVE


@router.post("/orders", status_code=201, summary="Create an order")
def create_order(body: OrderCreate, session: SessionDep, principal: PrincipalDep) -> OrderOut:
    merchant_id, livemode = scope(principal)
    order = orders.create_order(
        session,
        merchant_id=merchant_id,
        livemode=livemode,
        merchant_order_no=body.merchant_order_no,
        amount_minor=body.amount,
        currency=body.currency,
        subject=body.subject,
        app_id=body.app_id or principal.app_id,
        user_id=body.user_id,
        notify_url=body.notify_url,
        expires_in=timedelta(seconds=body.expires_in_s),
        meta=body.metadata,
        purpose=body.purpose,
    )
    return OrderOut.model_validate(order)


@router.get("/orders", summary="List orders, newest last")
def list_orders(
    session: SessionDep,
    principal: PrincipalDep,
    status: OrderStatus | None = None,
    user_id: str | None = None,
    merchant_order_no: str | None = None,
    after: str | None = None,
    limit: int = Query(PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> Page[OrderOut]:
    merchant_id, livemode = scope(principal)
    if merchant_order_no is not None:
        order = orders.get_order_by_no(session, merchant_id, livemode, merchant_order_no)
        return Page[OrderOut](
            data=[OrderOut.model_validate(order)], has_more=False, next_after=None
        )
    result = orders.list_orders(
        session,
        merchant_id,
        livemode,
        status=status,
        user_id=user_id,
        after_id=after,
        limit=limit,
    )
    return to_page(result, OrderOut.model_validate)


@router.get("/orders/{order_id}", summary="Get an order")
def get_order(order_id: str, session: SessionDep, principal: PrincipalDep) -> OrderOut:
    merchant_id, livemode = scope(principal)
    return OrderOut.model_validate(orders.get_order(session, merchant_id, livemode, order_id))


@router.post("/orders/{order_id}/close", summary="Close an unpaid order")
def close_order(order_id: str, session: SessionDep, principal: PrincipalDep) -> OrderOut:
    merchant_id, livemode = scope(principal)
    return OrderOut.model_validate(orders.close_order(session, merchant_id, livemode, order_id))


@router.post(
    "/orders/{order_id}/pay",
    summary="Pay an order",
    responses={202: {"description": "The channel did not answer in time: poll the order."}},
)
def pay_order(
    order_id: str,
    body: PayRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
) -> PaymentOut:
    """A platform instrument completes at once; a channel method answers what the payer
    needs (``attempt.action``), or 202 with the attempt ``unknown`` when the channel did not
    answer in time (the order centre finds out; the order's status tells)."""
    merchant_id, livemode = scope(principal)
    pay = body.to_input()
    platform = platform_method(pay.method)
    if platform is not None:
        order, attempt = paying.pay_with_platform(
            session,
            merchant_id=merchant_id,
            livemode=livemode,
            order_id=order_id,
            method=platform,
            pay=pay,
        )
        return _payment(order, attempt)
    found = services(request)
    order, attempt, result = channel_pay.pay_through_channel(
        session,
        commit=lambda: commit_checkpoint(request),
        outside=lambda: admission_released(request),
        merchant_id=merchant_id,
        livemode=livemode,
        order_id=order_id,
        method=Method(pay.method),
        pay=pay,
        settings=found.settings,
        secret=found.secret,
    )
    if attempt.status == AttemptStatus.FAILED and isinstance(result, ChannelError):
        commit_checkpoint(request)
        raise result
    if attempt.status == AttemptStatus.UNKNOWN:
        response.status_code = 202
    return _payment(order, attempt)


def _payment(order: Order, attempt: PaymentAttempt) -> PaymentOut:
    return PaymentOut(
        order=OrderOut.model_validate(order), attempt=AttemptOut.model_validate(attempt)
    )


@router.get("/orders/{order_id}/attempts", summary="The payment attempts of an order")
def order_attempts(order_id: str, session: SessionDep, principal: PrincipalDep) -> list[AttemptOut]:
    merchant_id, livemode = scope(principal)
    order = orders.get_order(session, merchant_id, livemode, order_id)
    return [AttemptOut.model_validate(a) for a in paying.attempts_of(session, order)]


@router.get(
    "/orders/{order_id}/routing",
    summary="Why each attempt of the order went to its channel account",
)
def order_routing(
    order_id: str, session: SessionDep, principal: PrincipalDep
) -> list[RoutingDecisionOut]:
    merchant_id, livemode = scope(principal)
    order = orders.get_order(session, merchant_id, livemode, order_id)
    return [
        RoutingDecisionOut(attempt_id=attempt.id, **attempt.routing)
        for attempt in paying.attempts_of(session, order)
        if attempt.routing is not None
    ]


class CashierLink(BaseModel):
    url: str
    """The hosted cashier of the order (docs/cashier.md): give it to the payer."""
    expires_at: datetime


@router.get("/orders/{order_id}/cashier", summary="The hosted cashier's link for the order")
def order_cashier(
    order_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> CashierLink:
    merchant_id, livemode = scope(principal)
    order = orders.get_order(session, merchant_id, livemode, order_id)
    features.require(session, "hosted_cashier", merchant_id)
    found = services(request)
    return CashierLink(
        url=cashier_url(found.settings.public_url, found.secret, order.id),
        expires_at=order.expires_at,
    )


class SettlementOut(BaseModel):
    """The order's payment converted into the merchant's settlement currency (docs/fx.md)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    attempt_id: str
    from_currency: str
    from_amount: int = Field(validation_alias="from_amount_minor")
    to_currency: str
    to_amount: int = Field(validation_alias="to_amount_minor")
    rate: str
    rate_id: str
    rate_source: str
    rate_as_of: datetime
    rate_inverted: bool
    rounding: str
    journal_id: str
    given_back_from: int = Field(validation_alias="given_back_from_minor")
    given_back_to: int = Field(validation_alias="given_back_to_minor")
    created_at: datetime


class NotConverted(NotFound):
    code = "not_converted"


@router.get(
    "/orders/{order_id}/settlement",
    summary="The order's payment in the merchant's settlement currency: both amounts, the rate",
)
def order_settlement(order_id: str, session: SessionDep, principal: PrincipalDep) -> SettlementOut:
    merchant_id, livemode = scope(principal)
    order = orders.get_order(session, merchant_id, livemode, order_id)
    conversion = settlement.conversion_of(session, order.id)
    if conversion is None:
        raise NotConverted(
            f"order {order.id} was not converted (settled in its own currency, not paid, or "
            "waiting for an exchange rate)"
        )
    return SettlementOut.model_validate(conversion)


@router.get("/orders/{order_id}/fees", summary="The order's fees and costs, with explanations")
def order_fees(order_id: str, session: SessionDep, principal: PrincipalDep) -> list[ChargeOut]:
    merchant_id, livemode = scope(principal)
    order = orders.get_order(session, merchant_id, livemode, order_id)
    return [
        ChargeOut.model_validate(c) for c in fee_service.charges_of(session, merchant_id, order.id)
    ]
