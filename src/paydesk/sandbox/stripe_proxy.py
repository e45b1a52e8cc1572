"""``/sandbox/stripe``: the Stripe API of the sandbox, which is localstripe.

Stripe has no simulator of Paydesk's own: its sandbox is ``localstripe`` (PyPI), an
independent Stripe API server, run beside Paydesk on loopback (``localstripe --port 8420``)
and named by ``PAYDESK_STRIPE_SANDBOX_URL``. Sandbox Stripe accounts call
``<public_url>/sandbox/stripe``, which passes every request through to it unchanged, so the
sandbox has one address for every channel. Without the setting it answers 503 with what to do.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

TIMEOUT_S = 30.0
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
}


class StripeSandboxProxy:
    def __init__(self, upstream: str | None) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self.upstream is None:
            answer: Response = JSONResponse(
                {
                    "error": {
                        "type": "api_error",
                        "message": "the Stripe sandbox is localstripe: run it and set "
                        "PAYDESK_STRIPE_SANDBOX_URL (docs/sandbox.md)",
                    }
                },
                status_code=503,
            )
            await answer(scope, receive, send)
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        path, root = scope.get("path", "/"), scope.get("root_path", "")
        if root and path.startswith(root):  # the path below the mount
            path = path[len(root) :] or "/"
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + path + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        try:
            upstream = await self._client.request(
                request.method, url, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            answer = JSONResponse(
                {"error": {"type": "api_error", "message": f"localstripe unreachable: {exc}"}},
                status_code=502,
            )
        else:
            answer = Response(
                content=upstream.content,
                status_code=upstream.status_code,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP},
            )
        await answer(scope, receive, send)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
