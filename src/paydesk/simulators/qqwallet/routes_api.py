"""The QQ Wallet merchant API the simulator serves, every call signed both ways (:mod:`.edge`).
All are ``POST`` with an XML body:

- ``/cgi-bin/pay/qpay_unified_order.cgi``: ``trade_type`` NATIVE (answers ``prepay_id`` and
  ``code_url``, the simulator's pay page: QQ's own code can only be opened by QQ), JSAPI or APP
  (``prepay_id``; APP also needs ``appid``).
- ``/cgi-bin/pay/qpay_order_query.cgi``: by ``transaction_id`` or ``out_trade_no``.
- ``/cgi-bin/pay/qpay_close_order.cgi``: by ``out_trade_no``.
- ``/cgi-bin/pay/qpay_refund.cgi``: ``out_refund_no``, ``refund_fee``, the order by
  ``transaction_id`` or ``out_trade_no``, and ``op_user_id`` / ``op_user_passwd`` (the MD5 of
  the operator's password). The real host asks for a client certificate; this one does not.
- ``/cgi-bin/pay/qpay_refund_query.cgi``: by ``refund_id``, ``out_refund_no``,
  ``transaction_id`` or ``out_trade_no`` (in that priority); the refunds as ``..._$n``.
- ``/cgi-bin/sp_download/qpay_mch_statement_down.cgi``: ``bill_date`` (``yyyyMMdd``),
  ``bill_type`` (ALL, SUCCESS, REFUND, RECHARGE_REFUND; default ALL), ``tar_type`` (GZIP or
  absent): the statement file (:mod:`.bill`), not signed; a day without trades answers
  ``return_code`` FAIL ``No Bill Exist``. Today's statement may be asked for.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
from datetime import datetime

from fastapi import APIRouter, Request, Response

from paydesk.simulators.qqwallet import views, wire
from paydesk.simulators.qqwallet.bill import BILL_TYPES
from paydesk.simulators.qqwallet.edge import (
    Caller,
    authenticate,
    base_url,
    hold_back,
    required_param,
    respond,
    simulator_of,
)
from paydesk.simulators.qqwallet.errors import LackParams, ParamError, RefundNotExist
from paydesk.simulators.qqwallet.state import OrderRequest, RefundRequest, TradeType

CURRENCY = "CNY"
BODY_CHARS_MAX = 128
TAR_TYPES = ("GZIP",)

router = APIRouter()


def _fingerprint(*values: object) -> str:
    return json.dumps(values, ensure_ascii=False, default=str)


def parse_order_request(caller: Caller, now: datetime) -> OrderRequest:
    fields = caller.fields
    raw_type = wire.required(fields, "trade_type")
    try:
        trade_type = TradeType(raw_type)
    except ValueError:
        raise ParamError("trade_type must be NATIVE, JSAPI or APP") from None
    appid = wire.optional(fields, "appid", 32)
    if trade_type is TradeType.APP and appid is None:
        raise LackParams("缺少参数 appid (APP payments name the app)")
    fee_type = wire.optional(fields, "fee_type", 16) or CURRENCY
    if fee_type != CURRENCY:
        raise ParamError("fee_type must be CNY")
    ip = wire.required(fields, "spbill_create_ip", 45)
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ParamError("spbill_create_ip is not an IP address") from None
    notify_url = wire.required(fields, "notify_url", 256)
    if not notify_url.startswith(("https://", "http://")):
        raise ParamError("notify_url must be an http(s) URL")
    body = wire.required(fields, "body", BODY_CHARS_MAX)
    attach = wire.optional(fields, "attach", 128)
    total_fee = wire.fen(fields, "total_fee")
    wire.beijing_time(fields, "time_start")
    time_expire = wire.beijing_time(fields, "time_expire")
    if time_expire is not None and time_expire <= now:
        raise ParamError("time_expire is not in the future")
    content = (trade_type, body, attach, total_fee, fee_type, notify_url, appid, time_expire)
    return OrderRequest(
        mch_id=caller.mch_id,
        appid=appid,
        trade_type=trade_type,
        body=body,
        attach=attach,
        out_trade_no=wire.number(fields, "out_trade_no"),
        total_fee=total_fee,
        fee_type=fee_type,
        spbill_create_ip=ip,
        time_expire=time_expire,
        notify_url=notify_url,
        sign_type=caller.sign_type if caller.sign_type_named else None,
        fingerprint=_fingerprint(*content),
    )


def parse_refund_request(caller: Caller) -> RefundRequest:
    fields, merchant = caller.fields, caller.merchant
    op_user_id = wire.required(fields, "op_user_id", 64)
    op_user_passwd = wire.required(fields, "op_user_passwd", 64)
    if op_user_id != merchant.op_user_id or op_user_passwd.lower() != wire.password_md5(
        merchant.op_user_password
    ):
        raise ParamError("操作员帐号或密码错误 (op_user_id or op_user_passwd is wrong)")
    required_param(fields, "transaction_id", "out_trade_no")
    transaction_id = wire.optional(fields, "transaction_id", 32)
    out_trade_no = wire.number(fields, "out_trade_no") if fields.get("out_trade_no") else None
    refund_fee = wire.fen(fields, "refund_fee")
    return RefundRequest(
        out_refund_no=wire.number(fields, "out_refund_no"),
        out_trade_no=out_trade_no,
        transaction_id=transaction_id,
        refund_fee=refund_fee,
        fingerprint=_fingerprint(transaction_id or out_trade_no, refund_fee),
    )


@router.post("/cgi-bin/pay/qpay_unified_order.cgi")
async def unified_order(request: Request) -> Response:
    caller = await authenticate(request)
    simulator = simulator_of(request)
    order = simulator.create_order(parse_order_request(caller, simulator.now()))
    answer = {"trade_type": order.request.trade_type.value, "prepay_id": order.prepay_id}
    if order.request.trade_type is TradeType.NATIVE:
        answer["code_url"] = f"{base_url(request)}/pay/{order.prepay_id}"
    return await respond(request, caller, answer)


@router.post("/cgi-bin/pay/qpay_order_query.cgi")
async def order_query(request: Request) -> Response:
    caller = await authenticate(request)
    simulator, fields = simulator_of(request), caller.fields
    if required_param(fields, "transaction_id", "out_trade_no") == "transaction_id":
        order = simulator.store.order_by_transaction(
            caller.mch_id, fields["transaction_id"], simulator.now()
        )
    else:
        order = simulator.store.order(
            caller.mch_id, wire.number(fields, "out_trade_no"), simulator.now()
        )
    return await respond(request, caller, views.order_fields(order))


@router.post("/cgi-bin/pay/qpay_close_order.cgi")
async def close_order(request: Request) -> Response:
    caller = await authenticate(request)
    simulator = simulator_of(request)
    number = wire.number(caller.fields, "out_trade_no")
    simulator.store.close(caller.mch_id, number, simulator.now())
    return await respond(request, caller, {})


@router.post("/cgi-bin/pay/qpay_refund.cgi")
async def refund(request: Request) -> Response:
    caller = await authenticate(request)
    accepted, order = simulator_of(request).create_refund(
        caller.mch_id, parse_refund_request(caller)
    )
    return await respond(request, caller, views.refund_fields(accepted, order))


@router.post("/cgi-bin/pay/qpay_refund_query.cgi")
async def refund_query(request: Request) -> Response:
    caller = await authenticate(request)
    simulator, fields = simulator_of(request), caller.fields
    store, now = simulator.store, simulator.now()
    by = required_param(fields, "refund_id", "out_refund_no", "transaction_id", "out_trade_no")
    if by in ("refund_id", "out_refund_no"):
        found = (
            store.refund_by_id(caller.mch_id, fields["refund_id"])
            if by == "refund_id"
            else store.refund(caller.mch_id, wire.number(fields, "out_refund_no"))
        )
        order = store.order(caller.mch_id, found.out_trade_no, now)
        refunds = [found]
    else:
        order = (
            store.order_by_transaction(caller.mch_id, fields["transaction_id"], now)
            if by == "transaction_id"
            else store.order(caller.mch_id, wire.number(fields, "out_trade_no"), now)
        )
        refunds = store.refunds_of(order)
        if not refunds:
            raise RefundNotExist("退款单不存在 (the order has no refund)")
    return await respond(request, caller, views.refund_query_fields(order, refunds))


@router.post("/cgi-bin/sp_download/qpay_mch_statement_down.cgi")
async def statement(request: Request) -> Response:
    caller = await authenticate(request)
    fields = caller.fields
    try:
        day = datetime.strptime(wire.required(fields, "bill_date", 8), "%Y%m%d").date()
    except ValueError:
        raise ParamError("bill_date must be yyyyMMdd") from None
    bill_type = wire.optional(fields, "bill_type", 16) or "ALL"
    if bill_type not in BILL_TYPES:
        raise ParamError(f"bill_type must be one of {', '.join(BILL_TYPES)}")
    tar_type = wire.optional(fields, "tar_type", 8)
    if tar_type is not None and tar_type not in TAR_TYPES:
        raise ParamError("tar_type must be GZIP or left out")
    content = simulator_of(request).statement(caller.mch_id, day, bill_type)
    await hold_back(request, caller)
    if tar_type == "GZIP":
        return Response(gzip.compress(content, mtime=0), media_type="application/x-gzip")
    return Response(content, media_type="text/plain; charset=utf-8")
