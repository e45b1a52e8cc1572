"""Trades and refunds of the simulated gateway, in memory, behind one lock (per process).

State machine (``trade_status`` as query and notifications report it)::

    (precreated, not scanned) --scan/open page--> WAIT_BUYER_PAY --pay--> TRADE_SUCCESS
    WAIT_BUYER_PAY --close / timeout--> TRADE_CLOSED
    TRADE_SUCCESS --refunds reach the total--> TRADE_CLOSED
    TRADE_SUCCESS --finish (refund window over)--> TRADE_FINISHED

Rules from the gateway's documented and observed behaviour:

- A precreate or page-pay trade exists at Alipay only once the buyer scans the code or opens
  the page; before that query and close answer ACQ.TRADE_NOT_EXIST (unless
  ``trade_visible_before_scan``). A close before the scan still answers TRADE_NOT_EXIST, but
  the code can no longer be paid afterwards, as merchants have reported.
- A repeated precreate with the same out_trade_no and the same content returns the same trade;
  different content is ACQ.CONTEXT_INCONSISTENT; a paid or closed one cannot be created again.
- Refunds: ``out_request_no`` defaults to ``out_trade_no``; without it only the full amount
  may be refunded; a repeat of a request number returns the first result with
  ``fund_change=N``; the refunds of a trade never exceed its total. A refund delayed by the
  ``refund_delay_s`` fault is accepted (``fund_change=N``) and moves money later.
- Timeouts and delayed refunds take effect lazily, whenever the trade is next looked at.

Every transition is one method here, checks its precondition and returns the events to notify.
"""

from __future__ import annotations

import copy
import secrets
import threading
from datetime import datetime

from paydesk.simulators.alipay import errors, wire
from paydesk.simulators.alipay.trades import (
    EventKind,
    NewTrade,
    Refund,
    RefundOutcome,
    Trade,
    TradeEvent,
    TradeStatus,
)

TRADES_MAX = 100_000


class TradeStore:
    """All trades of one simulator; every method takes the lock and returns snapshots."""

    def __init__(self, *, visible_before_scan: bool, fee_bps: int, buyer_logon_id: str) -> None:
        self._lock = threading.Lock()
        self._trades: dict[tuple[str, str], Trade] = {}
        self._by_trade_no: dict[str, Trade] = {}
        self._by_token: dict[str, Trade] = {}
        self._visible_before_scan = visible_before_scan
        self._fee_bps = fee_bps
        self._buyer_logon_id = buyer_logon_id

    # -- lookups -------------------------------------------------------------------------
    def _visible(self, trade: Trade) -> bool:
        return (trade.scanned or self._visible_before_scan) and not trade.closed_before_scan

    def _locate(self, app_id: str, trade_no: str, out_trade_no: str) -> Trade | None:
        if trade_no:
            trade = self._by_trade_no.get(trade_no)
            if trade is None or trade.app_id != app_id:
                return None
            if out_trade_no and trade.out_trade_no != out_trade_no:
                return None
            return trade
        return self._trades.get((app_id, out_trade_no))

    def _find(
        self, app_id: str, trade_no: str, out_trade_no: str, now: datetime
    ) -> tuple[Trade, list[TradeEvent]]:
        trade = self._locate(app_id, trade_no, out_trade_no)
        if trade is None:
            raise errors.TradeNotExist()
        events = self._refresh(trade, now)
        if not self._visible(trade):
            raise errors.TradeNotExist()
        return trade, events

    def find(
        self, app_id: str, trade_no: str, out_trade_no: str, now: datetime
    ) -> tuple[Trade, list[TradeEvent]]:
        """A trade the gateway would admit to (ACQ.TRADE_NOT_EXIST otherwise)."""
        with self._lock:
            trade, events = self._find(app_id, trade_no, out_trade_no, now)
            return copy.deepcopy(trade), events

    def token_of(self, app_id: str | None, out_trade_no: str) -> str | None:
        """The pay-page token of a trade (for the control API; visibility ignored)."""
        with self._lock:
            matches = [
                trade
                for (trade_app, number), trade in self._trades.items()
                if number == out_trade_no and (app_id is None or trade_app == app_id)
            ]
            return matches[0].pay_token if len(matches) == 1 else None

    def snapshot(self, seller_id: str, now: datetime) -> tuple[list[Trade], list[TradeEvent]]:
        """Every trade of a merchant (for the bill), refreshed."""
        with self._lock:
            trades = [t for t in self._trades.values() if t.seller_id == seller_id]
            events = [event for trade in trades for event in self._refresh(trade, now)]
            return copy.deepcopy(trades), events

    # -- transitions ---------------------------------------------------------------------
    def _refresh(self, trade: Trade, now: datetime) -> list[TradeEvent]:
        """Applies what time has done: timeouts, refunds that became effective."""
        events: list[TradeEvent] = []
        if trade.status is TradeStatus.WAIT_BUYER_PAY and now >= trade.expires_at:
            trade.status = TradeStatus.TRADE_CLOSED
            trade.closed_at = trade.expires_at
            if self._visible(trade):
                events.append(self._event(EventKind.CLOSED, trade, trade.expires_at))
        if trade.status is TradeStatus.TRADE_SUCCESS and trade.refunded_fen(now) == trade.total_fen:
            trade.status = TradeStatus.TRADE_CLOSED
            trade.closed_at = max(r.effective_at for r in trade.refunds.values())
        return events

    @staticmethod
    def _event(
        kind: EventKind, trade: Trade, at: datetime, refund: Refund | None = None
    ) -> TradeEvent:
        refunded = trade.refunded_fen()
        status = trade.status
        if refund is not None and refunded == trade.total_fen:
            status = TradeStatus.TRADE_CLOSED
        return TradeEvent(kind, copy.deepcopy(trade), status, at, refund, refunded)

    def create(self, new: NewTrade, now: datetime) -> Trade:
        """Precreate / page.pay / wap.pay: a new trade, or the same one again."""
        with self._lock:
            trade = self._trades.get((new.app_id, new.out_trade_no))
            if trade is not None:
                self._refresh(trade, now)
                if trade.status in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
                    raise errors.TradeHasSuccess()
                if trade.status is TradeStatus.TRADE_CLOSED:
                    raise errors.TradeHasClose()
                same = (trade.total_fen, trade.subject, trade.product_code) == (
                    new.total_fen,
                    new.subject,
                    new.product_code,
                )
                if not same:
                    raise errors.ContextInconsistent()
                return copy.deepcopy(trade)
            if len(self._trades) >= TRADES_MAX:
                raise errors.ServiceUnavailable(f"simulator holds {TRADES_MAX} trades already")
            trade_no = wire.new_trade_no(now)
            while trade_no in self._by_trade_no:
                trade_no = wire.new_trade_no(now)
            trade = Trade(
                app_id=new.app_id,
                seller_id=new.seller_id,
                trade_no=trade_no,
                out_trade_no=new.out_trade_no,
                subject=new.subject,
                body=new.body,
                total_fen=new.total_fen,
                product_code=new.product_code,
                origin=new.origin,
                notify_url=new.notify_url,
                return_url=new.return_url,
                passback_params=new.passback_params,
                store_id=new.store_id,
                operator_id=new.operator_id,
                terminal_id=new.terminal_id,
                created_at=now,
                expires_at=wire.elapsed(now, new.timeout_s),
                pay_token=secrets.token_urlsafe(18),
            )
            self._trades[(new.app_id, new.out_trade_no)] = trade
            self._by_trade_no[trade_no] = trade
            self._by_token[trade.pay_token] = trade
            return copy.deepcopy(trade)

    def _meet_buyer(self, trade: Trade) -> None:
        trade.scanned = True
        if not trade.buyer_user_id:
            trade.buyer_user_id = wire.new_buyer_user_id()
            trade.buyer_logon_id = self._buyer_logon_id

    def scan(self, token: str, now: datetime) -> tuple[Trade, list[TradeEvent]] | None:
        """The buyer scans the code or opens the page: the trade starts to exist."""
        with self._lock:
            trade = self._by_token.get(token)
            if trade is None:
                return None
            events = self._refresh(trade, now)
            if trade.status is TradeStatus.WAIT_BUYER_PAY and not trade.closed_before_scan:
                self._meet_buyer(trade)
            return copy.deepcopy(trade), events

    def pay(self, token: str, now: datetime) -> tuple[Trade, list[TradeEvent]]:
        """The buyer pays: WAIT_BUYER_PAY -> TRADE_SUCCESS."""
        with self._lock:
            trade = self._by_token.get(token)
            if trade is None:
                raise errors.TradeNotExist()
            events = self._refresh(trade, now)
            if trade.status is TradeStatus.TRADE_CLOSED or trade.closed_before_scan:
                raise errors.TradeHasClose()
            if trade.status is not TradeStatus.WAIT_BUYER_PAY:
                raise errors.TradeHasSuccess()
            self._meet_buyer(trade)
            trade.status = TradeStatus.TRADE_SUCCESS
            trade.paid_at = now
            trade.fee_fen = wire.share_fen(trade.total_fen, self._fee_bps)
            events.append(self._event(EventKind.PAID, trade, now))
            return copy.deepcopy(trade), events

    def close(
        self, app_id: str, trade_no: str, out_trade_no: str, now: datetime
    ) -> tuple[Trade, list[TradeEvent]]:
        """alipay.trade.close: WAIT_BUYER_PAY -> TRADE_CLOSED."""
        with self._lock:
            trade = self._locate(app_id, trade_no, out_trade_no)
            if trade is not None and not self._visible(trade):
                self._refresh(trade, now)
                if trade.status is TradeStatus.WAIT_BUYER_PAY:
                    trade.closed_before_scan = True
                    trade.status = TradeStatus.TRADE_CLOSED
                    trade.closed_at = now
                raise errors.TradeNotExist()
            trade, events = self._find(app_id, trade_no, out_trade_no, now)
            if trade.status is not TradeStatus.WAIT_BUYER_PAY:
                raise errors.TradeStatusError()
            trade.status = TradeStatus.TRADE_CLOSED
            trade.closed_at = now
            events.append(self._event(EventKind.CLOSED, trade, now))
            return copy.deepcopy(trade), events

    def refund(
        self,
        app_id: str,
        trade_no: str,
        out_trade_no: str,
        *,
        amount_fen: int,
        out_request_no: str,
        reason: str,
        delay_s: float,
        now: datetime,
    ) -> RefundOutcome:
        """alipay.trade.refund: a new refund, or the first result of a repeated request."""
        with self._lock:
            trade, events = self._find(app_id, trade_no, out_trade_no, now)
            request_no = out_request_no or trade.out_trade_no
            known = trade.refunds.get(request_no)
            if known is not None:
                if known.amount_fen != amount_fen:
                    raise errors.InvalidParameter(
                        "out_request_no 已用于不同的退款金额 (simulator rule)"
                    )
                return RefundOutcome(
                    copy.deepcopy(trade), known, False, trade.refunded_fen(now), events
                )
            if trade.status is TradeStatus.WAIT_BUYER_PAY:
                raise errors.TradeStatusError()
            if trade.status is TradeStatus.TRADE_CLOSED:
                raise errors.TradeHasClose()
            if trade.status is TradeStatus.TRADE_FINISHED:
                raise errors.TradeHasFinished()
            if not out_request_no and amount_fen != trade.total_fen:
                raise errors.RefundAmountNotEqualTotal()
            if amount_fen > trade.total_fen - trade.refunded_fen():
                raise errors.RefundFeeError()
            refund = Refund(
                out_request_no=request_no,
                amount_fen=amount_fen,
                fee_returned_fen=wire.share_fen(amount_fen, self._fee_bps),
                reason=reason,
                requested_at=now,
                effective_at=wire.elapsed(now, delay_s),
            )
            trade.refunds[request_no] = refund
            events.append(self._event(EventKind.REFUNDED, trade, refund.effective_at, refund))
            events.extend(self._refresh(trade, now))
            return RefundOutcome(
                copy.deepcopy(trade), refund, refund.effective(now), trade.refunded_fen(now), events
            )

    def finish(self, app_id: str | None, out_trade_no: str, now: datetime) -> list[TradeEvent]:
        """The refund window ends: TRADE_SUCCESS -> TRADE_FINISHED."""
        with self._lock:
            matches = [
                trade
                for (trade_app, number), trade in self._trades.items()
                if number == out_trade_no and (app_id is None or trade_app == app_id)
            ]
            if len(matches) != 1:
                raise errors.TradeNotExist()
            trade = matches[0]
            events = self._refresh(trade, now)
            if trade.status is not TradeStatus.TRADE_SUCCESS:
                raise errors.TradeStatusError()
            trade.status = TradeStatus.TRADE_FINISHED
            events.append(self._event(EventKind.FINISHED, trade, now))
            return events
