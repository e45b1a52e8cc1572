"""The payer's side: a tiny pay page behind ``code_url`` and ``h5_url``.

It shows the merchant, the description and the amount, and a plain HTML form: "Pay" marks the
order paid (and notifies the merchant), "Decline" makes the payment fail (``PAYERROR``). No
scripts, no external resources: the page is served with a Content-Security-Policy that allows
only its inline style and posting the form back to itself. Every shown value is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from paydesk.simulators.common import pay_page as shell
from paydesk.simulators.wechatpay.bill import yuan
from paydesk.simulators.wechatpay.state import TRADE_STATE_DESC, Order, TradeState

HEADERS = shell.HEADERS


def _page(title: str, content: str) -> str:
    return shell.page(title, content, channel="WeChat Pay", accent="#07c160")


def _summary(order: Order, merchant_name: str) -> str:
    request = order.request
    return (
        f"<h1>{escape(merchant_name)}</h1>"
        f'<p class="muted">Merchant {escape(request.mchid)} · order '
        f"{escape(request.out_trade_no)}</p>"
        f"<p>{escape(request.description)}</p>"
        f'<p class="amount">¥{yuan(request.amount_total)} <small>{escape(request.currency)}'
        "</small></p>"
    )


def pay_page(order: Order, merchant_name: str) -> str:
    """The order and, while it can be paid, the form that pays it."""
    summary = _summary(order, merchant_name)
    if order.trade_state is not TradeState.NOTPAY:
        return result_page(order, merchant_name)
    openid = escape(order.payer_openid or "")
    form = (
        '<form method="post">'
        '<label for="openid" class="muted">Payer openid (blank: a new payer)</label>'
        f'<input id="openid" name="openid" value="{openid}" maxlength="128">'
        '<button class="pay" type="submit" name="outcome" value="SUCCESS">Pay</button>'
        '<button type="submit" name="outcome" value="PAYERROR">Decline</button>'
        "</form>"
    )
    return _page("Pay", summary + form)


def result_page(order: Order, merchant_name: str) -> str:
    """The order's state after the payer acted (or when it cannot be paid any more)."""
    state = TRADE_STATE_DESC[order.trade_state]
    detail = f"<p><strong>{escape(str(order.trade_state))}</strong> · {escape(state)}</p>"
    if order.transaction_id:
        detail += f'<p class="muted">Transaction {escape(order.transaction_id)}</p>'
    return _page(str(order.trade_state), _summary(order, merchant_name) + detail)


def error_page(message: str) -> str:
    """A payer-facing failure (unknown order, closed order, ...)."""
    return _page("Cannot pay", f"<h1>Cannot pay</h1><p>{escape(message)}</p>")
