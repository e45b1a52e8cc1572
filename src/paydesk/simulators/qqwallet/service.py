"""The simulated platform at work: state transitions plus what follows them.

A payment that succeeds is notified to the order's ``notify_url``. A refund is accepted as
``PROCESSING`` and completes (``SUCCESS``) at once, after ``refund_delay_s``, or on demand
(``hold_refunds``); QQ Wallet sends no refund notifications, so its end is seen with the refund
query. Statements are cut when asked for. Everything is state of this process only.
"""

from __future__ import annotations

import functools
import secrets
from datetime import date, datetime

from paydesk.simulators.common.scheduler import Dispatcher
from paydesk.simulators.qqwallet import views
from paydesk.simulators.qqwallet.bill import statement
from paydesk.simulators.qqwallet.config import MerchantConfig, SimulatorConfig
from paydesk.simulators.qqwallet.errors import NoBill, OrderNotExist, ParamError, RefundNotExist
from paydesk.simulators.qqwallet.faults import FaultBook
from paydesk.simulators.qqwallet.notifications import Notifier
from paydesk.simulators.qqwallet.state import (
    Order,
    OrderRequest,
    Refund,
    RefundRequest,
    RefundStatus,
    Store,
    TradeState,
)
from paydesk.simulators.qqwallet.wire import MD5, beijing_now

OPENID_CHARS = "0123456789ABCDEF"


def new_openid() -> str:
    """A payer's openid in QQ's shape (32 upper-case hex) for a walk-in payer."""
    return "".join(secrets.choice(OPENID_CHARS) for _ in range(32))


class Simulator:
    """One simulated QQ Wallet platform: merchants, state, faults, background work."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.dispatcher = Dispatcher("qqwallet")
        self.notifier = Notifier(
            retry_schedule_s=config.retry_schedule_s,
            timeout_s=config.notify_timeout_s,
            faults=config.faults,
            dispatcher=self.dispatcher,
        )

    @property
    def faults(self) -> FaultBook:
        return self.config.faults

    def merchant(self, mch_id: str) -> MerchantConfig:
        return self.config.merchants[mch_id]

    def now(self) -> datetime:
        """The platform clock as Beijing time, to the second."""
        return beijing_now(self.config.clock())

    def close(self) -> None:
        """Stop background work (pending retries and refund completions are dropped)."""
        self.dispatcher.close()
        self.notifier.close()

    # --- payments ---------------------------------------------------------------------------
    def create_order(self, request: OrderRequest) -> Order:
        return self.store.create_order(request, self.now())

    def find_order(self, out_trade_no: str, mch_id: str | None) -> Order:
        """The order a test names (``mch_id`` may be left out when the number is unique)."""
        if mch_id is None:
            owners = self.store.owners_of(out_trade_no)
            if len(owners) > 1:
                raise ParamError("several merchants have this out_trade_no; give mch_id")
            if not owners:
                raise OrderNotExist("订单不存在 (no such order)")
            mch_id = owners[0]
        return self.store.order(mch_id, out_trade_no, self.now())

    def pay(
        self,
        order: Order,
        openid: str | None = None,
        *,
        succeeded: bool = True,
        bank_type: str = "BALANCE",
    ) -> Order:
        """The payer pays ``order``; a success is notified to its ``notify_url``."""
        paid = self.store.pay(
            order.mch_id,
            order.out_trade_no,
            openid or new_openid(),
            self.now(),
            succeeded=succeeded,
            bank_type=bank_type,
        )
        if paid.trade_state is TradeState.SUCCESS:
            merchant = self.merchant(paid.mch_id)
            self.notifier.publish(
                paid.mch_id,
                paid.request.notify_url,
                {**views.notification_fields(paid), "nonce_str": secrets.token_hex(16)},
                merchant.api_key,
                paid.request.sign_type or MD5,
            )
        return paid

    # --- refunds ----------------------------------------------------------------------------
    def create_refund(self, mch_id: str, request: RefundRequest) -> tuple[Refund, Order]:
        """Accept a refund (``PROCESSING``) and arrange its completion per the faults."""
        refund, order, created = self.store.create_refund(mch_id, request, self.now())
        if created and not self.faults.hold_refunds(mch_id):
            delay_s = self.faults.duration_s(mch_id, "refund_delay_s")
            number = request.out_refund_no
            if delay_s > 0:
                self.dispatcher.call_later(
                    delay_s, functools.partial(self._succeed, mch_id, number)
                )
            else:
                self._succeed(mch_id, number)
        return refund, order

    def _succeed(self, mch_id: str, out_refund_no: str) -> None:
        self.complete_refund(mch_id, out_refund_no, RefundStatus.SUCCESS)

    def complete_refund(
        self, mch_id: str, out_refund_no: str, status: RefundStatus = RefundStatus.SUCCESS
    ) -> Refund:
        return self.store.complete_refund(mch_id, out_refund_no, status, self.now())

    def refund_owner(self, out_refund_no: str, mch_id: str | None) -> str:
        if mch_id is not None:
            return mch_id
        owners = self.store.refund_owners(out_refund_no)
        if not owners:
            raise RefundNotExist("退款单不存在 (no such refund)")
        if len(owners) > 1:
            raise ParamError("several merchants have this out_refund_no; give mch_id")
        return owners[0]

    # --- statements -------------------------------------------------------------------------
    def statement(self, mch_id: str, day: date, bill_type: str) -> bytes:
        """The day's statement; today's may be asked for (QQ Wallet serves finished days)."""
        if day > self.now().date():
            raise ParamError("bill_date is in the future")
        paid, refunds = self.store.day_events(mch_id, day)
        if not paid and not refunds:
            raise NoBill(f"no trade on {day.isoformat()}")
        return statement(paid, refunds, self.merchant(mch_id).fee_rate_bps, bill_type)
