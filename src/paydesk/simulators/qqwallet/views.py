"""What the simulator says about its orders and refunds: the business fields of answers and
notifications (the common ``return_code``, ``mch_id``, ``nonce_str``, ``sign`` are added by
the edge), and the JSON of the control API. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paydesk.simulators.qqwallet.state import PAID, TRADE_STATE_DESC, Order, Refund, TradeState
from paydesk.simulators.qqwallet.wire import beijing_text


def order_fields(order: Order) -> dict[str, str]:
    """An order as the order query answers it (a paid one also as its notification)."""
    request = order.request
    fields = {
        "trade_type": request.trade_type.value,
        "trade_state": order.trade_state.value,
        "trade_state_desc": TRADE_STATE_DESC[order.trade_state],
        "out_trade_no": request.out_trade_no,
        "fee_type": request.fee_type,
        "total_fee": str(request.total_fee),
    }
    if order.transaction_id is not None:
        fields["transaction_id"] = order.transaction_id
    if order.trade_state in PAID or order.trade_state is TradeState.PAYERROR:
        assert order.time_end is not None
        fields["time_end"] = beijing_text(order.time_end)
        fields["openid"] = order.openid or ""
        fields["bank_type"] = order.bank_type or ""
        fields["cash_fee"] = str(request.total_fee) if order.trade_state in PAID else "0"
    if request.attach is not None:
        fields["attach"] = request.attach
    return fields


def notification_fields(order: Order) -> dict[str, str]:
    """A paid order's notification (without ``nonce_str`` and ``sign``)."""
    fields = {"mch_id": order.mch_id, **order_fields(order)}
    fields.pop("trade_state_desc")
    if order.request.appid:
        fields["appid"] = order.request.appid
    if order.request.sign_type is not None:
        fields["sign_type"] = order.request.sign_type
    return fields


def refund_fields(refund: Refund, order: Order) -> dict[str, str]:
    """The refund call's answer: the refund was accepted."""
    return {
        "transaction_id": order.transaction_id or "",
        "out_trade_no": order.out_trade_no,
        "total_fee": str(order.request.total_fee),
        "out_refund_no": refund.request.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_channel": "ORIGINAL",
        "refund_fee": str(refund.request.refund_fee),
    }


def refund_query_fields(order: Order, refunds: Sequence[Refund]) -> dict[str, str]:
    """The refund query's answer: the order, then each refund as ``..._$n``."""
    fields = {
        "transaction_id": order.transaction_id or "",
        "out_trade_no": order.out_trade_no,
        "total_fee": str(order.request.total_fee),
        "cash_fee": str(order.request.total_fee),
        "fee_type": order.request.fee_type,
        "refund_count": str(len(refunds)),
    }
    for n, refund in enumerate(refunds):
        fields[f"out_refund_no_{n}"] = refund.request.out_refund_no
        fields[f"refund_id_{n}"] = refund.refund_id
        fields[f"refund_channel_{n}"] = "ORIGINAL"
        fields[f"refund_fee_{n}"] = str(refund.request.refund_fee)
        fields[f"refund_status_{n}"] = refund.status.value
    return fields


def order_json(order: Order) -> dict[str, Any]:
    """An order for the control API."""
    return {"mch_id": order.mch_id, "prepay_id": order.prepay_id, **order_fields(order)}


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "mch_id": refund.mch_id,
        "out_refund_no": refund.request.out_refund_no,
        "refund_id": refund.refund_id,
        "out_trade_no": refund.out_trade_no,
        "refund_fee": refund.request.refund_fee,
        "refund_status": refund.status.value,
    }
