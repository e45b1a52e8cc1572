"""Notifications (后台通知) to ``backUrl``, and the return form the browser carries to ``frontUrl``.

:func:`payment_form` and :func:`refund_form` write the fields of a consume and a refund
notification (the caller signs them). The shared ``FormNotifier`` delivers them (URL-encoded)
from one background thread with httpx, so the request that caused an event never waits for
the merchant. A delivery succeeds when the receiver answers HTTP 200 (the SDK demos answer
``ok``; the body is not read); anything else, or no answer, is retried after each wait of the
schedule, then given up. A retry or a duplicate carries the same form and signature. The
simulator notifies successful payments and refunds only; a payment the issuer declined shows
in queries (the public material we checked does not settle whether the gateway notifies
those).
"""

from __future__ import annotations

from paydesk.simulators.unionpay.trades import Refund, Trade

DELIVERIES_KEPT = 10_000
RESPONSE_BODY_KEPT = 200
STOP_TIMEOUT_S = 10.0
SUCCESS_MSG = "成功[0000000]"


def _common(mer_id: str, order_id: str, txn_time: str, amount_fen: int) -> dict[str, str]:
    return {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "accessType": "0",
        "merId": mer_id,
        "orderId": order_id,
        "txnTime": txn_time,
        "txnAmt": str(amount_fen),
        "currencyCode": "156",
        "settleAmt": str(amount_fen),
        "settleCurrencyCode": "156",
    }


def payment_form(trade: Trade) -> dict[str, str]:
    """The unsigned notification (or return form) of a completed payment."""
    assert trade.completed_at is not None
    form = _common(trade.mer_id, trade.order_id, trade.txn_time, trade.amount_fen) | {
        "txnType": "01",
        "txnSubType": "01",
        "bizType": "000201",
        "queryId": trade.query_id,
        "traceNo": trade.trace_no,
        "traceTime": trade.trace_time,
        "settleDate": f"{trade.completed_at:%m%d}",
        "respCode": trade.resp_code,
        "respMsg": trade.resp_msg,
        "accNo": "6216********0018",
        "payCardType": "01",
        "payType": "0001",
    }
    if trade.req_reserved:
        form["reqReserved"] = trade.req_reserved
    return form


def refund_form(refund: Refund) -> dict[str, str]:
    """The unsigned notification of a refund that succeeded."""
    return _common(refund.mer_id, refund.order_id, refund.txn_time, refund.amount_fen) | {
        "txnType": "04",
        "txnSubType": "00",
        "bizType": "000201",
        "queryId": refund.query_id,
        "origQryId": refund.orig_query_id,
        "traceNo": refund.trace_no,
        "traceTime": refund.trace_time,
        "settleDate": f"{refund.effective_at:%m%d}",
        "respCode": "00",
        "respMsg": SUCCESS_MSG,
    }
