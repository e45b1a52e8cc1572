"""``/gateway.do``: one URL for every method, as the open platform has it.

Requests (CHANNELS.md): python-alipay-sdk sends GET with every parameter in the query
string; the official SDKs POST a form, the Java one with the common parameters in the query
string and ``biz_content`` in the body. Both are accepted and merged (body wins). Checked in
this order, the first failure naming the answer:

1. ``method`` present (40001 isv.missing-method) and served (40002 isv.invalid-method); these
   two answer under ``error_response``, every later one under ``<method>_response``;
2. ``app_id`` present and known (isv.missing-app-id / isv.invalid-app-id);
3. ``sign_type`` RSA2, ``charset`` utf-8, ``timestamp`` ``yyyy-MM-dd HH:mm:ss``, ``version``
   1.0, ``sign`` present (isv.missing-* / isv.invalid-*);
4. the signature, SHA256withRSA with the app's public key over the sorted raw ``k=v`` pairs,
   ``sign`` excluded and ``sign_type`` included (40002 isv.invalid-signature);
5. for server-to-server methods, the faults in force (``delay_s``, then ``fail_next_n``: a
   signed 20000 ACQ.SYSTEM_ERROR);
6. ``biz_content``, a JSON object (40002 isv.invalid-biz-content), then the method itself.

Every answer is HTTP 200 with ``{"<method_with_underscores>_response": {...}, "sign": "..."}``
signed with the platform key over the inner object's exact bytes, failures included.
page.pay and wap.pay answer HTML (the pay page, or an error page) to the payer's browser.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paydesk.simulators.alipay import errors, methods, pages, signing, wire
from paydesk.simulators.alipay.config import AppRegistration
from paydesk.simulators.alipay.simulator import AlipaySimulator

BODY_BYTES_MAX = 1_000_000
MEDIA_TYPE = "application/json; charset=utf-8"
ERROR_RESPONSE = "error_response"


async def read_params(request: Request) -> dict[str, str]:
    """The query string and, for a form POST, the body's parameters (raw values decoded)."""
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
    if request.method == "POST":
        body = await request.body()
        if len(body) > BODY_BYTES_MAX:
            raise errors.InvalidArgument("parameter", "请求过大")
        content_type = request.headers.get("content-type", "")
        if not content_type or content_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _require(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise errors.MissingArgument(name.replace("_", "-"))
    return value


def check_common(sim: AlipaySimulator, params: dict[str, str]) -> AppRegistration:
    """Steps 2-4: the calling app, once its parameters and signature check."""
    app_id = _require(params, "app_id")
    app = sim.app(app_id)
    if app is None:
        raise errors.InvalidArgument("app-id", "无效的AppID参数")
    if _require(params, "sign_type") != signing.RSA2:
        raise errors.InvalidArgument("signature-type", "签名类型无效 (RSA2 only)")
    if _require(params, "charset").lower() != "utf-8":
        raise errors.InvalidArgument("charset", "字符集错误 (utf-8 only)")
    if wire.parse_time(_require(params, "timestamp")) is None:
        raise errors.InvalidArgument("timestamp", "非法的时间戳参数")
    if _require(params, "version") != "1.0":
        raise errors.InvalidArgument("version", "无效的版本号")
    _require(params, "sign")
    if not signing.verify_request(sim.app_key(app_id), params):
        raise errors.InvalidSignature()
    return app


def parse_biz(params: dict[str, str]) -> dict[str, Any]:
    """``biz_content`` as a JSON object (absent means empty)."""
    raw = params.get("biz_content", "")
    if not raw:
        return {}
    try:
        biz = json.loads(raw)
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise errors.InvalidArgument("biz-content", "biz_content 不是合法的JSON对象")
    return biz


def router(sim: AlipaySimulator) -> APIRouter:
    """The ``/gateway.do`` route."""
    routes = APIRouter()

    def answer(response_key: str, inner: dict[str, Any]) -> Response:
        body = signing.signed_response(sim.platform_key, response_key, inner)
        return Response(body, media_type=MEDIA_TYPE)

    async def page_pay(call: methods.Call) -> Response:
        try:
            trade = await run_in_threadpool(methods.new_trade, sim, call)
        except errors.GatewayError as refused:
            return pages.error_page(refused)
        found = sim.store.scan(trade.pay_token, sim.now())
        if found is None:  # pragma: no cover - the trade was just created
            return pages.error_page(errors.TradeNotExist())
        trade, events = found
        sim.publish(events)
        return pages.pay_page(trade, call.base_url)

    @routes.api_route("/gateway.do", methods=["GET", "POST"])
    async def gateway(request: Request) -> Response:
        try:
            params = await read_params(request)
            method = _require(params, "method")
        except errors.GatewayError as refused:
            return answer(ERROR_RESPONSE, refused.body())
        page = method in methods.PAGE_METHODS
        handler = methods.API_METHODS.get(method)
        if handler is None and not page:
            return answer(ERROR_RESPONSE, errors.InvalidArgument("method", "不存在的方法名").body())
        response_key = method.replace(".", "_") + "_response"
        try:
            app = check_common(sim, params)
            base_url = pages.public_base_url(sim, request)
            call = methods.Call(method, app, params, parse_biz(params), base_url)
            if page:
                return await page_pay(call)
            assert handler is not None
            plan = sim.faults.plan_for(call.app.app_id)
            if plan.delay_s > 0:
                await asyncio.sleep(plan.delay_s)
            if sim.faults.take_failure(call.app.app_id):
                raise errors.ServiceUnavailable()
            inner = await run_in_threadpool(handler, sim, call)
        except errors.GatewayError as refused:
            if page:
                return pages.error_page(refused)
            return answer(response_key, refused.body())
        return answer(response_key, inner)

    return routes
