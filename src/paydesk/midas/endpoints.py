"""``/v1/apps/{app_id}/midas``: a merchant sets up the Midas API for one of its apps.

Another merchant's app answers 404, as if it did not exist.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from paydesk.api.routing import ApiRoute, PrincipalDep, SessionDep, services
from paydesk.midas import setup
from paydesk.midas.schemas import (
    MidasConfigCreate,
    MidasConfigIssued,
    MidasConfigOut,
    MidasSessionCreate,
    MidasSessionOut,
)

router = APIRouter(route_class=ApiRoute, tags=["midas"])


@router.post(
    "/apps/{app_id}/midas",
    status_code=status.HTTP_201_CREATED,
    summary="Configure Midas for an app: issues a new AppKey and AppSecret (shown once)",
)
def configure(
    app_id: str,
    body: MidasConfigCreate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> MidasConfigIssued:
    issued = setup.configure(
        session,
        principal.scope(),
        app_id,
        appid=body.appid,
        offer_id=body.offer_id,
        currency=body.currency,
        server_secret=services(request).settings.secret(),
        actor=principal.actor,
    )
    return MidasConfigIssued(
        **MidasConfigOut.model_validate(issued.config).model_dump(),
        app_key=issued.app_key,
        app_secret=issued.app_secret,
    )


@router.get("/apps/{app_id}/midas", summary="An app's Midas config (never its secrets)")
def read_config(app_id: str, session: SessionDep, principal: PrincipalDep) -> MidasConfigOut:
    return MidasConfigOut.model_validate(setup.get_config(session, principal.scope(), app_id))


@router.post(
    "/apps/{app_id}/midas/sessions",
    summary="Register or refresh a user's session key (after code2session)",
)
def register_session(
    app_id: str,
    body: MidasSessionCreate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> MidasSessionOut:
    row = setup.register_session(
        session,
        principal.scope(),
        app_id,
        openid=body.openid,
        session_key=body.session_key,
        server_secret=services(request).settings.secret(),
    )
    return MidasSessionOut.model_validate(row)
