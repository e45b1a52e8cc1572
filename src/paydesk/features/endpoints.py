"""``/v1/features``: feature flags for gray release (admin keys)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.features import service

router = APIRouter(route_class=ApiRoute, tags=["features"])


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled_for_all: bool
    merchants: list[str] = Field(default_factory=list, max_length=1000)
    users: list[str] = Field(default_factory=list, max_length=1000)


class FlagOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    default: bool
    enabled_for_all: bool
    merchants: list[str]
    users: list[str]


@router.get("/features", summary="Feature flags (admin key)")
def list_features(session: SessionDep, principal: PrincipalDep) -> list[FlagOut]:
    principal.require_admin()
    return [FlagOut.model_validate(flag) for flag in service.all_flags(session)]


@router.put("/features/{name}", summary="Turn a feature on for all, or for some (admin key)")
def set_feature(name: str, body: FlagIn, session: SessionDep, principal: PrincipalDep) -> FlagOut:
    principal.require_admin()
    flag = service.set_flag(
        session,
        name,
        enabled_for_all=body.enabled_for_all,
        merchants=body.merchants,
        users=body.users,
    )
    return FlagOut.model_validate(flag)
