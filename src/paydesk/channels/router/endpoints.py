"""``/v1/routing-policy``: a merchant's routing policy (docs/routing.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep
from paydesk.channels.router import service

router = APIRouter(route_class=ApiRoute, tags=["routing"])


class PolicyOut(BaseModel):
    merchant_id: str
    version: int
    """0: no policy stored, the default applies."""
    policy: dict[str, Any]


@router.get("/routing-policy", summary="The merchant's routing policy")
def get_policy(
    session: SessionDep, principal: PrincipalDep, merchant_id: str | None = None
) -> PolicyOut:
    target = principal.target(merchant_id)
    policy, version = service.get_policy(session, target)
    return PolicyOut(
        merchant_id=target, version=version, policy=policy.model_dump(mode="json", by_alias=True)
    )


@router.put("/routing-policy", summary="Replace the merchant's routing policy")
def put_policy(
    session: SessionDep,
    principal: PrincipalDep,
    document: dict[str, Any] = Body(
        description="The whole policy (docs/routing.md); checked before it is stored."
    ),
    merchant_id: str | None = None,
) -> PolicyOut:
    target = principal.target(merchant_id)
    policy, version = service.put_policy(session, target, document, actor=principal.actor)
    return PolicyOut(
        merchant_id=target, version=version, policy=policy.model_dump(mode="json", by_alias=True)
    )
