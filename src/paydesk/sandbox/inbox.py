"""The webhook inbox: a place for the demo merchant's webhooks to land, and to be looked at.

``POST /sandbox/webhook-inbox`` records the request (method, path, query, headers, body) and
answers 200 ``{"received": <number>}``; ``GET /sandbox/webhook-inbox`` lists what arrived,
newest first, as JSON (or as a page when a browser asks for HTML, or with ``?format=html``);
``DELETE`` empties it. It keeps the last :data:`INBOX_SIZE` requests, in memory.

It checks **no signature**: it is a mailbox for the sandbox, not a receiver to copy. A real
merchant's receiver must verify every webhook (``paydesk.webhooks.signing.verify``) before
trusting it. Anyone who can reach the server can read the inbox, so only test data belongs
in it.
"""

from __future__ import annotations

import base64
import threading
from collections import deque
from datetime import UTC, datetime
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

INBOX_SIZE = 100
BODY_BYTES_KEPT = 64 * 1024
"""A longer body is kept cut to this length (``truncated``: true)."""
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


class WebhookInbox:
    """The last :data:`INBOX_SIZE` requests POSTed to it; safe between threads."""

    def __init__(self, size: int = INBOX_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._count = 0

    def record(
        self, *, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        kept = body[:BODY_BYTES_KEPT]
        try:
            text, encoding = kept.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(kept).decode(), "base64"
        with self._lock:
            self._count += 1
            entry = {
                "number": self._count,
                "received_at": datetime.now(UTC).isoformat(),
                "method": method,
                "path": path,
                "query": query,
                "headers": headers,
                "body": text,
                "body_encoding": encoding,
                "body_bytes": len(body),
                "truncated": len(body) > BODY_BYTES_KEPT,
            }
            self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._entries))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    async def endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            headers: dict[str, str] = {}
            for name, value in request.headers.items():
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            entry = self.record(
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers=headers,
                body=await request.body(),
            )
            return JSONResponse({"received": entry["number"]})
        if request.method == "DELETE":
            self.clear()
            return Response(status_code=204)
        entries = self.entries()
        wants_html = request.query_params.get("format") == "html" or (
            "text/html" in request.headers.get("accept", "")
            and request.query_params.get("format") != "json"
        )
        if wants_html:
            return HTMLResponse(
                _page(entries), headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY}
            )
        return JSONResponse({"data": entries, "signatures_checked": False})


def _page(entries: list[dict[str, Any]]) -> str:
    items = []
    for entry in entries:
        headers = "\n".join(f"{name}: {value}" for name, value in entry["headers"].items())
        target = entry["path"] + (f"?{entry['query']}" if entry["query"] else "")
        items.append(
            f"<section><h2>#{entry['number']} {escape(entry['method'])} {escape(target)}</h2>"
            f"<p>{escape(entry['received_at'])}, {entry['body_bytes']} bytes"
            f"{' (cut)' if entry['truncated'] else ''}</p>"
            f"<pre>{escape(headers)}</pre><pre>{escape(entry['body'])}</pre></section>"
        )
    listing = "".join(items) or "<p>Nothing received yet.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Webhook inbox</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:.5em;"
        "white-space:pre-wrap;word-break:break-all}</style></head><body>"
        "<h1>Webhook inbox</h1><p>The last requests POSTed here, newest first. Signatures are "
        "<strong>not</strong> checked: a real receiver must verify them.</p>"
        f"{listing}</body></html>"
    )
