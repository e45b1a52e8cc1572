"""What the payer's browser sees: the pay page behind a ``qr_code`` and behind a page.pay or
wap.pay URL (CHANNELS.md: signed URLs the browser opens at the gateway), plain HTML with
inline styles and no scripts.

- ``GET /qr/{token}`` is the scan of a precreate code: the trade starts to exist
  (WAIT_BUYER_PAY) and the page shows the amount and a Pay button.
- A page.pay / wap.pay URL opened at ``/gateway.do`` does the same once the signature checks.
- ``POST /cashier/{token}/pay`` pays (TRADE_SUCCESS, notification queued). With a
  ``return_url`` the browser is sent there (303) with the synchronous return parameters
  ``method=alipay.trade.page.pay.return`` (or wap), ``out_trade_no, trade_no, total_amount,
  seller_id, timestamp, app_id, auth_app_id, charset, version``, signed like a notification;
  otherwise a confirmation page is shown.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paydesk.simulators.alipay import errors, signing, wire
from paydesk.simulators.alipay.simulator import AlipaySimulator
from paydesk.simulators.alipay.trades import Trade, TradeStatus

_STYLE = (
    "body{font-family:sans-serif;background:#f5f5f5;margin:0;padding:2rem}"
    ".card{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.1rem;color:#1677ff}"
    ".amount{font-size:2rem;margin:.5rem 0}dt{color:#888;font-size:.8rem}dd{margin:0 0 .6rem}"
    "button{width:100%;padding:.8rem;font-size:1rem;background:#1677ff;color:#fff;"
    "border:0;border-radius:6px;cursor:pointer}"
)


def _page(title: str, content: str, status_code: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><div class="card"><h1>支付宝 Sandbox · {escape(title)}</h1>{content}</div>'
        "</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def _details(trade: Trade) -> str:
    rows = [
        ("商品 Subject", trade.subject),
        ("商户订单号 out_trade_no", trade.out_trade_no),
        ("支付宝交易号 trade_no", trade.trade_no),
        ("应用 app_id", trade.app_id),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<p class="amount">¥ {wire.format_yuan(trade.total_fen)}</p><dl>{items}</dl>'


def error_page(error: errors.GatewayError, status_code: int = 200) -> HTMLResponse:
    """The gateway's answer to a browser whose request it refused."""
    content = (
        f"<p>错误代码 <code>{escape(error.sub_code)}</code></p>"
        f"<p>{escape(error.sub_msg)}</p><p><small>{escape(error.code)} {escape(error.msg)}"
        "</small></p>"
    )
    return _page("支付失败 Payment refused", content, status_code)


def pay_page(trade: Trade, base_url: str) -> HTMLResponse:
    """The cashier of a trade: Pay while it waits, its outcome otherwise."""
    if trade.status is TradeStatus.WAIT_BUYER_PAY and not trade.closed_before_scan:
        form = (
            f'<form method="post" action="{escape(base_url)}/cashier/{escape(trade.pay_token)}'
            '/pay"><button type="submit">确认付款 Pay</button></form>'
        )
        return _page("付款 Pay", _details(trade) + form)
    if trade.status is TradeStatus.TRADE_CLOSED or trade.closed_before_scan:
        return _page("交易已关闭 Trade closed", _details(trade))
    return _page("支付成功 Paid", _details(trade))


def return_url(sim: AlipaySimulator, trade: Trade) -> str:
    """Where the browser goes after paying a page.pay or wap.pay trade, signed."""
    params = {
        "charset": "utf-8",
        "method": f"{trade.origin}.return",
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "total_amount": wire.format_yuan(trade.total_fen),
        "seller_id": trade.seller_id,
        "timestamp": wire.format_time(sim.now()),
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "version": "1.0",
    }
    signed = signing.sign_notification(sim.platform_key, params)
    separator = "&" if "?" in trade.return_url else "?"
    return f"{trade.return_url}{separator}{urlencode(signed)}"


def public_base_url(sim: AlipaySimulator, request: Request) -> str:
    """The simulator's base URL as browsers and receivers reach it (mount path included)."""
    if sim.config.public_base_url:
        return sim.config.public_base_url.rstrip("/")
    # ``root_path`` carries the mount path; ``request.base_url`` is the outermost app's.
    origin = str(request.base_url.replace(path="", query="", fragment=""))
    return origin.rstrip("/") + str(request.scope.get("root_path", "")).rstrip("/")


def router(sim: AlipaySimulator) -> APIRouter:
    """The buyer's routes."""
    routes = APIRouter()

    @routes.get("/qr/{token}", response_class=HTMLResponse)
    def scan(token: str, request: Request) -> Response:
        found = sim.store.scan(token, sim.now())
        if found is None:
            return error_page(errors.TradeNotExist(), status_code=404)
        trade, events = found
        sim.publish(events)
        return pay_page(trade, public_base_url(sim, request))

    @routes.post("/cashier/{token}/pay", response_class=HTMLResponse)
    def pay(token: str, request: Request) -> Response:
        try:
            trade = sim.pay_token(token)
        except errors.GatewayError as refused:
            return error_page(refused, status_code=409)
        if trade.return_url:
            return RedirectResponse(return_url(sim, trade), status_code=303)
        return pay_page(trade, public_base_url(sim, request))

    return routes
