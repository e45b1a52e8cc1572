"""Asynchronous notifications (CHANNELS.md: form POSTs signed over every parameter except
``sign`` and ``sign_type``, answered with the plain text ``success``).

:func:`notification_form` writes the real field set of a ``trade_status_sync`` notification;
the caller signs it. The simulator's
:class:`~paydesk.simulators.common.form_notifier.FormNotifier` delivers them: a delivery
succeeds when the receiver answers HTTP 200 with the body ``success`` (surrounding whitespace
ignored); anything else is retried after each wait of the schedule (the real one is 4m, 10m,
10m, 1h, 2h, 6h, 15h), then given up. A retry or a duplicate carries the same ``notify_id``
and signature.
"""

from __future__ import annotations

from paydesk.simulators.alipay import wire
from paydesk.simulators.alipay.trades import EventKind, TradeEvent

DELIVERIES_KEPT = 10_000
RESPONSE_BODY_KEPT = 200
STOP_TIMEOUT_S = 10.0


def notification_form(event: TradeEvent, notify_id: str) -> dict[str, str]:
    """The unsigned parameters of the notification of ``event``."""
    trade = event.trade
    form = {
        "notify_time": wire.format_time(event.at),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": trade.app_id,
        "auth_app_id": trade.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "seller_id": trade.seller_id,
        "trade_status": str(event.trade_status),
        "total_amount": wire.format_yuan(trade.total_fen),
        "subject": trade.subject,
        "body": trade.body,
        "gmt_create": wire.format_time(trade.created_at),
        "passback_params": trade.passback_params,
    }
    if trade.paid_at is not None:
        paid = wire.format_yuan(trade.total_fen)
        form |= {
            "buyer_id": trade.buyer_user_id,
            "buyer_logon_id": trade.buyer_logon_id,
            "receipt_amount": paid,
            "invoice_amount": paid,
            "buyer_pay_amount": paid,
            "point_amount": "0.00",
            "gmt_payment": wire.format_time(trade.paid_at),
            "fund_bill_list": f'[{{"amount":"{paid}","fundChannel":"ALIPAYACCOUNT"}}]',
        }
    if event.kind is EventKind.REFUNDED and event.refund is not None:
        form |= {
            "out_biz_no": event.refund.out_request_no,
            "refund_fee": wire.format_yuan(event.refunded_fen),
            "gmt_refund": wire.format_time_ms(event.refund.effective_at),
        }
    if event.trade_status == "TRADE_CLOSED":
        closed_at = trade.closed_at or event.at
        form["gmt_close"] = wire.format_time(closed_at)
    return {name: value for name, value in form.items() if value}
