"""The simulated platform's orders and refunds, in memory, behind one lock.

State lives in this process only: restarting the simulator (or the Paydesk process that mounts
it) forgets every order. Each change is one named transition that checks its precondition, in
the order WeChat Pay v3 documents its answers:

- create: a repeated ``out_trade_no`` with the same content returns the same prepay; with other
  content it is ``INVALID_REQUEST``; a paid one is ``ORDERPAID``, a closed one ``ORDER_CLOSED``.
- pay (the payer, not the merchant): only from ``NOTPAY``; an expired order is closed instead.
- close: ``NOTPAY`` or ``PAYERROR`` becomes ``CLOSED``; closing again is fine; a paid order is
  ``ORDERPAID``.
- refund: only of a paid order (``SUCCESS`` or ``REFUND``), in the order's currency and with its
  total; several refunds may add up to the paid amount, not more (at most 50 per order, as
  WeChat allows); a repeated ``out_refund_no`` with the same content returns the same refund.
  The order turns ``REFUND`` with its first refund.
- complete a refund: ``PROCESSING`` becomes ``SUCCESS``, ``CLOSED`` (the amount can be refunded
  again) or ``ABNORMAL``; a refund already final stays as it is.

Amounts are integers in fen (CNY minor units), as on the wire.
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

from paydesk.simulators.wechatpay.errors import (
    InvalidRequest,
    OrderClosed,
    OrderNotExist,
    OrderPaid,
    ParamError,
    ResourceNotExists,
    SystemFailure,
)

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""WeChat Pay's times (``success_time``, bill days) are Beijing time, UTC+8."""
ORDERS_MAX = 100_000
REFUNDS_PER_ORDER_MAX = 50


class TradeType(StrEnum):
    NATIVE = "NATIVE"
    """QR code scanned by the payer."""
    JSAPI = "JSAPI"
    """Official account or mini program, for a known ``payer.openid``."""
    APP = "APP"
    """The merchant's app calls the WeChat app."""
    MWEB = "MWEB"
    """H5: a mobile browser is sent to ``h5_url``."""


class TradeState(StrEnum):
    NOTPAY = "NOTPAY"
    """Created, not paid yet."""
    SUCCESS = "SUCCESS"
    """Paid."""
    CLOSED = "CLOSED"
    """Closed by the merchant (or expired) before it was paid."""
    REFUND = "REFUND"
    """Paid, and at least one refund was asked for."""
    PAYERROR = "PAYERROR"
    """The payer's payment failed (bank declined); the order can only be closed."""


TRADE_STATE_DESC = {
    TradeState.NOTPAY: "订单未支付",
    TradeState.SUCCESS: "支付成功",
    TradeState.CLOSED: "订单已关闭",
    TradeState.REFUND: "转入退款",
    TradeState.PAYERROR: "支付失败，请重新下单支付",  # noqa: RUF001 - WeChat's own text
}


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    """Accepted; the money is on its way back."""
    SUCCESS = "SUCCESS"
    """The payer has the money back."""
    CLOSED = "CLOSED"
    """Given up; the amount can be refunded again."""
    ABNORMAL = "ABNORMAL"
    """Stuck (the payer's card or account is gone); needs the merchant's attention."""


@dataclass(frozen=True)
class OrderRequest:
    """A merchant's prepay request, validated."""

    trade_type: TradeType
    appid: str
    mchid: str
    description: str
    out_trade_no: str
    notify_url: str
    amount_total: int
    """What the payer pays, fen."""
    currency: str
    payer_openid: str | None
    attach: str | None
    time_expire: datetime | None
    fingerprint: str
    """The request's content, canonical: tells a replay from a conflicting reuse."""


@dataclass
class Order:
    request: OrderRequest
    prepay_id: str
    create_time: datetime
    trade_state: TradeState = TradeState.NOTPAY
    transaction_id: str | None = None
    success_time: datetime | None = None
    bank_type: str | None = None
    payer_openid: str | None = None
    refund_nos: tuple[str, ...] = ()
    amount_refund_committed: int = 0
    """Fen refunded or being refunded (refunds that are not ``CLOSED``)."""

    @property
    def mchid(self) -> str:
        return self.request.mchid

    @property
    def out_trade_no(self) -> str:
        return self.request.out_trade_no


@dataclass(frozen=True)
class RefundRequest:
    """A merchant's refund request, validated (one of the two order references is set)."""

    out_refund_no: str
    out_trade_no: str | None
    transaction_id: str | None
    amount_refund: int
    """Fen to give back."""
    amount_total: int
    """The order's total, fen, as the merchant believes it."""
    currency: str
    reason: str | None
    notify_url: str | None
    fingerprint: str


@dataclass
class Refund:
    request: RefundRequest
    mchid: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    create_time: datetime
    status: RefundStatus = RefundStatus.PROCESSING
    success_time: datetime | None = None


def beijing_time(epoch_s: float) -> datetime:
    """A clock reading as Beijing time, to the second."""
    return datetime.fromtimestamp(int(epoch_s), UTC).astimezone(BEIJING)


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
        """A new prepay, or the existing one when the same request is repeated."""
        key = (request.mchid, request.out_trade_no)
        with self._lock:
            existing = self._orders.get(key)
            if existing is not None:
                if existing.trade_state in {TradeState.SUCCESS, TradeState.REFUND}:
                    raise OrderPaid("该订单已支付 (the order is paid)")
                if existing.trade_state is TradeState.CLOSED:
                    raise OrderClosed("该订单已关闭 (the order is closed)")
                if existing.request.fingerprint != request.fingerprint:
                    raise InvalidRequest("out_trade_no exists with different content")
                return copy.copy(existing)
            if len(self._orders) >= ORDERS_MAX:
                raise SystemFailure(f"the simulator holds at most {ORDERS_MAX} orders")
            prepay_id = "wx" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)
            order = Order(request, prepay_id, now, payer_openid=request.payer_openid)
            self._orders[key] = order
            self._by_prepay[prepay_id] = key
            return copy.copy(order)

    def _order(self, mchid: str, out_trade_no: str) -> Order:
        order = self._orders.get((mchid, out_trade_no))
        if order is None:
            raise OrderNotExist("订单不存在 (no such order)")
        return order

    def order(self, mchid: str, out_trade_no: str) -> Order:
        with self._lock:
            return copy.copy(self._order(mchid, out_trade_no))

    def order_by_transaction(self, mchid: str, transaction_id: str) -> Order:
        with self._lock:
            key = self._by_transaction.get((mchid, transaction_id))
            if key is None:
                raise OrderNotExist("订单不存在 (no such order)")
            return copy.copy(self._orders[key])

    def order_by_prepay(self, prepay_id: str) -> Order:
        with self._lock:
            key = self._by_prepay.get(prepay_id)
            if key is None:
                raise OrderNotExist("no order has this prepay id")
            return copy.copy(self._orders[key])

    def orders_numbered(self, out_trade_no: str) -> list[Order]:
        """Every merchant's order with this number (the test API may omit ``mchid``)."""
        with self._lock:
            return [copy.copy(o) for o in self._orders.values() if o.out_trade_no == out_trade_no]

    def pay(
        self,
        mchid: str,
        out_trade_no: str,
        openid: str,
        now: datetime,
        *,
        succeeded: bool = True,
        bank_type: str = "OTHERS",
    ) -> Order:
        """The payer pays (``SUCCESS``) or the payment fails (``PAYERROR``)."""
        with self._lock:
            order = self._order(mchid, out_trade_no)
            if order.trade_state in {TradeState.SUCCESS, TradeState.REFUND}:
                raise OrderPaid("该订单已支付 (the order is paid)")
            if order.trade_state is TradeState.PAYERROR:
                raise InvalidRequest("the payment failed; close the order and create another")
            if order.trade_state is TradeState.CLOSED:
                raise OrderClosed("该订单已关闭 (the order is closed)")
            expire = order.request.time_expire
            if expire is not None and now > expire:
                order.trade_state = TradeState.CLOSED
                raise OrderClosed(f"the order expired at {expire.isoformat()}")
            if order.request.payer_openid not in {None, openid}:
                raise InvalidRequest("this JSAPI order belongs to another payer")
            transaction_id = "42000" + now.strftime("%Y%m%d") + _digits(15)
            order.transaction_id = transaction_id
            order.payer_openid = openid
            order.bank_type = bank_type
            if succeeded:
                order.trade_state = TradeState.SUCCESS
                order.success_time = now
            else:
                order.trade_state = TradeState.PAYERROR
            self._by_transaction[(mchid, transaction_id)] = (mchid, out_trade_no)
            return copy.copy(order)

    def close(self, mchid: str, out_trade_no: str) -> Order:
        """The merchant closes an unpaid order."""
        with self._lock:
            order = self._order(mchid, out_trade_no)
            if order.trade_state in {TradeState.SUCCESS, TradeState.REFUND}:
                raise OrderPaid("该订单已支付 (the order is paid)")
            order.trade_state = TradeState.CLOSED
            return copy.copy(order)

    # --- refunds ----------------------------------------------------------------------------
    def create_refund(
        self, mchid: str, request: RefundRequest, now: datetime
    ) -> tuple[Refund, bool]:
        """A new ``PROCESSING`` refund (and True), or the existing one (and False) when the
        same request is repeated."""
        with self._lock:
            if request.out_trade_no is not None:
                key = (mchid, request.out_trade_no)
            else:
                key = self._by_transaction.get((mchid, request.transaction_id or ""), ("", ""))
            order = self._orders.get(key)
            if order is None:
                raise ResourceNotExists("订单不存在 (no such order)")
            existing = self._refunds.get((mchid, request.out_refund_no))
            if existing is not None:
                if existing.request.fingerprint != request.fingerprint:
                    raise InvalidRequest("out_refund_no exists with different content")
                return copy.copy(existing), False
            if order.trade_state not in {TradeState.SUCCESS, TradeState.REFUND}:
                raise InvalidRequest(f"the order is {order.trade_state}; only paid orders refund")
            if request.currency != order.request.currency:
                raise ParamError("amount.currency is not the order's currency")
            if request.amount_total != order.request.amount_total:
                raise ParamError("amount.total is not the order's total")
            refundable = order.request.amount_total - order.amount_refund_committed
            if request.amount_refund > refundable:
                raise InvalidRequest(
                    f"申请退款金额超过订单可退金额 (refund {request.amount_refund} exceeds "
                    f"the refundable {refundable} fen)"
                )
            if len(order.refund_nos) >= REFUNDS_PER_ORDER_MAX:
                raise InvalidRequest(f"an order takes at most {REFUNDS_PER_ORDER_MAX} refunds")
            assert order.transaction_id is not None  # every paid order has one
            refund = Refund(
                request=request,
                mchid=mchid,
                refund_id="5030" + now.strftime("%Y%m%d") + _digits(17),
                out_trade_no=order.out_trade_no,
                transaction_id=order.transaction_id,
                create_time=now,
            )
            self._refunds[(mchid, request.out_refund_no)] = refund
            order.refund_nos = (*order.refund_nos, request.out_refund_no)
            order.amount_refund_committed += request.amount_refund
            order.trade_state = TradeState.REFUND
            return copy.copy(refund), True

    def complete_refund(
        self, mchid: str, out_refund_no: str, status: RefundStatus, now: datetime
    ) -> Refund | None:
        """Finish a ``PROCESSING`` refund; None when it was final already."""
        if status is RefundStatus.PROCESSING:
            raise ValueError("a refund completes as SUCCESS, CLOSED or ABNORMAL")
        with self._lock:
            refund = self._refund(mchid, out_refund_no)
            if refund.status is not RefundStatus.PROCESSING:
                return None
            refund.status = status
            if status is RefundStatus.SUCCESS:
                refund.success_time = now
            if status is RefundStatus.CLOSED:
                order = self._orders[(mchid, refund.out_trade_no)]
                order.amount_refund_committed -= refund.request.amount_refund
            return copy.copy(refund)

    def _refund(self, mchid: str, out_refund_no: str) -> Refund:
        refund = self._refunds.get((mchid, out_refund_no))
        if refund is None:
            raise ResourceNotExists("退款单不存在 (no such refund)")
        return refund

    def refund(self, mchid: str, out_refund_no: str) -> Refund:
        with self._lock:
            return copy.copy(self._refund(mchid, out_refund_no))

    def refund_owners(self, out_refund_no: str) -> list[str]:
        """The merchants with a refund of this number (the test API may omit ``mchid``)."""
        with self._lock:
            return [mchid for (mchid, number) in self._refunds if number == out_refund_no]

    # --- bills ------------------------------------------------------------------------------
    def day_events(self, mchid: str, day: date) -> tuple[list[Order], list[tuple[Order, Refund]]]:
        """One Beijing day's payments (by ``success_time``) and successful refunds (by theirs)."""
        with self._lock:
            paid = [
                copy.copy(o)
                for o in self._orders.values()
                if o.mchid == mchid and o.success_time is not None and o.success_time.date() == day
            ]
            refunds = [
                (copy.copy(self._orders[(mchid, r.out_trade_no)]), copy.copy(r))
                for r in self._refunds.values()
                if r.mchid == mchid and r.success_time is not None and r.success_time.date() == day
            ]
        paid.sort(key=lambda o: (o.success_time, o.out_trade_no))
        refunds.sort(key=lambda pair: (pair[1].success_time, pair[1].request.out_refund_no))
        return paid, refunds
