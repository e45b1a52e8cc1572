"""The simulated platform's orders and refunds, in memory, behind one lock.

State lives in this process only. Each change is one named transition checking its
precondition:

- create (unified order): a repeated ``out_trade_no`` with the same content returns the same
  prepay; with other content it is ``OUT_TRADE_NO_USED``; a paid order is ``ORDERPAID``, a
  closed one ``ORDERCLOSED``.
- pay (the payer): only from ``NOTPAY``; past ``time_expire`` the order closes instead.
  ``succeeded=False`` makes it ``PAYERROR`` (the payer's bank refused; it can only be closed).
- close: ``NOTPAY`` or ``PAYERROR`` becomes ``CLOSED``; a closed order is ``ORDERCLOSED``, a
  paid one ``ORDERPAID``.
- refund: of a paid order only (``SUCCESS`` or ``REFUND``); several refunds may add up to the
  paid amount, no more (at most :data:`REFUNDS_PER_ORDER_MAX`); a repeated ``out_refund_no``
  with the same content returns the same refund. The order turns ``REFUND`` with its first.
- complete a refund: ``PROCESSING`` becomes ``SUCCESS``, ``FAIL`` or ``CHANGE`` (the last two
  give the amount back to be refunded again), or stays undecided as ``NOTSURE``.

An unpaid order past its ``time_expire`` reads as ``CLOSED``. Amounts are integer fen.
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from paydesk.simulators.qqwallet.errors import (
    OrderClosed,
    OrderNotExist,
    OrderPaid,
    OutTradeNoUsed,
    ParamError,
    RefundNotExist,
    SystemFailure,
    TradeStateError,
)

ORDERS_MAX = 100_000
REFUNDS_PER_ORDER_MAX = 50


class TradeType(StrEnum):
    NATIVE = "NATIVE"
    JSAPI = "JSAPI"
    APP = "APP"


class TradeState(StrEnum):
    NOTPAY = "NOTPAY"
    SUCCESS = "SUCCESS"
    REFUND = "REFUND"
    CLOSED = "CLOSED"
    PAYERROR = "PAYERROR"


PAID = frozenset({TradeState.SUCCESS, TradeState.REFUND})
TRADE_STATE_DESC = {
    TradeState.NOTPAY: "未支付",
    TradeState.SUCCESS: "支付成功",
    TradeState.REFUND: "转入退款",
    TradeState.CLOSED: "已关闭",
    TradeState.PAYERROR: "支付失败",
}


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    NOTSURE = "NOTSURE"
    CHANGE = "CHANGE"


FINAL_REFUND = frozenset({RefundStatus.SUCCESS, RefundStatus.FAIL, RefundStatus.CHANGE})
RELEASING_REFUND = frozenset({RefundStatus.FAIL, RefundStatus.CHANGE})


@dataclass(frozen=True)
class OrderRequest:
    """A merchant's unified order, checked."""

    mch_id: str
    appid: str | None
    trade_type: TradeType
    body: str
    attach: str | None
    out_trade_no: str
    total_fee: int
    """What the payer pays, fen."""
    fee_type: str
    spbill_create_ip: str
    time_expire: datetime | None
    notify_url: str
    sign_type: str | None
    """The ``sign_type`` the order named (None: MD5 by default): its notification names and
    uses the same."""
    fingerprint: str
    """The content that tells a replay from a reuse of the number."""


@dataclass
class Order:
    request: OrderRequest
    prepay_id: str
    create_time: datetime
    trade_state: TradeState = TradeState.NOTPAY
    transaction_id: str | None = None
    time_end: datetime | None = None
    openid: str | None = None
    bank_type: str | None = None
    refund_nos: tuple[str, ...] = ()
    refund_fee_committed: int = 0
    """Fen refunded or being refunded (refunds that did not fail)."""

    @property
    def mch_id(self) -> str:
        return self.request.mch_id

    @property
    def out_trade_no(self) -> str:
        return self.request.out_trade_no


@dataclass(frozen=True)
class RefundRequest:
    out_refund_no: str
    out_trade_no: str | None
    transaction_id: str | None
    refund_fee: int
    """Fen to give back."""
    fingerprint: str


@dataclass
class Refund:
    request: RefundRequest
    mch_id: str
    refund_id: str
    out_trade_no: str
    create_time: datetime
    status: RefundStatus = RefundStatus.PROCESSING
    success_time: datetime | None = None


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


class Store:
    """Orders and refunds of every merchant; each public method is one transition."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._orders: dict[tuple[str, str], Order] = {}
        self._by_prepay: dict[str, tuple[str, str]] = {}
        self._by_transaction: dict[tuple[str, str], tuple[str, str]] = {}
        self._refunds: dict[tuple[str, str], Refund] = {}

    # --- orders -----------------------------------------------------------------------------
    def create_order(self, request: OrderRequest, now: datetime) -> Order:
        key = (request.mch_id, request.out_trade_no)
        with self._lock:
            existing = self._orders.get(key)
            if existing is not None:
                self._expire(existing, now)
                if existing.trade_state in PAID:
                    raise OrderPaid("订单已支付 (the order is paid)")
                if existing.trade_state is TradeState.CLOSED:
                    raise OrderClosed("订单已关闭 (the order is closed)")
                if existing.request.fingerprint != request.fingerprint:
                    raise OutTradeNoUsed("商户订单号重复 (out_trade_no exists with other content)")
                return copy.copy(existing)
            if len(self._orders) >= ORDERS_MAX:
                raise SystemFailure(f"the simulator holds at most {ORDERS_MAX} orders")
            prepay_id = "6V" + secrets.token_hex(15)
            order = Order(request, prepay_id, now)
            self._orders[key] = order
            self._by_prepay[prepay_id] = key
            return copy.copy(order)

    @staticmethod
    def _expire(order: Order, now: datetime) -> None:
        expire = order.request.time_expire
        if order.trade_state is TradeState.NOTPAY and expire is not None and now > expire:
            order.trade_state = TradeState.CLOSED

    def _order(self, mch_id: str, out_trade_no: str, now: datetime) -> Order:
        order = self._orders.get((mch_id, out_trade_no))
        if order is None:
            raise OrderNotExist("订单不存在 (no such order)")
        self._expire(order, now)
        return order

    def order(self, mch_id: str, out_trade_no: str, now: datetime) -> Order:
        with self._lock:
            return copy.copy(self._order(mch_id, out_trade_no, now))

    def order_by_transaction(self, mch_id: str, transaction_id: str, now: datetime) -> Order:
        with self._lock:
            key = self._by_transaction.get((mch_id, transaction_id))
            if key is None:
                raise OrderNotExist("订单不存在 (no such order)")
            return copy.copy(self._order(*key, now))

    def order_by_prepay(self, prepay_id: str, now: datetime) -> Order:
        with self._lock:
            key = self._by_prepay.get(prepay_id)
            if key is None:
                raise OrderNotExist("no order has this prepay id")
            return copy.copy(self._order(*key, now))

    def owners_of(self, out_trade_no: str) -> list[str]:
        """The merchants with an order of this number (the control API may omit mch_id)."""
        with self._lock:
            return [mch_id for (mch_id, number) in self._orders if number == out_trade_no]

    def pay(
        self,
        mch_id: str,
        out_trade_no: str,
        openid: str,
        now: datetime,
        *,
        succeeded: bool = True,
        bank_type: str = "BALANCE",
    ) -> Order:
        """The payer pays (``SUCCESS``) or the payment fails (``PAYERROR``)."""
        with self._lock:
            order = self._order(mch_id, out_trade_no, now)
            if order.trade_state in PAID:
                raise OrderPaid("订单已支付 (the order is paid)")
            if order.trade_state is TradeState.CLOSED:
                raise OrderClosed("订单已关闭 (the order is closed or expired)")
            if order.trade_state is TradeState.PAYERROR:
                raise TradeStateError("the payment failed; close the order and create another")
            transaction_id = mch_id + now.strftime("%Y%m%d") + _digits(10)
            order.transaction_id = transaction_id
            order.openid = openid
            order.bank_type = bank_type
            order.time_end = now
            order.trade_state = TradeState.SUCCESS if succeeded else TradeState.PAYERROR
            self._by_transaction[(mch_id, transaction_id)] = (mch_id, out_trade_no)
            return copy.copy(order)

    def close(self, mch_id: str, out_trade_no: str, now: datetime) -> Order:
        with self._lock:
            order = self._order(mch_id, out_trade_no, now)
            if order.trade_state in PAID:
                raise OrderPaid("订单已支付 (the order is paid)")
            if order.trade_state is TradeState.CLOSED:
                raise OrderClosed("订单已关闭 (the order is closed)")
            order.trade_state = TradeState.CLOSED
            return copy.copy(order)

    # --- refunds ----------------------------------------------------------------------------
    def create_refund(
        self, mch_id: str, request: RefundRequest, now: datetime
    ) -> tuple[Refund, Order, bool]:
        """A new ``PROCESSING`` refund (True), or the existing one (False) when the same
        request is repeated; with its order."""
        with self._lock:
            if request.transaction_id is not None:
                key = self._by_transaction.get((mch_id, request.transaction_id))
                if key is None:
                    raise OrderNotExist("订单不存在 (no order has this transaction_id)")
                order = self._order(*key, now)
                if request.out_trade_no not in (None, order.out_trade_no):
                    raise ParamError("transaction_id and out_trade_no name different orders")
            else:
                order = self._order(mch_id, request.out_trade_no or "", now)
            existing = self._refunds.get((mch_id, request.out_refund_no))
            if existing is not None:
                if existing.request.fingerprint != request.fingerprint:
                    raise ParamError("out_refund_no exists with other content")
                return copy.copy(existing), copy.copy(order), False
            if order.trade_state not in PAID:
                raise TradeStateError(f"订单状态错误: the order is {order.trade_state}")
            refundable = order.request.total_fee - order.refund_fee_committed
            if request.refund_fee > refundable:
                raise ParamError(
                    f"退款金额大于可退金额 (refund {request.refund_fee} is more than the "
                    f"refundable {refundable} fen)"
                )
            if len(order.refund_nos) >= REFUNDS_PER_ORDER_MAX:
                raise ParamError(f"an order takes at most {REFUNDS_PER_ORDER_MAX} refunds")
            refund = Refund(
                request=request,
                mch_id=mch_id,
                refund_id=mch_id + "1" + now.strftime("%Y%m%d") + _digits(10),
                out_trade_no=order.out_trade_no,
                create_time=now,
            )
            self._refunds[(mch_id, request.out_refund_no)] = refund
            order.refund_nos = (*order.refund_nos, request.out_refund_no)
            order.refund_fee_committed += request.refund_fee
            order.trade_state = TradeState.REFUND
            return copy.copy(refund), copy.copy(order), True

    def complete_refund(
        self, mch_id: str, out_refund_no: str, status: RefundStatus, now: datetime
    ) -> Refund:
        """End (or leave undecided) an unfinished refund; a final one stays as it is."""
        if status is RefundStatus.PROCESSING:
            raise ValueError("a refund completes as SUCCESS, FAIL, CHANGE or NOTSURE")
        with self._lock:
            refund = self._refund(mch_id, out_refund_no)
            if refund.status in FINAL_REFUND:
                return copy.copy(refund)
            refund.status = status
            if status is RefundStatus.SUCCESS:
                refund.success_time = now
            if status in RELEASING_REFUND:
                self._orders[
                    (mch_id, refund.out_trade_no)
                ].refund_fee_committed -= refund.request.refund_fee
            return copy.copy(refund)

    def _refund(self, mch_id: str, out_refund_no: str) -> Refund:
        refund = self._refunds.get((mch_id, out_refund_no))
        if refund is None:
            raise RefundNotExist("退款单不存在 (no such refund)")
        return refund

    def refund(self, mch_id: str, out_refund_no: str) -> Refund:
        with self._lock:
            return copy.copy(self._refund(mch_id, out_refund_no))

    def refund_by_id(self, mch_id: str, refund_id: str) -> Refund:
        with self._lock:
            for refund in self._refunds.values():
                if refund.mch_id == mch_id and refund.refund_id == refund_id:
                    return copy.copy(refund)
        raise RefundNotExist("退款单不存在 (no such refund)")

    def refunds_of(self, order: Order) -> list[Refund]:
        with self._lock:
            return [copy.copy(self._refunds[(order.mch_id, no)]) for no in order.refund_nos]

    def refund_owners(self, out_refund_no: str) -> list[str]:
        with self._lock:
            return [mch_id for (mch_id, number) in self._refunds if number == out_refund_no]

    # --- statements -------------------------------------------------------------------------
    def day_events(self, mch_id: str, day: date) -> tuple[list[Order], list[tuple[Order, Refund]]]:
        """One Beijing day's payments (by ``time_end``) and successful refunds (by theirs)."""
        with self._lock:
            paid = [
                copy.copy(order)
                for order in self._orders.values()
                if order.mch_id == mch_id
                and order.trade_state in PAID
                and order.time_end is not None
                and order.time_end.date() == day
            ]
            refunds = [
                (copy.copy(self._orders[(mch_id, refund.out_trade_no)]), copy.copy(refund))
                for refund in self._refunds.values()
                if refund.mch_id == mch_id
                and refund.success_time is not None
                and refund.success_time.date() == day
            ]
        return paid, refunds
