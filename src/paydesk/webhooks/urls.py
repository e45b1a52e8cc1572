"""Which URLs a webhook may be sent to. Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

URL_LENGTH_MAX = 500


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or ``None`` when it can: an absolute http(s) URL
    with a host, at most 500 characters, without spaces, control characters or a fragment."""
    if not url or len(url) > URL_LENGTH_MAX:
        return f"must be 1 to {URL_LENGTH_MAX} characters"
    if not url.isprintable() or any(char.isspace() for char in url):
        return "must not contain spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in {"http", "https"}:
        return "must start with http:// or https://"
    if not parts.hostname:
        return "must name a host"
    if parts.fragment or url.endswith("#"):
        return "must not have a #fragment (it is never sent)"
    if port == 0:
        return "must not use port 0"
    return None
