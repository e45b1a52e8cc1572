"""The shell of a simulator's pay page: one card, inline style only, no script, served with a
Content-Security-Policy that allows its own inline style and posting forms back to itself.
Callers escape what they put in it."""

from __future__ import annotations

from html import escape

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 26rem; margin: 3rem auto; color: #222; }
.card { border: 1px solid #ddd; border-radius: .5rem; padding: 1.5rem; }
.amount { font-size: 2rem; font-weight: 600; margin: .5rem 0 1rem; }
.muted { color: #777; font-size: .85rem; }
button { font-size: 1rem; padding: .6rem 1.4rem; margin-right: .5rem; border-radius: .3rem; }
.pay { background: %s; color: white; border: none; }
input { width: 100%%; box-sizing: border-box; padding: .4rem; margin: .3rem 0 1rem; }
"""


def page(title: str, content: str, *, channel: str, accent: str) -> str:
    """A page titled ``title`` around ``content`` (already escaped), in ``channel``'s colour."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE % accent}</style></head>"
        f'<body><div class="card">{content}</div>'
        f'<p class="muted">{escape(channel)} sandbox (Paydesk simulator). No real money moves.</p>'
        "</body></html>\n"
    )
