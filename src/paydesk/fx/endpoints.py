"""``/v1/fx-rates``: exchange rates, recorded by the platform (admin keys), read by all."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.fx import service

router = APIRouter(route_class=ApiRoute, tags=["exchange rates"])


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str = Field(min_length=3, max_length=3)
    quote: str = Field(min_length=3, max_length=3)
    rate: str = Field(description="1 base = rate quote, as a decimal string (never a float).")
    source: str = Field(description="Who said it: ecb, bank-of-china, manual:ops...")
    as_of: datetime | None = Field(default=None, description="Valid from; default now.")


class RateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    base: str
    quote: str
    rate: str
    source: str
    as_of: datetime
    created_at: datetime


@router.post("/fx-rates", status_code=201, summary="Record an exchange rate (admin key)")
def record_rate(body: RateIn, session: SessionDep, principal: PrincipalDep) -> RateOut:
    principal.require_admin()
    return RateOut.model_validate(
        service.record_rate(
            session,
            base=body.base,
            quote=body.quote,
            rate=body.rate,
            source=body.source,
            as_of=body.as_of,
        )
    )


@router.get("/fx-rates", summary="Recorded exchange rates, newest first")
def list_rates(
    session: SessionDep,
    principal: PrincipalDep,
    base: str | None = None,
    quote: str | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> list[RateOut]:
    return [RateOut.model_validate(r) for r in service.list_rates(session, base, quote, limit)]
