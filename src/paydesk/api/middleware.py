"""ASGI middleware: request id, access log, metrics and the request body limit."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paydesk.api.errors import error_response

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("paydesk.http")

HTTP_REQUESTS = Counter(
    "paydesk_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "paydesk_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"]
)


def _route_label(scope: Scope) -> str:
    """The route template (``/v1/apps/{app_id}``) rather than the path, so that metrics have
    one series per route, not one per object."""
    if scope.get("route") is None:
        return "unmatched"
    params = scope.get("path_params") or {}
    names: dict[str, str] = {str(value): str(name) for name, value in params.items()}
    segments: list[str] = str(scope["path"]).split("/")
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in segments)


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Gives every request an id (the caller's ``X-Request-Id`` if well formed), echoes it in
    the response, binds it to every log line, logs and counts the request, and refuses bodies
    above ``body_bytes_max`` with 413 before the application reads them."""

    def __init__(self, app: ASGIApp, *, body_bytes_max: int) -> None:
        self.app = app
        self.body_bytes_max = body_bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self._declared_length(scope) > self.body_bytes_max:
                await self._too_large(scope, receive, send_with_id)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except _BodyTooLarge:
            if status["sent"]:
                raise
            await self._too_large(scope, receive, send_with_id)
        finally:
            route = _route_label(scope)
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(elapsed)
            log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                status=status["code"],
                duration_ms=round(elapsed * 1000, 2),
            )

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == REQUEST_ID_HEADER.encode():
                candidate: str = value.decode("latin-1")
                if _REQUEST_ID_PATTERN.match(candidate):
                    return candidate
        return f"req_{uuid.uuid4().hex}"

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_bytes_max:
                    raise _BodyTooLarge
            return message

        return limited_receive

    async def _too_large(self, scope: Scope, receive: Receive, send: Any) -> None:
        response = error_response(
            413,
            "request_too_large",
            f"the request body exceeds {self.body_bytes_max} bytes",
        )
        await response(scope, receive, send)
