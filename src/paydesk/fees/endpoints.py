"""``/v1/fee-agreements`` (admin keys), ``/v1/fees/quote``, ``/v1/fees/events``,
``/v1/fees/report`` and ``/v1/fees/remittances`` (merchant keys; admins name the merchant or
see all): the fee centre's API (docs/fees.md). An order's fees are read at
``GET /v1/orders/{id}/fees``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.fees import events, quotes, remitting, reports, service
from paydesk.payments import fee_flow, fee_schedule

router = APIRouter(route_class=ApiRoute, tags=["fees"])


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party_type: str = Field(description="channel (a channel account's costs) or merchant.")
    party_id: str = Field(description="The channel account or merchant id.")
    document: dict[str, Any] = Field(description="The agreement (docs/fees.md).")


class AgreementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    party_type: str
    party_id: str
    name: str
    status: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ChargeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    source_id: str
    channel_account_id: str | None
    scenario: str
    status: str
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    agreement_id: str | None
    entry_id: str | None
    explanation: dict[str, Any]
    journal_id: str | None
    borne_by: str
    created_at: datetime


@router.post("/fee-agreements", status_code=201, summary="Add a fee agreement (admin key)")
def add_agreement(body: AgreementIn, session: SessionDep, principal: PrincipalDep) -> AgreementOut:
    principal.require_admin()
    row = service.add_agreement(
        session, party_type=body.party_type, party_id=body.party_id, document=body.document
    )
    return AgreementOut.model_validate(row)


@router.get("/fee-agreements", summary="Fee agreements (admin key)")
def list_agreements(
    session: SessionDep,
    principal: PrincipalDep,
    party_type: str | None = None,
    party_id: str | None = None,
) -> list[AgreementOut]:
    principal.require_admin()
    rows = service.list_agreements(session, party_type, party_id)
    return [AgreementOut.model_validate(row) for row in rows]


@router.get("/fee-agreements/{agreement_id}", summary="A fee agreement (admin key)")
def get_agreement(agreement_id: str, session: SessionDep, principal: PrincipalDep) -> AgreementOut:
    principal.require_admin()
    return AgreementOut.model_validate(service.get_agreement(session, agreement_id))


@router.post("/fee-agreements/{agreement_id}/retire", summary="Retire a fee agreement")
def retire_agreement(
    agreement_id: str, session: SessionDep, principal: PrincipalDep
) -> AgreementOut:
    principal.require_admin()
    return AgreementOut.model_validate(service.retire_agreement(session, agreement_id))


@router.get("/fees/quote", summary="The fee and each channel account's cost of a payment")
def quote(
    session: SessionDep,
    principal: PrincipalDep,
    amount: int = Query(ge=0),
    currency: str = Query(min_length=3, max_length=3),
    method: str = Query(max_length=30),
    scenario: str = Query("collection", max_length=40),
    region: str | None = Query(None, max_length=40),
    business_type: str | None = Query(None, max_length=40),
    card_type: str | None = Query(None, max_length=10),
    bank_relation: str | None = Query(None, max_length=20),
    verified_items: int = Query(0, ge=0),
    holding_days: int = Query(0, ge=0),
) -> dict[str, Any]:
    """What a payment would be charged (the merchant fee) and would cost through each of the
    merchant's active accounts serving the method, with the explanations; nothing is stored."""
    merchant_id = principal.target(None)
    found = quotes.quote(
        session,
        merchant_id=merchant_id,
        livemode=principal.mode.value == "live",
        amount_minor=amount,
        currency=currency,
        method=method,
        scenario=scenario,
        region=region,
        business_type=business_type,
        at=clock.now(),
        card_type=card_type,
        bank_relation=bank_relation,
        verified_items=verified_items,
        holding_days=holding_days,
    )
    return found


@router.get(
    "/fees/report",
    summary="Fee income, channel cost and margin over a period, grouped; JSON or CSV",
    response_model=None,
)
def fee_report(
    session: SessionDep,
    principal: PrincipalDep,
    start: datetime = Query(alias="from", description="Inclusive, with a zone."),
    end: datetime = Query(alias="to", description="Exclusive, with a zone."),
    group_by: reports.GroupBy = reports.GroupBy.DAY,
    format: str = Query("json", pattern="^(json|csv)$"),
    merchant_id: str | None = None,
) -> list[dict[str, Any]] | Response:
    """A merchant key sees its own charges; an admin key every merchant's, or one's."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise InvalidRequest("from and to need a time zone", param="from")
    rows = reports.report(
        session, start=start, end=end, by=group_by, merchant_id=principal.scope(merchant_id)
    )
    if format == "csv":
        return Response(
            reports.to_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="fees.csv"'},
        )
    return [dataclasses.asdict(row) for row in rows]


class EventIn(events.BillableEvent):
    merchant_id: str | None = Field(default=None, description="Admin keys: whose event.")


class EventOut(BaseModel):
    id: str
    charges: list[ChargeOut]


@router.post("/fees/events", status_code=201, summary="Charge the fee and cost of an event")
def charge_event(body: EventIn, session: SessionDep, principal: PrincipalDep) -> EventOut:
    """A verification, a payout or any configured scenario, priced by the merchant's and the
    channel account's agreements and posted; the same ``reference`` again replays."""
    merchant_id = principal.target(body.merchant_id)
    event = events.BillableEvent.model_validate(body.model_dump(exclude={"merchant_id"}))
    event_id, charges = events.charge_event(
        session, merchant_id, event, fee_flow.books(session, merchant_id)
    )
    return EventOut(id=event_id, charges=[ChargeOut.model_validate(c) for c in charges])


class RemittanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_id: str
    agreement_id: str
    channel_account_id: str
    payee: str
    schedule: str
    method: str
    period_key: str
    period_start: datetime | None
    period_end: datetime | None
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    journal_id: str | None
    created_at: datetime


@router.get("/fees/remittances", summary="Costs remitted to their payees over a period")
def list_remittances(
    session: SessionDep,
    principal: PrincipalDep,
    start: datetime = Query(alias="from", description="Inclusive, with a zone."),
    end: datetime = Query(alias="to", description="Exclusive, with a zone."),
    merchant_id: str | None = None,
) -> list[RemittanceOut]:
    if start.utcoffset() is None or end.utcoffset() is None:
        raise InvalidRequest("from and to need a time zone", param="from")
    rows = remitting.list_remittances(
        session, merchant_id=principal.scope(merchant_id), start=start, end=end
    )
    return [RemittanceOut.model_validate(row) for row in rows]


@router.post("/fees/schedule/run", summary="Remit due periods and close due months now")
def run_schedule(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """What the hourly ``fees.scheduled`` job does, at once (admin key)."""
    principal.require_admin()
    done = fee_schedule.run_schedule(session)
    return {
        "remittances": done.remitted,
        "remitted_minor": done.remitted_minor,
        "periods_closed": [
            {"party_type": t, "party_id": i, "period": p} for t, i, p in done.closed
        ],
    }
