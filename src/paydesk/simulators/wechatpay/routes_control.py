"""The simulator's own routes: the payer's pay page and the control API for tests and demos.

These are not WeChat's: nothing here is signed, and anyone who can reach the simulator can pay
an order or inject faults (which is the point of a sandbox; never expose it as a real channel).

- ``GET /pay/{prepay_id}``, ``POST /pay/{prepay_id}`` (form ``openid``, ``outcome``): the pay
  page behind ``code_url``/``h5_url``.
- ``POST /simulator/pay`` ``{out_trade_no | prepay_id, mchid?, openid?, outcome?: SUCCESS |
  PAYERROR, bank_type?}``: pay as a payer would; answers the transaction.
- ``GET|POST|DELETE /simulator/faults``: see :mod:`.faults`; POST takes ``{mchid?, <fault>:
  value, ...}`` and changes only the faults named.
- ``POST /simulator/refunds/{out_refund_no}/complete`` ``{mchid?, status?: SUCCESS | CLOSED |
  ABNORMAL}``: end a refund held by ``hold_refunds`` (or not yet due).
- ``GET /simulator/notifications``: the delivery log; ``POST /simulator/notifications/release``
  ``{mchid?}`` sends notifications still held back by ``reorder``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from paydesk.simulators.wechatpay import pages
from paydesk.simulators.wechatpay.edge import simulator_of
from paydesk.simulators.wechatpay.errors import ParamError, WeChatPayError
from paydesk.simulators.wechatpay.faults import FaultError
from paydesk.simulators.wechatpay.state import RefundStatus
from paydesk.simulators.wechatpay.wire import json_object, refund_view, transaction_view

FORM_BYTES_MAX = 4096
OUTCOMES = {"SUCCESS": True, "PAYERROR": False}

router = APIRouter()


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 128:
        raise ParamError(f"{name} must be a string of 1 to 128 characters")
    return value


def _outcome(value: str | None) -> bool:
    if value is None:
        return True
    if value not in OUTCOMES:
        raise ParamError("outcome must be SUCCESS or PAYERROR")
    return OUTCOMES[value]


@router.get("/pay/{prepay_id}", response_class=HTMLResponse)
async def pay_page(prepay_id: str, request: Request) -> Response:
    simulator = simulator_of(request)
    try:
        order = simulator.store.order_by_prepay(prepay_id)
    except WeChatPayError as exc:
        return HTMLResponse(pages.error_page(exc.message), 404, headers=pages.HEADERS)
    name = simulator.merchant(order.mchid).name
    return HTMLResponse(pages.pay_page(order, name), headers=pages.HEADERS)


@router.post("/pay/{prepay_id}", response_class=HTMLResponse)
async def pay_from_page(prepay_id: str, request: Request) -> Response:
    simulator = simulator_of(request)
    body = await request.body()
    try:
        if len(body) > FORM_BYTES_MAX:
            raise ParamError("the form is too large")
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        order = simulator.store.order_by_prepay(prepay_id)
        paid = simulator.pay(
            order,
            form.get("openid", "").strip()[:128] or None,
            succeeded=_outcome(form.get("outcome")),
        )
    except (WeChatPayError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, WeChatPayError) else "the form is not UTF-8"
        return HTMLResponse(pages.error_page(message), 400, headers=pages.HEADERS)
    name = simulator.merchant(paid.mchid).name
    return HTMLResponse(pages.result_page(paid, name), headers=pages.HEADERS)


@router.post("/simulator/pay")
async def pay(request: Request) -> dict[str, Any]:
    simulator = simulator_of(request)
    data = json_object(await request.body())
    order = simulator.find_order(
        prepay_id=_optional_str(data, "prepay_id"),
        out_trade_no=_optional_str(data, "out_trade_no"),
        mchid=_optional_str(data, "mchid"),
    )
    paid = simulator.pay(
        order,
        _optional_str(data, "openid"),
        succeeded=_outcome(_optional_str(data, "outcome")),
        bank_type=_optional_str(data, "bank_type") or "OTHERS",
    )
    return transaction_view(paid)


@router.get("/simulator/faults")
async def faults(request: Request) -> dict[str, object]:
    return simulator_of(request).faults.snapshot()


@router.post("/simulator/faults")
async def set_faults(request: Request) -> dict[str, object]:
    book = simulator_of(request).faults
    data = json_object(await request.body())
    mchid = _optional_str(data, "mchid")
    changes = {name: value for name, value in data.items() if name != "mchid"}
    try:
        book.set(mchid, **changes)
    except FaultError as exc:
        raise ParamError(str(exc)) from None
    return book.snapshot()


@router.delete("/simulator/faults")
async def reset_faults(request: Request) -> dict[str, object]:
    book = simulator_of(request).faults
    book.reset()
    return book.snapshot()


@router.post("/simulator/refunds/{out_refund_no}/complete")
async def complete_refund(out_refund_no: str, request: Request) -> dict[str, Any]:
    simulator = simulator_of(request)
    body = await request.body()
    data = json_object(body) if body else {}
    status_name = _optional_str(data, "status") or "SUCCESS"
    if status_name not in {"SUCCESS", "CLOSED", "ABNORMAL"}:
        raise ParamError("status must be SUCCESS, CLOSED or ABNORMAL")
    mchid = simulator.refund_owner(out_refund_no, _optional_str(data, "mchid"))
    completed = simulator.complete_refund(mchid, out_refund_no, RefundStatus(status_name))
    return refund_view(completed)


@router.get("/simulator/notifications")
async def notifications(request: Request) -> dict[str, Any]:
    return {"deliveries": simulator_of(request).notifier.deliveries()}


@router.post("/simulator/notifications/release")
async def release_notifications(request: Request) -> JSONResponse:
    body = await request.body()
    data = json_object(body) if body else {}
    released = simulator_of(request).notifier.release_held(_optional_str(data, "mchid"))
    return JSONResponse({"released": released})
