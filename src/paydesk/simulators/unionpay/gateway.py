# ruff: noqa: RUF001 - messages in the gateway's own Chinese, full-width punctuation
"""The server-to-server transactions under ``/gateway/api``: ``queryTrans.do``,
``backTransReq.do`` (refunds) and ``fileTransfer.do`` (statements).

Every request is a signed form, checked in this order, the first failure answering:

1. ``version`` 5.1.0, ``encoding`` UTF-8, ``signMethod`` 01, ``merId``, ``certId`` and
   ``signature`` present (13 when one is missing, 10 when one has another value);
2. the merchant is known, ``certId`` is the serial number of its certificate, and the
   signature verifies with that certificate's key (11 验证签名失败);
3. the faults in force (``fail_next_n``: a signed 06 or a 5xx, before any work);
4. the transaction's own fields and rules (10, 13, 12, 32, 33, 34, 35, 98).

Every answer is HTTP 200 and ``name=value&...`` (raw values), signed with UnionPay's key and
carrying ``signPubKeyCert``, refusals included. The ``delay_s`` and ``timeout_next_n`` faults
hold an answer back after its work is done.

- **queryTrans** (``txnType=00``): by ``queryId``, or by ``orderId`` + ``txnTime``. A payment
  not paid yet, or unknown, answers 34. Otherwise respCode 00 with the queried transaction's
  ``orderId, txnTime, txnType, txnSubType, txnAmt, currencyCode, queryId, traceNo, traceTime,
  settleAmt, settleCurrencyCode, settleDate`` and ``origRespCode``/``origRespMsg``: 00 for a
  paid payment or a refund done, the issuer's code for a declined payment, 05 for a refund in
  progress; a refund also carries ``origQryId``.
- **backTransReq** (``txnType=04`` only, else 32): a refund of ``origQryId``; respCode 00 with
  the refund's ``queryId``. It succeeds ``refund_delay_s`` later and is then notified.
- **fileTransfer** (``txnType=76, fileType=00``): ``settleDate=MMDD``, the latest such Beijing
  day not after today; respCode 00 with ``fileName`` and ``fileContent`` (statement.py), or 98
  when nothing completed that day. Unlike the real gateway, which publishes a day's file the
  next morning, today's is served too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paydesk.simulators.unionpay import errors, signing, statement, wire
from paydesk.simulators.unionpay.faults import HOLD_MAX_S
from paydesk.simulators.unionpay.simulator import UnionPaySimulator
from paydesk.simulators.unionpay.trades import NewRefund, Record, Trade, TradeStatus

MEDIA_TYPE = "text/plain; charset=utf-8"
SUCCESS = {"respCode": "00", "respMsg": "成功[0000000]"}
ECHOED = (
    "version",
    "encoding",
    "signMethod",
    "txnType",
    "txnSubType",
    "bizType",
    "accessType",
    "merId",
    "orderId",
    "txnTime",
)
HOLD_POLL_S = 0.05

Handler = Callable[[UnionPaySimulator, str, dict[str, str]], dict[str, str]]


def check_common(sim: UnionPaySimulator, fields: Mapping[str, str]) -> str:
    """Steps 1 and 2: the merchant that signed ``fields``."""
    wire.expect(fields, "version", "5.1.0")
    if wire.require(fields, "encoding").upper() != "UTF-8":
        raise errors.FormatError("encoding")
    wire.expect(fields, "signMethod", "01")
    for name in ("merId", "certId", signing.SIGNATURE):
        wire.require(fields, name)
    return sim.check_signature(fields)


def echo(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: fields[name] for name in ECHOED if fields.get(name)}


def refusal(fields: Mapping[str, str], error: errors.GatewayError) -> dict[str, str]:
    return echo(fields) | {"respCode": error.resp_code, "respMsg": error.message}


# --- the transactions ----------------------------------------------------------------------------
def _record_fields(record: Record, now: datetime) -> dict[str, str]:
    common = {
        "orderId": record.order_id,
        "txnTime": record.txn_time,
        "txnAmt": str(record.amount_fen),
        "currencyCode": wire.CNY,
        "settleAmt": str(record.amount_fen),
        "settleCurrencyCode": wire.CNY,
        "queryId": record.query_id,
        "traceNo": record.trace_no,
        "traceTime": record.trace_time,
        "bizType": "000201",
    }
    if isinstance(record, Trade):
        assert record.completed_at is not None
        return common | {
            "txnType": "01",
            "txnSubType": "01",
            "settleDate": f"{record.completed_at:%m%d}",
            "origRespCode": record.resp_code,
            "origRespMsg": record.resp_msg,
        }
    done = record.succeeded(now)
    return common | {
        "txnType": "04",
        "txnSubType": "00",
        "origQryId": record.orig_query_id,
        "settleDate": f"{record.effective_at:%m%d}",
        "origRespCode": "00" if done else "05",
        "origRespMsg": SUCCESS["respMsg"] if done else "交易已受理，请稍后查询交易结果",
    }


def query(sim: UnionPaySimulator, mer_id: str, fields: dict[str, str]) -> dict[str, str]:
    wire.expect(fields, "txnType", "00")
    wire.expect(fields, "txnSubType", "00")
    query_id = fields.get("queryId", "")
    if query_id:
        record = sim.store.by_query_id(mer_id, query_id)
    else:
        record = sim.store.find(mer_id, wire.order_id(fields), wire.txn_time(fields))
    if record is None or (isinstance(record, Trade) and record.status is TradeStatus.WAITING):
        raise errors.NotFound()
    base = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "accessType": "0",
        "merId": mer_id,
    }
    return base | _record_fields(record, sim.now()) | SUCCESS


def refund(sim: UnionPaySimulator, mer_id: str, fields: dict[str, str]) -> dict[str, str]:
    if wire.require(fields, "txnType") != "04":
        raise errors.NoPermission("txnType")
    wire.expect(fields, "txnSubType", "00")
    wire.expect(fields, "bizType", "000201")
    wire.expect(fields, "accessType", "0")
    wire.expect(fields, "currencyCode", wire.CNY)
    new = NewRefund(
        mer_id=mer_id,
        order_id=wire.order_id(fields),
        txn_time=wire.txn_time(fields),
        amount_fen=wire.amount(fields),
        back_url=wire.url(fields, "backUrl", required=True),
        orig_query_id=wire.require(fields, "origQryId"),
    )
    accepted = sim.store.refund(new, sim.config.refund_delay_s, sim.now())
    sim.notify_refund(accepted)
    return (
        echo(fields)
        | SUCCESS
        | {
            "txnAmt": str(accepted.amount_fen),
            "currencyCode": wire.CNY,
            "queryId": accepted.query_id,
            "origQryId": accepted.orig_query_id,
        }
    )


def _settle_day(mmdd: str, today: date) -> date:
    month, day = int(mmdd[:2]), int(mmdd[2:])
    for year in (today.year, today.year - 1, today.year - 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 0229 outside a leap year
        if candidate <= today:
            return candidate
    raise errors.FormatError("settleDate")


def file_transfer(sim: UnionPaySimulator, mer_id: str, fields: dict[str, str]) -> dict[str, str]:
    wire.expect(fields, "txnType", "76")
    wire.expect(fields, "txnSubType", "01")
    wire.expect(fields, "fileType", "00")
    now = sim.now()
    day = _settle_day(wire.settle_date(fields), now.date())
    records = sim.store.completed(mer_id, day, now)
    if not records:
        raise errors.FileNotFound(f"{day:%Y%m%d}")
    file_name, archive = statement.statement(mer_id, day, records, now)
    return (
        echo(fields)
        | SUCCESS
        | {
            "fileType": "00",
            "settleDate": fields["settleDate"],
            "fileName": file_name,
            "fileContent": statement.file_content(archive),
        }
    )


# --- HTTP --------------------------------------------------------------------------------------
def signed_answer(sim: UnionPaySimulator, fields: Mapping[str, str], corrupt: bool) -> Response:
    signed = sim.signer.sign(fields)
    if corrupt:
        signed = signing.corrupt(signed)
    return Response(wire.encode_answer(signed), media_type=MEDIA_TYPE)


async def _hold(request: Request) -> None:
    """Holds the answer until the client goes away (or ``HOLD_MAX_S``)."""
    deadline = time.monotonic() + HOLD_MAX_S
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(HOLD_POLL_S)


def router(sim: UnionPaySimulator) -> APIRouter:
    routes = APIRouter()

    async def serve(request: Request, handler: Handler) -> Response:
        fields: dict[str, str] = {}
        try:
            fields = wire.parse_form(await request.body())
            mer_id = check_common(sim, fields)
        except errors.GatewayError as refused:
            return signed_answer(sim, refusal(fields, refused), corrupt=False)
        plan = sim.faults.plan_for(mer_id)
        if sim.faults.take_failure(mer_id):
            if plan.fail_status != 200:
                body = f"<html><body>{plan.fail_status}</body></html>"
                return HTMLResponse(body, status_code=plan.fail_status)
            return signed_answer(sim, refusal(fields, errors.Busy()), plan.corrupt_signature)
        try:
            inner = await run_in_threadpool(handler, sim, mer_id, fields)
        except errors.GatewayError as refused:
            inner = refusal(fields, refused)
        if plan.delay_s > 0:
            await asyncio.sleep(plan.delay_s)
        if sim.faults.take_timeout(mer_id):
            await _hold(request)
            return Response(status_code=504)
        return signed_answer(sim, inner, plan.corrupt_signature)

    @routes.post("/gateway/api/queryTrans.do")
    async def query_trans(request: Request) -> Response:
        return await serve(request, query)

    @routes.post("/gateway/api/backTransReq.do")
    async def back_trans(request: Request) -> Response:
        return await serve(request, refund)

    @routes.post("/gateway/api/fileTransfer.do")
    async def file_trans(request: Request) -> Response:
        return await serve(request, file_transfer)

    return routes
