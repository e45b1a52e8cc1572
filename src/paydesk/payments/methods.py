"""The ways to pay an order, and what the payer sends with each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paydesk.channels.base import Method
from paydesk.core.errors import InvalidRequest

WALLET_CHANNEL = "wallet"
"""The ``channel`` of an attempt paid with a platform instrument (balance, points, cards)."""


class MethodNotAvailable(InvalidRequest):
    code = "method_not_available"


class PlatformMethod(StrEnum):
    BALANCE = "balance"
    """The user's money wallet in the order's currency."""
    POINTS = "points"
    """The app's points pay the whole order."""
    POINTS_CASH = "points_cash"
    """Part points, the rest from the user's money wallet, atomically."""
    PREPAID_CARD = "prepaid_card"
    """A prepaid card's code pays the order."""


ALL_METHODS = [m.value for m in PlatformMethod] + [m.value for m in Method]


@dataclass(frozen=True, slots=True)
class PointsPart:
    """The points of a points payment: ``amount`` minor units of the app's points currency
    ``currency`` cover ``covers`` minor units of the order's amount (the merchant sets the
    rate, which campaigns may vary)."""

    currency: str
    amount: int
    covers: int


@dataclass(frozen=True, slots=True)
class PayInput:
    """What the payer chose, and what the method needs."""

    method: str
    user_id: str | None = None
    channel_account_id: str | None = None
    payer_id: str | None = None
    """The payer's id at the channel (WeChat JSAPI openid)."""
    client_ip: str | None = None
    return_url: str | None = None
    points: PointsPart | None = None
    card_code: str | None = None
    payment_token: str | None = None
    """For ``card``: the channel client library's token of the payer's card."""


def platform_method(method: str) -> PlatformMethod | None:
    """The platform instrument ``method`` names, None for a channel method; an unknown method
    is :class:`MethodNotAvailable`."""
    if method in PlatformMethod._value2member_map_:
        return PlatformMethod(method)
    if method in Method._value2member_map_:
        return None
    raise MethodNotAvailable(
        f"method {method!r} is not available; available: {', '.join(ALL_METHODS)}",
        param="method",
    )
