"""The simulated platform itself, without HTTP: keys, trades, faults, notifications, bills.

One :class:`AlipaySimulator` lives behind each app made by ``create_simulator``; tests and the
sandbox reach it in-process with ``simulator_of(app)``. Everything is in memory and belongs to
this process: two workers of one server would be two different gateways.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from paydesk.simulators.alipay import errors, signing, wire
from paydesk.simulators.alipay.config import AppRegistration, SimulatorConfig
from paydesk.simulators.alipay.faults import FaultBook, FaultPlan
from paydesk.simulators.alipay.notifications import notification_form
from paydesk.simulators.alipay.state import TradeStore
from paydesk.simulators.alipay.trades import Trade, TradeEvent
from paydesk.simulators.common.form_notifier import Attempt, FormNotifier

BILLS_KEPT = 100


@dataclass(frozen=True)
class IssuedBill:
    file_name: str
    data: bytes
    expires_at: float
    """``time.monotonic()`` after which the download URL no longer works."""


class AlipaySimulator:
    """State and behaviour shared by the gateway, the pages and the control API."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.platform_key = signing.load_private_key(config.platform_private_key_pem)
        self._app_keys = {
            app_id: signing.load_public_key(app.app_public_key_pem)
            for app_id, app in config.apps.items()
        }
        self.store = TradeStore(
            visible_before_scan=config.trade_visible_before_scan,
            fee_bps=config.fee_bps,
            buyer_logon_id=config.buyer_logon_id,
        )
        self.faults = FaultBook()
        self.notifier = FormNotifier(
            name="alipay",
            accepted=_accepted,
            merchant_key="app_id",
            shown=("notify_id", "out_trade_no", "trade_status"),
            retry_schedule_s=config.notify_retry_schedule_s,
            timeout_s=config.notify_timeout_s,
            reorder_hold_s=config.reorder_hold_s,
            transport=config.notify_transport,
        )
        self._bills: dict[str, IssuedBill] = {}
        self._bills_lock = threading.Lock()
        self._forger_key: rsa.RSAPrivateKey | None = None

    # -- apps ------------------------------------------------------------------------------
    def app(self, app_id: str) -> AppRegistration | None:
        return self.config.apps.get(app_id)

    def app_key(self, app_id: str) -> rsa.RSAPublicKey:
        return self._app_keys[app_id]

    def now(self) -> datetime:
        """The gateway's clock (Beijing time)."""
        return self.config.clock()

    # -- notifications ---------------------------------------------------------------------
    def _forger(self) -> rsa.RSAPrivateKey:
        if self._forger_key is None:
            self._forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._forger_key

    def publish(self, events: list[TradeEvent]) -> None:
        """Signs and queues the notification of each event whose trade has a notify_url."""
        now = self.now()
        for event in events:
            trade = event.trade
            if not trade.notify_url:
                continue
            plan = self.faults.plan_for(trade.app_id)
            form = notification_form(event, wire.new_notify_id())
            key = self._forger() if plan.forge_notification else self.platform_key
            self.notifier.submit(
                trade.app_id,
                trade.notify_url,
                signing.sign_notification(key, form),
                delay_s=max(0.0, (event.at - now).total_seconds()),
                drop=plan.drop_notifications,
                duplicate=plan.duplicate_notifications,
                reorder=plan.reorder,
            )

    # -- the buyer -------------------------------------------------------------------------
    def pay_token(self, token: str) -> Trade:
        """The buyer pays the trade behind a pay page; the merchant is notified."""
        trade, events = self.store.pay(token, self.now())
        self.publish(events)
        return trade

    def pay(self, out_trade_no: str, app_id: str | None = None) -> Trade:
        """The buyer pays a trade named by the merchant's number (``app_id`` when two apps
        use the same number)."""
        token = self.store.token_of(app_id, out_trade_no)
        if token is None:
            raise errors.TradeNotExist()
        return self.pay_token(token)

    def finish(self, out_trade_no: str, app_id: str | None = None) -> None:
        """The refund window of a paid trade ends (TRADE_FINISHED, notified)."""
        self.publish(self.store.finish(app_id, out_trade_no, self.now()))

    # -- faults ----------------------------------------------------------------------------
    def set_faults(self, plan: FaultPlan, app_id: str | None = None) -> None:
        """Puts a fault plan in force globally or for one app."""
        self.faults.set(plan, app_id)

    def clear_faults(self, app_id: str | None = None) -> None:
        self.faults.clear(app_id)

    # -- bills -----------------------------------------------------------------------------
    def issue_bill(self, file_name: str, data: bytes) -> str:
        """Keeps a bill for ``bill_url_ttl_s`` and returns its download token."""
        token = secrets.token_urlsafe(18)
        now = time.monotonic()
        with self._bills_lock:
            for old in [t for t, b in self._bills.items() if b.expires_at <= now]:
                del self._bills[old]
            while len(self._bills) >= BILLS_KEPT:
                del self._bills[next(iter(self._bills))]
            self._bills[token] = IssuedBill(file_name, data, now + self.config.bill_url_ttl_s)
        return token

    def bill(self, token: str) -> IssuedBill | None:
        """A bill whose URL still works."""
        with self._bills_lock:
            issued = self._bills.get(token)
        if issued is None or issued.expires_at <= time.monotonic():
            return None
        return issued

    def close(self) -> None:
        """Stops the notification worker."""
        self.notifier.close()


def _accepted(attempt: Attempt) -> bool:
    """Alipay stops retrying when the merchant answers HTTP 200 ``success`` (CHANNELS.md)."""
    return attempt.status_code == 200 and attempt.body.strip() == "success"
