"""The simulator's own routes: the payer's pay page and the control API for tests and demos.

These are not QQ Wallet's: nothing here is signed, and anyone who can reach the simulator can
pay an order or inject faults (which is the point of a sandbox; never expose it as a channel).
Control answers are JSON; a refusal is ``{"code", "message"}`` with 400 (bad input), 404
(unknown order or refund) or 409 (the order's state forbids it).

- ``GET /pay/{prepay_id}``, ``POST /pay/{prepay_id}`` (form ``openid``, ``outcome`` SUCCESS |
  PAYERROR): the pay page behind ``code_url``.
- ``POST /simulator/trades/{out_trade_no}/pay`` ``{mch_id?, openid?, bank_type?}``: the payer
  pays (and the merchant is notified); ``POST .../fail`` ``{mch_id?}``: the payment fails
  (``PAYERROR``); ``GET /simulator/trades/{out_trade_no}?mch_id=``: the order. Each answers the
  order.
- ``POST /simulator/refunds/{out_refund_no}/complete`` ``{mch_id?, status?: SUCCESS | FAIL |
  CHANGE | NOTSURE}``: end a refund held by ``hold_refunds`` (or not yet due).
- ``GET | POST | DELETE /simulator/faults``: see :mod:`.faults`; POST takes ``{mch_id?,
  <fault>: value, ...}`` and changes only the faults named.
- ``GET /simulator/notifications``: the delivery log; ``POST
  /simulator/notifications/release`` ``{mch_id?}`` sends notifications held by ``reorder``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from paydesk.simulators.qqwallet import pages, views
from paydesk.simulators.qqwallet.edge import simulator_of
from paydesk.simulators.qqwallet.errors import (
    LackParams,
    OrderNotExist,
    ParamError,
    QPayError,
    RefundNotExist,
)
from paydesk.simulators.qqwallet.faults import FaultError
from paydesk.simulators.qqwallet.state import RefundStatus

BODY_BYTES_MAX = 4096
OUTCOMES = {"SUCCESS": True, "PAYERROR": False}
COMPLETIONS = ("SUCCESS", "FAIL", "CHANGE", "NOTSURE")

router = APIRouter()


class ControlError(Exception):
    """A refusal of the control API, answered as JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def control_refusal(error: QPayError) -> ControlError:
    if isinstance(error, OrderNotExist | RefundNotExist):
        status = 404
    elif isinstance(error, ParamError | LackParams):
        status = 400
    else:
        status = 409
    return ControlError(status, error.code, error.message)


async def control_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    if len(body) > BODY_BYTES_MAX:
        raise ControlError(400, "PARAM_ERROR", f"the body must be at most {BODY_BYTES_MAX} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise ControlError(400, "PARAM_ERROR", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "PARAM_ERROR", "the body is not a JSON object")
    return data


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ControlError(400, "PARAM_ERROR", f"{name} must be a string of 1 to 64 characters")
    return value


# --- the payer ----------------------------------------------------------------------------------
@router.get("/pay/{prepay_id}", response_class=HTMLResponse)
async def pay_page(prepay_id: str, request: Request) -> Response:
    simulator = simulator_of(request)
    try:
        order = simulator.store.order_by_prepay(prepay_id, simulator.now())
    except QPayError as exc:
        return HTMLResponse(pages.error_page(exc.message), 404, headers=pages.HEADERS)
    name = simulator.merchant(order.mch_id).name
    return HTMLResponse(pages.pay_page(order, name), headers=pages.HEADERS)


@router.post("/pay/{prepay_id}", response_class=HTMLResponse)
async def pay_from_page(prepay_id: str, request: Request) -> Response:
    simulator = simulator_of(request)
    body = await request.body()
    try:
        if len(body) > BODY_BYTES_MAX:
            raise ParamError("the form is too large")
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        outcome = form.get("outcome", "SUCCESS")
        if outcome not in OUTCOMES:
            raise ParamError("outcome must be SUCCESS or PAYERROR")
        order = simulator.store.order_by_prepay(prepay_id, simulator.now())
        openid = form.get("openid", "").strip()[:64] or None
        paid = simulator.pay(order, openid, succeeded=OUTCOMES[outcome])
    except (QPayError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, QPayError) else "the form is not UTF-8"
        return HTMLResponse(pages.error_page(message), 400, headers=pages.HEADERS)
    name = simulator.merchant(paid.mch_id).name
    return HTMLResponse(pages.result_page(paid, name), headers=pages.HEADERS)


# --- trades -------------------------------------------------------------------------------------
@router.get("/simulator/trades/{out_trade_no}")
async def trade(out_trade_no: str, request: Request) -> dict[str, Any]:
    simulator = simulator_of(request)
    mch_id = request.query_params.get("mch_id") or None
    try:
        return views.order_json(simulator.find_order(out_trade_no, mch_id))
    except QPayError as exc:
        raise control_refusal(exc) from None


async def _settle(out_trade_no: str, request: Request, succeeded: bool) -> dict[str, Any]:
    simulator = simulator_of(request)
    data = await _json(request)
    try:
        order = simulator.find_order(out_trade_no, _text(data, "mch_id"))
        settled = simulator.pay(
            order,
            _text(data, "openid"),
            succeeded=succeeded,
            bank_type=_text(data, "bank_type") or "BALANCE",
        )
    except QPayError as exc:
        raise control_refusal(exc) from None
    return views.order_json(settled)


@router.post("/simulator/trades/{out_trade_no}/pay")
async def pay(out_trade_no: str, request: Request) -> dict[str, Any]:
    return await _settle(out_trade_no, request, succeeded=True)


@router.post("/simulator/trades/{out_trade_no}/fail")
async def fail(out_trade_no: str, request: Request) -> dict[str, Any]:
    return await _settle(out_trade_no, request, succeeded=False)


@router.post("/simulator/refunds/{out_refund_no}/complete")
async def complete_refund(out_refund_no: str, request: Request) -> dict[str, Any]:
    simulator = simulator_of(request)
    data = await _json(request)
    status = _text(data, "status") or "SUCCESS"
    if status not in COMPLETIONS:
        raise ControlError(400, "PARAM_ERROR", f"status must be one of {', '.join(COMPLETIONS)}")
    try:
        mch_id = simulator.refund_owner(out_refund_no, _text(data, "mch_id"))
        completed = simulator.complete_refund(mch_id, out_refund_no, RefundStatus(status))
    except QPayError as exc:
        raise control_refusal(exc) from None
    return views.refund_json(completed)


# --- faults and notifications -------------------------------------------------------------------
@router.get("/simulator/faults")
async def faults(request: Request) -> dict[str, object]:
    return simulator_of(request).faults.snapshot()


@router.post("/simulator/faults")
async def set_faults(request: Request) -> dict[str, object]:
    book = simulator_of(request).faults
    data = await _json(request)
    mch_id = _text(data, "mch_id")
    try:
        book.set(mch_id, **{name: value for name, value in data.items() if name != "mch_id"})
    except FaultError as exc:
        raise ControlError(400, "PARAM_ERROR", str(exc)) from None
    return book.snapshot()


@router.delete("/simulator/faults")
async def reset_faults(request: Request) -> dict[str, object]:
    book = simulator_of(request).faults
    book.reset()
    return book.snapshot()


@router.get("/simulator/notifications")
async def notifications(request: Request) -> dict[str, Any]:
    return {"deliveries": simulator_of(request).notifier.deliveries()}


@router.post("/simulator/notifications/release")
async def release_notifications(request: Request) -> dict[str, Any]:
    data = await _json(request)
    released = simulator_of(request).notifier.release_held(_text(data, "mch_id"))
    return {"released": released}
