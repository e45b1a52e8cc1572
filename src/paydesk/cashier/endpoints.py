"""``/cashier/{order}``: the page, its two calls (pay, status) and its static files.

No API key: the link's token (:mod:`.tokens`) is the payer's right to see and pay this one
order. A wrong token answers 404 like an unknown order. Pages are not cached, not framed,
send no referrer (the token is in the URL) and load nothing from elsewhere.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from paydesk.api.routing import services
from paydesk.cashier import pages, service, tokens
from paydesk.db.uow import unit_of_work
from paydesk.payments.orders import OrderNotFound

router = APIRouter(prefix="/cashier", tags=["cashier"], include_in_schema=False)

STATIC = {"cashier.css": "text/css", "cashier.js": "text/javascript"}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self' https: http:"
    ),
}
NOT_FOUND = "<!doctype html><title>Not found</title><p>This payment link is not valid.</p>"


class PayBody(BaseModel):
    method: str = Field(max_length=30)


def _checked(request: Request, order_id: str, t: str) -> bool:
    return len(order_id) <= 40 and tokens.valid(services(request).secret, order_id, t)


@router.get("/static/{name}")
def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        return Response(status_code=404)
    content = resources.files("paydesk.cashier").joinpath("static", name).read_bytes()
    return Response(
        content, media_type=media_type, headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("/{order_id}")
def cashier_page(request: Request, order_id: str, t: str = Query("", max_length=64)) -> Response:
    if not _checked(request, order_id, t):
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    try:
        with unit_of_work(services(request).db, read_only=True) as session:
            view = service.view(session, order_id)
    except OrderNotFound:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    return HTMLResponse(pages.page(view, t), headers=HEADERS)


@router.get("/{order_id}/status")
def cashier_status(
    request: Request, order_id: str, t: str = Query("", max_length=64)
) -> JSONResponse:
    if not _checked(request, order_id, t):
        return JSONResponse({"error": "not found"}, status_code=404, headers=HEADERS)
    with unit_of_work(services(request).db, read_only=True) as session:
        order = service.order_of(session, order_id)
        return JSONResponse({"status": service.shown_status(order)}, headers=HEADERS)


@router.post("/{order_id}/pay")
def cashier_pay(
    request: Request, order_id: str, body: PayBody, t: str = Query("", max_length=64)
) -> JSONResponse:
    if not _checked(request, order_id, t):
        return JSONResponse({"error": "not found"}, status_code=404, headers=HEADERS)
    found = services(request)
    back = tokens.cashier_url(found.settings.public_url, found.secret, order_id)
    answer: dict[str, Any] = service.pay(
        found.db, found.settings, found.secret, order_id, body.method, back
    )
    return JSONResponse(answer, headers=HEADERS)
