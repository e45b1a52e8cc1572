"""The simulated gateway itself, without HTTP: keys, transactions, faults, notifications.

One :class:`UnionPaySimulator` lives behind each app made by ``create_simulator``; tests and the
sandbox reach it in-process with ``simulator_of(app)``. Everything is in memory and belongs to
this process: two workers of one server would be two different gateways.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from paydesk.simulators.common.form_notifier import Attempt, FormNotifier
from paydesk.simulators.unionpay import certs, errors, signing
from paydesk.simulators.unionpay.config import MerchantRegistration, SimulatorConfig
from paydesk.simulators.unionpay.faults import FaultBook, FaultPlan
from paydesk.simulators.unionpay.notifications import payment_form, refund_form
from paydesk.simulators.unionpay.trades import Refund, Trade, TradeStore

DECLINED = ("30", "交易未通过，请尝试使用其他银联卡支付或联系95516")  # noqa: RUF001


class UnionPaySimulator:
    """State and behaviour shared by the gateway, the pages and the control API."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.signer = signing.Signer(config.sign_private_key_pem, config.sign_cert_pem)
        self._merchant_keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {
            mer_id: (merchant.cert_id, signing.certificate_key(merchant.cert_pem))
            for mer_id, merchant in config.merchants.items()
        }
        self.store = TradeStore()
        self.faults = FaultBook()
        self.notifier = FormNotifier(
            name="unionpay",
            accepted=_accepted,
            merchant_key="mer_id",
            shown=("orderId", "queryId", "txnType", "respCode"),
            retry_schedule_s=config.notify_retry_schedule_s,
            timeout_s=config.notify_timeout_s,
            reorder_hold_s=config.reorder_hold_s,
            transport=config.notify_transport,
        )
        self._forger: signing.Signer | None = None
        self._forger_lock = threading.Lock()

    # -- merchants -------------------------------------------------------------------------
    def merchant(self, mer_id: str) -> MerchantRegistration | None:
        return self.config.merchants.get(mer_id)

    def check_signature(self, fields: Mapping[str, str]) -> str:
        """The merchant whose certificate (by ``certId``) verifies ``fields``; 11 otherwise."""
        known = self._merchant_keys.get(fields.get("merId", ""))
        if known is None:
            raise errors.BadSignature("merId")
        cert_id, key = known
        if fields.get("certId") != cert_id:
            raise errors.BadSignature("certId")
        if not signing.verify(key, fields):
            raise errors.BadSignature("signature")
        return fields["merId"]

    def now(self) -> datetime:
        """The gateway's clock (Beijing time)."""
        return self.config.clock()

    # -- signing ---------------------------------------------------------------------------
    def forger(self) -> signing.Signer:
        with self._forger_lock:
            if self._forger is None:
                stranger = certs.make_stranger()
                self._forger = signing.Signer(stranger.key_pem, stranger.cert_pem)
            return self._forger

    def _deliver(self, mer_id: str, url: str, form: dict[str, str], delay_s: float) -> None:
        plan = self.faults.plan_for(mer_id)
        signer = self.forger() if plan.forge_notification else self.signer
        self.notifier.submit(
            mer_id,
            url,
            signer.sign(form),
            delay_s=delay_s,
            drop=plan.drop_notifications,
            duplicate=plan.duplicate_notifications,
            reorder=plan.reorder,
        )

    def notify_payment(self, trade: Trade) -> None:
        self._deliver(trade.mer_id, trade.back_url, payment_form(trade), 0.0)

    def notify_refund(self, refund: Refund) -> None:
        delay_s = max(0.0, (refund.effective_at - self.now()).total_seconds())
        self._deliver(refund.mer_id, refund.back_url, refund_form(refund), delay_s)

    # -- the payer -------------------------------------------------------------------------
    def pay_token(self, token: str) -> Trade:
        """The payer pays the payment behind a pay page; the merchant is notified."""
        trade = self.store.pay(token, self.now())
        self.notify_payment(trade)
        return trade

    def pay(self, order_id: str, mer_id: str | None = None, txn_time: str | None = None) -> Trade:
        """The payer pays a payment named by its ``orderId`` (``mer_id`` / ``txn_time`` when
        that is not enough). It must have been posted to ``frontTransReq.do`` first."""
        return self.pay_token(self.store.locate(order_id, mer_id, txn_time).token)

    def fail(
        self,
        order_id: str,
        mer_id: str | None = None,
        txn_time: str | None = None,
        resp_code: str = DECLINED[0],
        resp_msg: str = DECLINED[1],
    ) -> Trade:
        """The payment fails (a declined card); queries report ``origRespCode`` ``resp_code``."""
        token = self.store.locate(order_id, mer_id, txn_time).token
        return self.store.fail(token, resp_code, resp_msg, self.now())

    # -- faults ----------------------------------------------------------------------------
    def set_faults(self, plan: FaultPlan, mer_id: str | None = None) -> None:
        self.faults.set(plan, mer_id)

    def clear_faults(self, mer_id: str | None = None) -> None:
        self.faults.clear(mer_id)

    def close(self) -> None:
        """Stops the notification worker."""
        self.notifier.close()


def _accepted(attempt: Attempt) -> bool:
    """UnionPay stops retrying on HTTP 200, whatever the body."""
    return attempt.status_code == 200
