# ruff: noqa: RUF001 - the gateway's own Chinese, full-width punctuation
"""What the payer's browser sees: plain HTML with inline styles and no external scripts.

- ``POST /gateway/api/frontTransReq.do``: the consume form the merchant's page makes the
  browser post (``txnType=01, txnSubType=01, bizType=000201, channelType`` 07 or 08,
  ``orderId, txnTime, txnAmt, currencyCode=156, backUrl``, optional ``frontUrl``,
  ``payTimeout``, ``riskRateInfo={commodityName=...}``, ``reqReserved``), checked like every
  request (gateway.py). A refused form shows an error page with the respCode. Otherwise the
  payment opens (WAITING) and the pay page shows the amount with **Pay** and **Cancel**.
- ``GET /pay/{token}``: the same page again.
- ``POST /pay/{token}/pay``: pays (refused after ``payTimeout``); the signed notification goes
  to ``backUrl`` in the background; with a ``frontUrl`` the answer is a page whose form posts
  the signed result (the notification's fields) there, submitted on load, with a button for a
  browser that runs no scripts; otherwise a confirmation page.
- ``POST /pay/{token}/cancel``: the payer leaves; the payment stays unpaid (payable until its
  ``payTimeout``, as when a payer closes the tab) and nothing is notified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paydesk.simulators.unionpay import errors, signing, wire
from paydesk.simulators.unionpay.config import BEIJING
from paydesk.simulators.unionpay.gateway import check_common
from paydesk.simulators.unionpay.notifications import payment_form
from paydesk.simulators.unionpay.simulator import UnionPaySimulator
from paydesk.simulators.unionpay.trades import NewTrade, Trade, TradeStatus

_STYLE = (
    "body{font-family:sans-serif;background:#f5f5f5;margin:0;padding:2rem}"
    ".card{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.1rem;color:#d7000f}"
    ".amount{font-size:2rem;margin:.5rem 0}dt{color:#888;font-size:.8rem}dd{margin:0 0 .6rem}"
    "button{width:100%;padding:.8rem;font-size:1rem;border:0;border-radius:6px;"
    "cursor:pointer;margin-top:.5rem}.pay{background:#d7000f;color:#fff}"
    ".cancel{background:#eee;color:#333}"
)
_COMMODITY = re.compile(r"\{commodityName=([^}]*)\}")


def _page(title: str, content: str, status_code: int = 200, onload: str = "") -> HTMLResponse:
    body_attrs = f' onload="{escape(onload)}"' if onload else ""
    html = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body{body_attrs}><div class="card"><h1>银联在线支付 Sandbox · {escape(title)}</h1>'
        f"{content}</div></body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def _details(trade: Trade) -> str:
    rows = [
        ("商品 Commodity", trade.commodity or "-"),
        ("商户号 merId", trade.mer_id),
        ("商户订单号 orderId", trade.order_id),
        ("订单发送时间 txnTime", trade.txn_time),
    ]
    if trade.query_id:
        rows.append(("查询流水号 queryId", trade.query_id))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<p class="amount">¥ {wire.format_yuan(trade.amount_fen)}</p><dl>{items}</dl>'


def error_page(error: errors.GatewayError, status_code: int = 200) -> HTMLResponse:
    content = (
        f"<p>应答码 respCode <code>{escape(error.resp_code)}</code></p>"
        f"<p>{escape(error.message)}</p>"
    )
    return _page("交易失败 Refused", content, status_code)


def pay_page(trade: Trade, base_url: str) -> HTMLResponse:
    if trade.status is TradeStatus.WAITING:
        action = f"{base_url}/pay/{trade.token}"
        buttons = (
            f'<form method="post" action="{escape(action)}/pay">'
            '<button class="pay" type="submit">确认付款 Pay</button></form>'
            f'<form method="post" action="{escape(action)}/cancel">'
            '<button class="cancel" type="submit">取消 Cancel</button></form>'
        )
        return _page("付款 Pay", _details(trade) + buttons)
    if trade.status is TradeStatus.PAID:
        return _page("支付成功 Paid", _details(trade))
    return _page("支付失败 Failed", _details(trade) + f"<p>{escape(trade.resp_msg)}</p>")


def return_page(sim: UnionPaySimulator, trade: Trade) -> HTMLResponse:
    """The signed result, posted by the browser to ``frontUrl``."""
    signed = sim.signer.sign(payment_form(trade))
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in signed.items()
    )
    form = (
        f'<form method="post" action="{escape(trade.front_url)}">{inputs}'
        '<button class="pay" type="submit">返回商户 Return to merchant</button></form>'
    )
    return _page("支付成功 Paid", _details(trade) + form, onload="document.forms[0].submit()")


def public_base_url(sim: UnionPaySimulator, request: Request) -> str:
    """The simulator's base URL as browsers reach it (mount path included)."""
    if sim.config.public_base_url:
        return sim.config.public_base_url.rstrip("/")
    origin = str(request.base_url.replace(path="", query="", fragment=""))
    return origin.rstrip("/") + str(request.scope.get("root_path", "")).rstrip("/")


def _pay_timeout(fields: Mapping[str, str], now: datetime) -> datetime | None:
    text = fields.get("payTimeout", "")
    if not text:
        return None
    moment = wire.parse_time(text, "payTimeout").replace(tzinfo=BEIJING)
    if moment <= now:
        raise errors.PayTimeout("payTimeout")
    return moment


def new_trade(sim: UnionPaySimulator, fields: Mapping[str, str]) -> NewTrade:
    """The payment a verified consume form asks for."""
    mer_id = check_common(sim, fields)
    wire.expect(fields, "txnType", "01")
    wire.expect(fields, "txnSubType", "01")
    wire.expect(fields, "bizType", "000201")
    wire.expect(fields, "accessType", "0")
    channel_type = wire.expect(fields, "channelType", "07", "08")
    wire.expect(fields, "currencyCode", wire.CNY)
    commodity = _COMMODITY.search(fields.get("riskRateInfo", ""))
    content = "&".join(
        f"{name}={value}" for name, value in sorted(fields.items()) if name != signing.SIGNATURE
    )
    return NewTrade(
        mer_id=mer_id,
        order_id=wire.order_id(fields),
        txn_time=wire.txn_time(fields),
        amount_fen=wire.amount(fields),
        channel_type=channel_type,
        back_url=wire.url(fields, "backUrl", required=True),
        front_url=wire.url(fields, "frontUrl", required=False),
        pay_timeout=_pay_timeout(fields, sim.now()),
        commodity=commodity.group(1) if commodity else "",
        req_reserved=fields.get("reqReserved", ""),
        content=content,
    )


def router(sim: UnionPaySimulator) -> APIRouter:
    routes = APIRouter()

    @routes.post("/gateway/api/frontTransReq.do", response_class=HTMLResponse)
    async def front_trans(request: Request) -> Response:
        try:
            fields = wire.parse_form(await request.body())
            new = await run_in_threadpool(new_trade, sim, fields)
            trade = sim.store.open(new, sim.now())
        except errors.GatewayError as refused:
            return error_page(refused)
        return pay_page(trade, public_base_url(sim, request))

    @routes.get("/pay/{token}", response_class=HTMLResponse)
    def show(token: str, request: Request) -> Response:
        trade = sim.store.by_token(token)
        if trade is None:
            return error_page(errors.NotFound(), status_code=404)
        return pay_page(trade, public_base_url(sim, request))

    @routes.post("/pay/{token}/pay", response_class=HTMLResponse)
    def pay(token: str, request: Request) -> Response:
        try:
            trade = sim.pay_token(token)
        except errors.GatewayError as refused:
            return error_page(refused, status_code=409)
        if trade.front_url:
            return return_page(sim, trade)
        return pay_page(trade, public_base_url(sim, request))

    @routes.post("/pay/{token}/cancel", response_class=HTMLResponse)
    def cancel(token: str) -> Response:
        trade = sim.store.by_token(token)
        if trade is None:
            return error_page(errors.NotFound(), status_code=404)
        note = "<p>已取消：订单未支付 (unpaid; payable until its payTimeout).</p>"
        return _page("已取消 Cancelled", _details(trade) + note)

    return routes
