"""The cashier's link: an order id and a token only this server can make.

The token is HMAC-SHA256 of the order id under a key derived from the server secret, so a
payer holding one order's link cannot open another order's cashier by changing the id. It
lives as long as the order can be paid: the order's expiry bounds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_LENGTH = 32


def _key(secret: str) -> bytes:
    return hashlib.sha256(f"paydesk:cashier:{secret}".encode()).digest()


def token(secret: str, order_id: str) -> str:
    mac = hmac.new(_key(secret), order_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:TOKEN_LENGTH]


def valid(secret: str, order_id: str, candidate: str) -> bool:
    return hmac.compare_digest(token(secret, order_id), candidate or "")


def cashier_url(public_url: str, secret: str, order_id: str) -> str:
    return f"{public_url.rstrip('/')}/cashier/{order_id}?t={token(secret, order_id)}"
