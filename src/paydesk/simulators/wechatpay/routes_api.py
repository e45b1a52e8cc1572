"""The WeChat Pay v3 merchant API the simulator serves (CHANNELS.md, "Endpoints a simulator
serves"), every call signed both ways (see :mod:`.edge`):

- ``POST /v3/pay/transactions/{native,jsapi,app,h5}``: a prepay; native answers ``code_url``,
  jsapi and app ``prepay_id``, h5 ``h5_url``. ``code_url`` and ``h5_url`` point at the
  simulator's pay page (WeChat's ``weixin://`` link cannot be opened outside WeChat).
- ``GET /v3/pay/transactions/out-trade-no/{no}?mchid=`` and ``/id/{transaction_id}?mchid=``.
- ``POST /v3/pay/transactions/out-trade-no/{no}/close``: 204 with a signed empty body.
- ``POST /v3/refund/domestic/refunds`` and ``GET /v3/refund/domestic/refunds/{out_refund_no}``.
- ``GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL|SUCCESS|REFUND&tar_type=GZIP``:
  ``hash_type`` SHA1, ``hash_value`` of the plain CSV, ``download_url``; the download
  (``GET /v3/billdownload/file?token=``) is a signed request whose answer is *not* signed.
  Today's bill may be asked for (WeChat only serves finished days) so tests need not wait.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from paydesk.simulators.wechatpay.bill import BILL_TYPES
from paydesk.simulators.wechatpay.edge import (
    Caller,
    authenticate,
    base_url,
    hold_back,
    respond,
    simulator_of,
)
from paydesk.simulators.wechatpay.errors import ParamError, ResourceNotExists
from paydesk.simulators.wechatpay.wire import (
    TRADE_TYPES,
    json_object,
    parse_order_request,
    parse_refund_request,
    refund_view,
    transaction_view,
)

TAR_TYPES = ("GZIP",)

router = APIRouter()


def _check_mchid(caller: Caller, given: object) -> None:
    if not isinstance(given, str) or not given:
        raise ParamError("mchid is required")
    if given != caller.mchid:
        raise ParamError("mchid is not the merchant that signed the request")


@router.post("/v3/pay/transactions/{kind}")
async def prepay(kind: str, request: Request) -> Response:
    caller = await authenticate(request)
    if kind not in TRADE_TYPES:
        raise ResourceNotExists(f"no prepay API for {kind!r}")
    order = simulator_of(request).create_order(parse_order_request(kind, caller.body, caller.mchid))
    pay_page = f"{base_url(request)}/pay/{order.prepay_id}"
    answers = {
        "native": {"code_url": pay_page},
        "jsapi": {"prepay_id": order.prepay_id},
        "app": {"prepay_id": order.prepay_id},
        "h5": {"h5_url": pay_page},
    }
    return await respond(request, caller, 200, answers[kind])


@router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
async def query_by_out_trade_no(out_trade_no: str, request: Request) -> Response:
    caller = await authenticate(request)
    _check_mchid(caller, request.query_params.get("mchid"))
    order = simulator_of(request).store.order(caller.mchid, out_trade_no)
    return await respond(request, caller, 200, transaction_view(order))


@router.get("/v3/pay/transactions/id/{transaction_id}")
async def query_by_transaction_id(transaction_id: str, request: Request) -> Response:
    caller = await authenticate(request)
    _check_mchid(caller, request.query_params.get("mchid"))
    order = simulator_of(request).store.order_by_transaction(caller.mchid, transaction_id)
    return await respond(request, caller, 200, transaction_view(order))


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
async def close(out_trade_no: str, request: Request) -> Response:
    caller = await authenticate(request)
    _check_mchid(caller, json_object(caller.body).get("mchid"))
    simulator_of(request).store.close(caller.mchid, out_trade_no)
    return await respond(request, caller, 204, None)


@router.post("/v3/refund/domestic/refunds")
async def refund(request: Request) -> Response:
    caller = await authenticate(request)
    created = simulator_of(request).create_refund(caller.mchid, parse_refund_request(caller.body))
    return await respond(request, caller, 200, refund_view(created))


@router.get("/v3/refund/domestic/refunds/{out_refund_no}")
async def query_refund(out_refund_no: str, request: Request) -> Response:
    caller = await authenticate(request)
    found = simulator_of(request).store.refund(caller.mchid, out_refund_no)
    return await respond(request, caller, 200, refund_view(found))


@router.get("/v3/bill/tradebill")
async def trade_bill(request: Request) -> Response:
    caller = await authenticate(request)
    params = request.query_params
    try:
        day = date.fromisoformat(params.get("bill_date", ""))
    except ValueError:
        raise ParamError("bill_date must be YYYY-MM-DD") from None
    bill_type = params.get("bill_type", "ALL")
    if bill_type not in BILL_TYPES:
        raise ParamError(f"bill_type must be one of {', '.join(BILL_TYPES)}")
    tar_type = params.get("tar_type")
    if tar_type is not None and tar_type not in TAR_TYPES:
        raise ParamError("tar_type must be GZIP or left out")
    bill = simulator_of(request).apply_trade_bill(
        caller.mchid, day, bill_type, gzipped=tar_type == "GZIP"
    )
    answer = {
        "hash_type": "SHA1",
        "hash_value": bill.sha1,
        "download_url": f"{base_url(request)}/v3/billdownload/file?token={bill.token}",
    }
    return await respond(request, caller, 200, answer)


@router.get("/v3/billdownload/file")
async def download_bill(request: Request) -> Response:
    caller = await authenticate(request)
    bill = simulator_of(request).bill_file(request.query_params.get("token", ""), caller.mchid)
    await hold_back(request, caller)
    return Response(bill.download(), media_type="application/octet-stream")
