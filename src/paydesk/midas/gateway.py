"""The WeChat-facing routes: ``GET /cgi-bin/token`` and ``POST /cgi-bin/midas/{,sandbox/}*``.

Outside ``/v1``: no bearer key (the access token and the signatures authenticate), answers in
WeChat shape with HTTP 200 even for errors, and each call in its own unit of work, committed
only when the call succeeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paydesk.api.routing import Services, services
from paydesk.db.uow import unit_of_work
from paydesk.midas import flows, tokens
from paydesk.midas.errors import SystemBusy, translate
from paydesk.midas.wire import Action

log = structlog.get_logger("paydesk.midas")

router = APIRouter(prefix="/cgi-bin", tags=["midas"])


def _failure(exc: Exception, operation: str) -> dict[str, Any]:
    mapped = translate(exc)
    if mapped is None:
        log.error("midas_internal_error", operation=operation, exc_info=exc)
        mapped = SystemBusy()
    else:
        log.info("midas_refused", operation=operation, errcode=mapped.errcode)
    return mapped.answer()


def _issue_token(
    found: Services, grant_type: str | None, appid: str | None, secret: str | None
) -> dict[str, Any]:
    try:
        with unit_of_work(found.db) as session:
            issued = tokens.issue(session, grant_type=grant_type, appid=appid, secret=secret)
    except Exception as exc:
        return _failure(exc, "token")
    return {"access_token": issued.access_token, "expires_in": issued.expires_in}


@router.get("/token", summary="An access token for the Midas API (WeChat client_credential)")
async def token(
    request: Request,
    grant_type: str | None = None,
    appid: str | None = None,
    secret: str | None = None,
) -> JSONResponse:
    answer = await run_in_threadpool(_issue_token, services(request), grant_type, appid, secret)
    return JSONResponse(answer)


def _call(
    found: Services, action: Action, sandbox: bool, access_token: str | None, body: bytes
) -> dict[str, Any]:
    operation = f"{'sandbox/' if sandbox else ''}{action.value}"
    try:
        with unit_of_work(found.db, read_only=action is Action.GETBALANCE) as session:
            return flows.handle(
                session,
                server_secret=found.settings.secret(),
                action=action,
                sandbox=sandbox,
                access_token=access_token,
                body=body,
            )
    except Exception as exc:
        return _failure(exc, operation)


def _endpoint(action: Action, sandbox: bool) -> Callable[..., Awaitable[JSONResponse]]:
    async def endpoint(request: Request, access_token: str | None = None) -> JSONResponse:
        body = await request.body()
        found = services(request)
        answer = await run_in_threadpool(_call, found, action, sandbox, access_token, body)
        return JSONResponse(answer)

    return endpoint


for _action in Action:
    for _sandbox in (False, True):
        router.add_api_route(
            flows.org_loc(_action, _sandbox).removeprefix("/cgi-bin"),
            _endpoint(_action, _sandbox),
            methods=["POST"],
            name=f"midas_{'sandbox_' if _sandbox else ''}{_action.value}",
            summary=f"Midas {_action.value}{' (sandbox)' if _sandbox else ''}",
        )
