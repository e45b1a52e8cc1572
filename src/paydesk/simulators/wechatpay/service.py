"""The simulated platform at work: state transitions plus what follows them.

A payment that succeeds is notified (``TRANSACTION.SUCCESS``); a refund is accepted as
``PROCESSING`` and completes at once, after ``refund_delay_s``, or on demand (``hold_refunds``),
and its end is notified (``REFUND.SUCCESS``) when the refund request named a ``notify_url``.
Trade bills are cut when asked for and kept (a bounded number) for download, so the file always
matches the ``hash_value`` handed out with its URL. Everything is state of this process only.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from paydesk.simulators.common.scheduler import Dispatcher
from paydesk.simulators.wechatpay.bill import trade_bill
from paydesk.simulators.wechatpay.config import MerchantConfig, SimulatorConfig
from paydesk.simulators.wechatpay.errors import (
    NoStatement,
    OrderNotExist,
    ParamError,
    ResourceNotExists,
)
from paydesk.simulators.wechatpay.faults import FaultBook
from paydesk.simulators.wechatpay.notifications import Notifier
from paydesk.simulators.wechatpay.signing import load_private_key, load_public_key
from paydesk.simulators.wechatpay.state import (
    Order,
    OrderRequest,
    Refund,
    RefundRequest,
    RefundStatus,
    Store,
    TradeState,
    beijing_time,
)
from paydesk.simulators.wechatpay.wire import REFUND_EVENTS, refund_resource, transaction_view

BILL_FILES_MAX = 100
OPENID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass(frozen=True)
class BillFile:
    """A bill cut for download. ``sha1`` is of the plain CSV; with ``gzipped`` the download is
    that CSV gzip-compressed (``tar_type=GZIP``)."""

    token: str
    mchid: str
    content: bytes
    sha1: str
    gzipped: bool

    def download(self) -> bytes:
        """The bytes served at the download URL."""
        return gzip.compress(self.content, mtime=0) if self.gzipped else self.content


def new_openid() -> str:
    """An openid in WeChat's shape (28 characters starting with ``o``) for a walk-in payer."""
    return "o" + "".join(secrets.choice(OPENID_CHARS) for _ in range(27))


class Simulator:
    """One simulated WeChat Pay platform: keys, merchants, state, faults, background work."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.private_key = load_private_key(config.platform_private_key_pem)
        self.merchant_keys = {
            mchid: load_public_key(merchant.public_key_pem)
            for mchid, merchant in config.merchants.items()
        }
        self.store = Store()
        self.dispatcher = Dispatcher("wechatpay")
        self.notifier = Notifier(
            private_key=self.private_key,
            public_key_id=config.public_key_id,
            apiv3_key=config.apiv3_key,
            retry_schedule_s=config.retry_schedule_s,
            timeout_s=config.notify_timeout_s,
            clock=config.clock,
            faults=config.faults,
            dispatcher=self.dispatcher,
        )
        self._bills_lock = threading.Lock()
        self._bills: OrderedDict[str, BillFile] = OrderedDict()

    @property
    def faults(self) -> FaultBook:
        return self.config.faults

    def merchant(self, mchid: str) -> MerchantConfig:
        return self.config.merchants[mchid]

    def add_merchant(self, merchant: MerchantConfig) -> None:
        """Know one more merchant (a second merchant number of the same platform), as the
        real platform knows many: its requests verify with its own key."""
        self.merchant_keys[merchant.mchid] = load_public_key(merchant.public_key_pem)
        self.config.merchants[merchant.mchid] = merchant

    def close(self) -> None:
        """Stop background work (pending retries and refund completions are dropped)."""
        self.dispatcher.close()
        self.notifier.close()

    # --- payments ---------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> Order:
        return self.store.create_order(request, beijing_time(self.config.clock()))

    def find_order(
        self, *, prepay_id: str | None, out_trade_no: str | None, mchid: str | None
    ) -> Order:
        """The order a payer (or a test) means, by prepay id or by merchant order number."""
        if prepay_id:
            order = self.store.order_by_prepay(prepay_id)
            if mchid is not None and order.mchid != mchid:
                raise OrderNotExist("no order of this merchant has this prepay id")
            return order
        if not out_trade_no:
            raise ParamError("out_trade_no or prepay_id is required")
        if mchid is not None:
            return self.store.order(mchid, out_trade_no)
        candidates = self.store.orders_numbered(out_trade_no)
        if not candidates:
            raise OrderNotExist("订单不存在 (no such order)")
        if len(candidates) > 1:
            raise ParamError("several merchants have this out_trade_no; give mchid")
        return candidates[0]

    def pay(
        self,
        order: Order,
        openid: str | None = None,
        *,
        succeeded: bool = True,
        bank_type: str = "OTHERS",
    ) -> Order:
        """The payer pays ``order``; a success is notified to the order's ``notify_url``."""
        paid = self.store.pay(
            order.mchid,
            order.out_trade_no,
            openid or order.payer_openid or new_openid(),
            beijing_time(self.config.clock()),
            succeeded=succeeded,
            bank_type=bank_type,
        )
        if paid.trade_state is TradeState.SUCCESS:
            self.notifier.publish(
                paid.mchid,
                paid.request.notify_url,
                "TRANSACTION.SUCCESS",
                "支付成功",
                "transaction",
                transaction_view(paid),
            )
        return paid

    # --- refunds ----------------------------------------------------------------------------
    def create_refund(self, mchid: str, request: RefundRequest) -> Refund:
        """Accept a refund (``PROCESSING``) and arrange its completion per the faults."""
        refund, created = self.store.create_refund(
            mchid, request, beijing_time(self.config.clock())
        )
        if created and not self.faults.hold_refunds(mchid):
            delay_s = self.faults.duration_s(mchid, "refund_delay_s")
            if delay_s > 0:
                complete = functools.partial(self._complete_due, mchid, request.out_refund_no)
                self.dispatcher.call_later(delay_s, complete)
            else:
                self.complete_refund(mchid, request.out_refund_no, RefundStatus.SUCCESS)
        return refund

    def complete_refund(
        self, mchid: str, out_refund_no: str, status: RefundStatus = RefundStatus.SUCCESS
    ) -> Refund:
        """End a ``PROCESSING`` refund and notify it; a final refund is returned unchanged."""
        now = beijing_time(self.config.clock())
        completed = self.store.complete_refund(mchid, out_refund_no, status, now)
        if completed is None:
            return self.store.refund(mchid, out_refund_no)
        if completed.request.notify_url is not None:
            event_type, summary = REFUND_EVENTS[status]
            self.notifier.publish(
                mchid,
                completed.request.notify_url,
                event_type,
                summary,
                "refund",
                refund_resource(completed),
            )
        return completed

    def _complete_due(self, mchid: str, out_refund_no: str) -> None:
        self.complete_refund(mchid, out_refund_no, RefundStatus.SUCCESS)

    def refund_owner(self, out_refund_no: str, mchid: str | None) -> str:
        """The merchant of a refund named by number (the test API may omit ``mchid``)."""
        if mchid is not None:
            return mchid
        owners = self.store.refund_owners(out_refund_no)
        if not owners:
            raise ResourceNotExists("退款单不存在 (no such refund)")
        if len(owners) > 1:
            raise ParamError("several merchants have this out_refund_no; give mchid")
        return owners[0]

    # --- bills ------------------------------------------------------------------------------
    def apply_trade_bill(self, mchid: str, day: date, bill_type: str, gzipped: bool) -> BillFile:
        """Cut the bill of ``day`` and keep it (a bounded number of bills) for download."""
        today = beijing_time(self.config.clock()).date()
        if day > today:
            raise ParamError("bill_date is in the future")
        paid, refunds = self.store.day_events(mchid, day)
        if not paid and not refunds:
            raise NoStatement(f"No statement exist: no trade on {day.isoformat()}")
        content = trade_bill(paid, refunds, self.merchant(mchid).fee_rate_bps, bill_type)
        bill = BillFile(
            token=secrets.token_urlsafe(24),
            mchid=mchid,
            content=content,
            sha1=hashlib.sha1(content, usedforsecurity=False).hexdigest(),
            gzipped=gzipped,
        )
        with self._bills_lock:
            self._bills[bill.token] = bill
            while len(self._bills) > BILL_FILES_MAX:
                self._bills.popitem(last=False)
        return bill

    def bill_file(self, token: str, mchid: str) -> BillFile:
        """A bill cut earlier for ``mchid``."""
        with self._bills_lock:
            bill = self._bills.get(token)
        if bill is None or bill.mchid != mchid:
            raise ResourceNotExists("the bill download token is unknown or expired")
        return bill
