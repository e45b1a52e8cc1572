"""The server-to-server methods of ``/gateway.do``: each takes a verified call and returns the
inner response object, or raises a :class:`~paydesk.simulators.alipay.errors.GatewayError`.

Fields (CHANNELS.md, "Fields", and the gateway's documentation):

- precreate: ``code 10000, msg Success, out_trade_no, qr_code`` (the simulator's pay page).
- query: ``trade_no, out_trade_no, trade_status, total_amount``, the buyer, and once paid
  ``buyer_pay_amount, receipt_amount, invoice_amount, point_amount, send_pay_date,
  fund_bill_list``.
- close: ``trade_no, out_trade_no``.
- refund: ``trade_no, out_trade_no, buyer_logon_id, buyer_user_id, fund_change`` (Y when this
  call moved money), ``refund_fee`` (everything refunded on the trade so far, not this
  refund) and ``gmt_refund_pay``; refusals for the amount also carry ``refund_fee`` and
  ``send_back_fee`` ``0.00``, as the gateway's do.
- fastpay.refund.query: ``out_request_no, refund_amount, total_amount, refund_status
  REFUND_SUCCESS, gmt_refund_pay``; a refund that is unknown or not done yet answers code 10000
  without them (the documented way to say "not refunded").
- bill.downloadurl.query: ``bill_download_url``, valid ``bill_url_ttl_s``. ``bill_type=trade``
  only; ``bill_date`` ``yyyy-MM-dd`` or ``yyyy-MM``. Unlike the real gateway, which publishes a
  bill the next morning, today's and this month's bills are served so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from paydesk.simulators.alipay import bill, errors, wire
from paydesk.simulators.alipay.config import BEIJING, AppRegistration
from paydesk.simulators.alipay.simulator import AlipaySimulator
from paydesk.simulators.alipay.trades import NewTrade, Trade

SUCCESS = {"code": "10000", "msg": "Success"}
SUBJECT_LEN_MAX = 256
TEXT_LEN_MAX = 512
PRODUCT_CODES_DEFAULT = {
    "alipay.trade.precreate": "FACE_TO_FACE_PAYMENT",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
}


@dataclass(frozen=True)
class Call:
    """A request whose common parameters and signature have been checked."""

    method: str
    app: AppRegistration
    params: dict[str, str]
    biz: dict[str, Any]
    base_url: str


Handler = Callable[[AlipaySimulator, Call], dict[str, Any]]


def _text(biz: dict[str, Any], name: str, *, required: bool = False, limit: int = 128) -> str:
    value = biz.get(name)
    if value is None or value == "":
        if required:
            raise errors.InvalidParameter(f"{name} 不能为空")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > limit:
        raise errors.InvalidParameter(f"{name} 格式错误")
    return str(value)


def _trade_ids(biz: dict[str, Any]) -> tuple[str, str]:
    trade_no = _text(biz, "trade_no", limit=64)
    out_trade_no = _text(biz, "out_trade_no", limit=64)
    if not trade_no and not out_trade_no:
        raise errors.InvalidParameter("trade_no 和 out_trade_no 不能同时为空")
    return trade_no, out_trade_no


def new_trade(sim: AlipaySimulator, call: Call) -> Trade:
    """Creates (or finds again) the trade of a precreate, page.pay or wap.pay call."""
    biz = call.biz
    timeout = biz.get("qr_code_timeout_express") or biz.get("timeout_express")
    request = NewTrade(
        app_id=call.app.app_id,
        seller_id=call.app.seller_id,
        out_trade_no=wire.check_merchant_id(biz.get("out_trade_no"), "out_trade_no"),
        subject=_text(biz, "subject", required=True, limit=SUBJECT_LEN_MAX),
        body=_text(biz, "body", limit=TEXT_LEN_MAX),
        total_fen=wire.parse_amount_fen(biz.get("total_amount"), "total_amount"),
        product_code=_text(biz, "product_code", limit=64)
        or PRODUCT_CODES_DEFAULT.get(call.method, ""),
        origin=call.method,
        notify_url=call.params.get("notify_url", ""),
        return_url=call.params.get("return_url", ""),
        passback_params=_text(biz, "passback_params", limit=TEXT_LEN_MAX),
        store_id=_text(biz, "store_id", limit=32),
        operator_id=_text(biz, "operator_id", limit=28),
        terminal_id=_text(biz, "terminal_id", limit=32),
        timeout_s=wire.timeout_s(timeout, default_s=sim.config.trade_timeout_s_default),
    )
    return sim.store.create(request, sim.now())


def precreate(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    trade = new_trade(sim, call)
    return {
        **SUCCESS,
        "out_trade_no": trade.out_trade_no,
        "qr_code": f"{call.base_url}/qr/{trade.pay_token}",
    }


def _paid_fields(trade: Trade) -> dict[str, Any]:
    if trade.paid_at is None:
        zero = "0.00"
        return {"buyer_pay_amount": zero, "invoice_amount": zero, "receipt_amount": zero}
    paid = wire.format_yuan(trade.total_fen)
    return {
        "buyer_pay_amount": paid,
        "invoice_amount": paid,
        "receipt_amount": paid,
        "send_pay_date": wire.format_time(trade.paid_at),
        "fund_bill_list": [{"amount": paid, "fund_channel": "ALIPAYACCOUNT"}],
    }


def query(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    trade, events = sim.store.find(call.app.app_id, *_trade_ids(call.biz), sim.now())
    sim.publish(events)
    response: dict[str, Any] = {
        **SUCCESS,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": trade.buyer_logon_id,
        "trade_status": str(trade.status),
        "total_amount": wire.format_yuan(trade.total_fen),
        "point_amount": "0.00",
        **_paid_fields(trade),
        "buyer_user_id": trade.buyer_user_id,
        "store_id": trade.store_id,
        "terminal_id": trade.terminal_id,
    }
    return {name: value for name, value in response.items() if value != ""}


def close(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    trade, events = sim.store.close(call.app.app_id, *_trade_ids(call.biz), sim.now())
    sim.publish(events)
    return {**SUCCESS, "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no}


def refund(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    biz = call.biz
    trade_no, out_trade_no = _trade_ids(biz)
    amount_fen = wire.parse_amount_fen(biz.get("refund_amount"), "refund_amount")
    out_request_no = ""
    if biz.get("out_request_no"):
        out_request_no = wire.check_merchant_id(biz["out_request_no"], "out_request_no")
    plan = sim.faults.plan_for(call.app.app_id)
    now = sim.now()
    try:
        outcome = sim.store.refund(
            call.app.app_id,
            trade_no,
            out_trade_no,
            amount_fen=amount_fen,
            out_request_no=out_request_no,
            reason=_text(biz, "refund_reason", limit=TEXT_LEN_MAX),
            delay_s=plan.refund_delay_s,
            now=now,
        )
    except (errors.RefundAmountNotEqualTotal, errors.RefundFeeError) as refused:
        refused.extra = {
            "out_trade_no": out_trade_no,
            "refund_fee": "0.00",
            "send_back_fee": "0.00",
        }
        raise
    sim.publish(outcome.events)
    trade, done = outcome.trade, outcome.refund
    response: dict[str, Any] = {
        **SUCCESS,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": trade.buyer_logon_id,
        "fund_change": "Y" if outcome.fund_change else "N",
        "refund_fee": wire.format_yuan(outcome.refunded_fen),
        "buyer_user_id": trade.buyer_user_id,
    }
    if done.effective(now):
        response["gmt_refund_pay"] = wire.format_time(done.effective_at)
    return response


def refund_query(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    out_request_no = wire.check_merchant_id(call.biz.get("out_request_no"), "out_request_no")
    now = sim.now()
    trade, events = sim.store.find(call.app.app_id, *_trade_ids(call.biz), now)
    sim.publish(events)
    done = trade.refunds.get(out_request_no)
    if done is None or not done.effective(now):
        return dict(SUCCESS)
    return {
        **SUCCESS,
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "out_request_no": done.out_request_no,
        "total_amount": wire.format_yuan(trade.total_fen),
        "refund_amount": wire.format_yuan(done.amount_fen),
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": wire.format_time(done.effective_at),
        **({"refund_reason": done.reason} if done.reason else {}),
    }


def _bill_period(bill_date: str) -> tuple[str, datetime, datetime]:
    try:
        if len(bill_date) == len("2024-01-01"):
            day = datetime.strptime(bill_date, "%Y-%m-%d").replace(tzinfo=BEIJING)
            return day.strftime("%Y%m%d"), day, day + timedelta(days=1)
        month = datetime.strptime(bill_date, "%Y-%m").replace(tzinfo=BEIJING)
    except ValueError:
        raise errors.InvalidParameter("bill_date 格式错误 (yyyy-MM-dd 或 yyyy-MM)") from None
    following = (month + timedelta(days=32)).replace(day=1)
    return month.strftime("%Y%m"), month, following


def bill_download_url(sim: AlipaySimulator, call: Call) -> dict[str, Any]:
    bill_type = _text(call.biz, "bill_type", required=True, limit=32)
    if bill_type != "trade":
        raise errors.InvalidParameter("bill_type 无效: the simulator serves bill_type=trade only")
    period, start, end = _bill_period(_text(call.biz, "bill_date", required=True, limit=10))
    now = sim.now()
    if start > now:
        raise errors.BillNotExist()
    account = f"{call.app.seller_id}0156"
    trades, events = sim.store.snapshot(call.app.seller_id, now)
    sim.publish(events)
    rows = bill.entries(trades, start, end, now)
    file_name, data = bill.bill_zip(rows, account, period, start, end, now)
    token = sim.issue_bill(file_name, data)
    query_string = urlencode({"token": token, "downloadFileName": file_name})
    return {**SUCCESS, "bill_download_url": f"{call.base_url}/bill/download?{query_string}"}


API_METHODS: dict[str, Handler] = {
    "alipay.trade.precreate": precreate,
    "alipay.trade.query": query,
    "alipay.trade.close": close,
    "alipay.trade.refund": refund,
    "alipay.trade.fastpay.refund.query": refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": bill_download_url,
}
PAGE_METHODS = frozenset({"alipay.trade.page.pay", "alipay.trade.wap.pay"})
