"""The records of the simulated gateway: trades, refunds, and the events they emit.

Amounts are ``int`` fen; times are timezone-aware Beijing times. ``trade_status`` values are
the gateway's (CHANNELS.md: WAIT_BUYER_PAY | TRADE_SUCCESS | TRADE_CLOSED | TRADE_FINISHED).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class TradeStatus(enum.StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    """Created (scanned) and not paid yet."""
    TRADE_CLOSED = "TRADE_CLOSED"
    """Closed unpaid, timed out, or fully refunded."""
    TRADE_SUCCESS = "TRADE_SUCCESS"
    """Paid; refunds are still possible."""
    TRADE_FINISHED = "TRADE_FINISHED"
    """Paid and final: no more refunds."""


class EventKind(enum.StrEnum):
    PAID = "paid"
    CLOSED = "closed"
    REFUNDED = "refunded"
    FINISHED = "finished"


@dataclass
class Refund:
    out_request_no: str
    amount_fen: int
    """Returned to the buyer by this request, fen."""
    fee_returned_fen: int
    """Part of the service fee returned to the merchant with it, fen."""
    reason: str
    requested_at: datetime
    effective_at: datetime
    """When the money moves (later than ``requested_at`` under ``refund_delay_s``)."""

    def effective(self, now: datetime) -> bool:
        return self.effective_at <= now


@dataclass
class Trade:
    app_id: str
    seller_id: str
    trade_no: str
    out_trade_no: str
    subject: str
    body: str
    total_fen: int
    """The order amount, fen."""
    product_code: str
    origin: str
    """The method that created it: alipay.trade.precreate, .page.pay or .wap.pay."""
    notify_url: str
    return_url: str
    passback_params: str
    store_id: str
    operator_id: str
    terminal_id: str
    created_at: datetime
    expires_at: datetime
    pay_token: str
    scanned: bool = False
    closed_before_scan: bool = False
    status: TradeStatus = TradeStatus.WAIT_BUYER_PAY
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    buyer_user_id: str = ""
    buyer_logon_id: str = ""
    fee_fen: int = 0
    """Service fee the merchant pays on this payment, fen."""
    refunds: dict[str, Refund] = field(default_factory=dict)

    def refunded_fen(self, now: datetime | None = None) -> int:
        """Refunded so far (effective ones only when ``now`` is given), fen."""
        return sum(
            refund.amount_fen
            for refund in self.refunds.values()
            if now is None or refund.effective(now)
        )


@dataclass(frozen=True)
class TradeEvent:
    """Something the merchant is notified of; ``trade`` is a snapshot."""

    kind: EventKind
    trade: Trade
    trade_status: TradeStatus
    at: datetime
    """When it happens (notifications are not sent before)."""
    refund: Refund | None = None
    refunded_fen: int = 0
    """Refunded in all once this event has happened, fen."""


@dataclass(frozen=True)
class RefundOutcome:
    trade: Trade
    refund: Refund
    fund_change: bool
    refunded_fen: int
    """Effective refunds of the trade now, fen (the response's ``refund_fee``)."""
    events: list[TradeEvent]


@dataclass(frozen=True)
class NewTrade:
    """What precreate, page.pay and wap.pay ask for."""

    app_id: str
    seller_id: str
    out_trade_no: str
    subject: str
    body: str
    total_fen: int
    product_code: str
    origin: str
    notify_url: str
    return_url: str
    passback_params: str
    store_id: str
    operator_id: str
    terminal_id: str
    timeout_s: int
