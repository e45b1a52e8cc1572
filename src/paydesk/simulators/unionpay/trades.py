"""The simulated gateway's transactions, in memory behind one lock (per process).

A **payment** (consume, ``txnType=01``) exists from the moment the payer's browser posts the
signed form to ``frontTransReq.do``::

    WAITING --pay (before payTimeout)--> PAID
    WAITING --fail--> FAILED

While WAITING the gateway does not admit to it: a query answers 34 (查无此交易), as for an
order it never saw. A **refund** (``txnType=04``) of a PAID payment is accepted at once
(``queryId`` assigned) and succeeds ``refund_delay_s`` later; until then a query reports
``origRespCode`` 05 (交易已受理). Rules:

- ``orderId`` is unique per merchant per Beijing day of ``txnTime`` across payments and refunds
  (12 重复交易); the same consume form posted again (same ``orderId``, ``txnTime`` and
  content: a browser's resubmission) opens the same payment.
- A payment cannot be paid once its ``payTimeout`` has passed (39).
- Refunds of a payment never exceed its amount (33); only a PAID payment can be refunded (35).

Every method returns snapshots (copies); times are aware Beijing datetimes.
"""

from __future__ import annotations

import copy
import enum
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from paydesk.simulators.unionpay import errors, wire

TRADES_MAX = 100_000


class TradeStatus(enum.StrEnum):
    WAITING = "waiting"
    PAID = "paid"
    FAILED = "failed"


@dataclass
class Trade:
    mer_id: str
    order_id: str
    txn_time: str
    amount_fen: int
    channel_type: str
    back_url: str
    front_url: str
    pay_timeout: datetime | None
    commodity: str
    req_reserved: str
    content: str
    """The signed form's text without its signature: tells a resubmission from a new order."""
    created_at: datetime
    token: str
    status: TradeStatus = TradeStatus.WAITING
    resp_code: str = ""
    resp_msg: str = ""
    query_id: str = ""
    trace_no: str = ""
    trace_time: str = ""
    completed_at: datetime | None = None
    refunded_fen: int = 0
    """Accepted refunds, in progress or done."""


@dataclass
class Refund:
    mer_id: str
    order_id: str
    txn_time: str
    amount_fen: int
    back_url: str
    orig_query_id: str
    orig_order_id: str
    orig_trace_no: str
    orig_trace_time: str
    query_id: str
    trace_no: str
    trace_time: str
    requested_at: datetime
    effective_at: datetime

    def succeeded(self, now: datetime) -> bool:
        return now >= self.effective_at


Record = Trade | Refund


@dataclass(frozen=True)
class NewTrade:
    mer_id: str
    order_id: str
    txn_time: str
    amount_fen: int
    channel_type: str
    back_url: str
    front_url: str
    pay_timeout: datetime | None
    commodity: str
    req_reserved: str
    content: str


@dataclass(frozen=True)
class NewRefund:
    mer_id: str
    order_id: str
    txn_time: str
    amount_fen: int
    back_url: str
    orig_query_id: str


@dataclass
class _Book:
    trades: dict[tuple[str, str, str], Trade] = field(default_factory=dict)
    refunds: dict[tuple[str, str, str], Refund] = field(default_factory=dict)
    by_query_id: dict[tuple[str, str], Record] = field(default_factory=dict)
    by_token: dict[str, Trade] = field(default_factory=dict)


def _day(txn_time: str) -> str:
    return txn_time[:8]


class TradeStore:
    """All transactions of one simulator; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._book = _Book()

    # -- lookups -------------------------------------------------------------------------
    def _order_used(self, mer_id: str, order_id: str, txn_time: str) -> bool:
        book = self._book
        keys = [*book.trades, *book.refunds]
        return any((m, o) == (mer_id, order_id) and _day(t) == _day(txn_time) for m, o, t in keys)

    def find(self, mer_id: str, order_id: str, txn_time: str) -> Record | None:
        with self._lock:
            key = (mer_id, order_id, txn_time)
            found: Record | None = self._book.trades.get(key) or self._book.refunds.get(key)
            return copy.deepcopy(found)

    def by_query_id(self, mer_id: str, query_id: str) -> Record | None:
        with self._lock:
            return copy.deepcopy(self._book.by_query_id.get((mer_id, query_id)))

    def by_token(self, token: str) -> Trade | None:
        with self._lock:
            return copy.deepcopy(self._book.by_token.get(token))

    def locate(self, order_id: str, mer_id: str | None, txn_time: str | None) -> Trade:
        """The one payment a control call names (404-style NotFound otherwise)."""
        with self._lock:
            matches = [
                trade
                for (m, o, t), trade in self._book.trades.items()
                if o == order_id and mer_id in (None, m) and txn_time in (None, t)
            ]
            if len(matches) != 1:
                raise errors.NotFound(f"{len(matches)} payments with orderId {order_id}")
            return copy.deepcopy(matches[0])

    def completed(self, mer_id: str, day: date, now: datetime) -> list[Record]:
        """The payments and refunds of a merchant completed on ``day`` (Beijing), in order."""
        with self._lock:
            done: list[tuple[datetime, Record]] = []
            for trade in self._book.trades.values():
                at = trade.completed_at
                if (
                    trade.mer_id == mer_id
                    and trade.status is TradeStatus.PAID
                    and at is not None
                    and at.date() == day
                ):
                    done.append((at, trade))
            for refund in self._book.refunds.values():
                at = refund.effective_at
                if refund.mer_id == mer_id and refund.succeeded(now) and at.date() == day:
                    done.append((at, refund))
            done.sort(key=lambda item: item[0])
            return [copy.deepcopy(record) for _, record in done]

    # -- payments ------------------------------------------------------------------------
    def open(self, new: NewTrade, now: datetime) -> Trade:
        """The payment a consume form opens (the same one again for a resubmission)."""
        with self._lock:
            key = (new.mer_id, new.order_id, new.txn_time)
            known = self._book.trades.get(key)
            if known is not None and known.content == new.content:
                return copy.deepcopy(known)
            if known is not None or self._order_used(new.mer_id, new.order_id, new.txn_time):
                raise errors.Duplicate("orderId")
            if len(self._book.trades) >= TRADES_MAX:
                raise errors.GatewayError("the simulator is full")
            trade = Trade(
                mer_id=new.mer_id,
                order_id=new.order_id,
                txn_time=new.txn_time,
                amount_fen=new.amount_fen,
                channel_type=new.channel_type,
                back_url=new.back_url,
                front_url=new.front_url,
                pay_timeout=new.pay_timeout,
                commodity=new.commodity,
                req_reserved=new.req_reserved,
                content=new.content,
                created_at=now,
                token=secrets.token_urlsafe(18),
            )
            self._book.trades[key] = trade
            self._book.by_token[trade.token] = trade
            return copy.deepcopy(trade)

    def _complete(self, trade: Trade, now: datetime) -> None:
        trade.query_id = wire.new_query_id(now)
        trade.trace_no = wire.new_trace_no()
        trade.trace_time = wire.trace_time(now)
        trade.completed_at = now
        self._book.by_query_id[(trade.mer_id, trade.query_id)] = trade

    def pay(self, token: str, now: datetime) -> Trade:
        """The payer pays: WAITING -> PAID (before ``payTimeout``)."""
        with self._lock:
            trade = self._book.by_token.get(token)
            if trade is None:
                raise errors.NotFound("token")
            if trade.status is not TradeStatus.WAITING:
                raise errors.OriginalNotFound(f"the payment is {trade.status.value}")
            if trade.pay_timeout is not None and now > trade.pay_timeout:
                raise errors.PayTimeout("payTimeout")
            trade.status = TradeStatus.PAID
            trade.resp_code, trade.resp_msg = "00", "成功[0000000]"
            self._complete(trade, now)
            return copy.deepcopy(trade)

    def fail(self, token: str, resp_code: str, resp_msg: str, now: datetime) -> Trade:
        """The payment fails (the card was declined): WAITING -> FAILED."""
        with self._lock:
            trade = self._book.by_token.get(token)
            if trade is None:
                raise errors.NotFound("token")
            if trade.status is not TradeStatus.WAITING:
                raise errors.OriginalNotFound(f"the payment is {trade.status.value}")
            trade.status = TradeStatus.FAILED
            trade.resp_code, trade.resp_msg = resp_code, resp_msg
            self._complete(trade, now)
            return copy.deepcopy(trade)

    # -- refunds -------------------------------------------------------------------------
    def refund(self, new: NewRefund, delay_s: float, now: datetime) -> Refund:
        """A refund of a PAID payment, accepted now, succeeding ``delay_s`` later."""
        with self._lock:
            orig = self._book.by_query_id.get((new.mer_id, new.orig_query_id))
            if not isinstance(orig, Trade) or orig.status is not TradeStatus.PAID:
                raise errors.OriginalNotFound("origQryId")
            if self._order_used(new.mer_id, new.order_id, new.txn_time):
                raise errors.Duplicate("orderId")
            if new.amount_fen > orig.amount_fen - orig.refunded_fen:
                raise errors.AmountExceeded("txnAmt")
            refund = Refund(
                mer_id=new.mer_id,
                order_id=new.order_id,
                txn_time=new.txn_time,
                amount_fen=new.amount_fen,
                back_url=new.back_url,
                orig_query_id=orig.query_id,
                orig_order_id=orig.order_id,
                orig_trace_no=orig.trace_no,
                orig_trace_time=orig.trace_time,
                query_id=wire.new_query_id(now),
                trace_no=wire.new_trace_no(),
                trace_time=wire.trace_time(now),
                requested_at=now,
                effective_at=now + timedelta(seconds=delay_s),
            )
            orig.refunded_fen += new.amount_fen
            self._book.refunds[(new.mer_id, new.order_id, new.txn_time)] = refund
            self._book.by_query_id[(new.mer_id, refund.query_id)] = refund
            return copy.deepcopy(refund)
