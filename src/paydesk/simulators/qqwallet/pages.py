"""The payer's side: a small pay page behind ``code_url``.

It shows the merchant, the description and the amount, and a plain HTML form: "Pay" marks the
order paid (and notifies the merchant), "Decline" makes the payment fail (``PAYERROR``). No
scripts and no external resources: the page is served with a Content-Security-Policy that
allows only its own inline style and posting the form back to itself. Every shown value is
HTML-escaped.
"""

from __future__ import annotations

from html import escape

from paydesk.simulators.common import pay_page as shell
from paydesk.simulators.qqwallet.bill import yuan
from paydesk.simulators.qqwallet.state import TRADE_STATE_DESC, Order, TradeState

HEADERS = shell.HEADERS


def _page(title: str, content: str) -> str:
    return shell.page(title, content, channel="QQ Wallet", accent="#12b7f5")


def _summary(order: Order, merchant_name: str) -> str:
    request = order.request
    return (
        f"<h1>{escape(merchant_name)}</h1>"
        f'<p class="muted">Merchant {escape(request.mch_id)} · order '
        f"{escape(request.out_trade_no)}</p>"
        f"<p>{escape(request.body)}</p>"
        f'<p class="amount">¥{yuan(request.total_fee)} <small>{escape(request.fee_type)}'
        "</small></p>"
    )


def pay_page(order: Order, merchant_name: str) -> str:
    """The order and, while it can be paid, the form that pays it."""
    if order.trade_state is not TradeState.NOTPAY:
        return result_page(order, merchant_name)
    form = (
        '<form method="post">'
        '<label for="openid" class="muted">Payer openid (blank: a new payer)</label>'
        '<input id="openid" name="openid" maxlength="64">'
        '<button class="pay" type="submit" name="outcome" value="SUCCESS">Pay</button>'
        '<button type="submit" name="outcome" value="PAYERROR">Decline</button>'
        "</form>"
    )
    return _page("Pay", _summary(order, merchant_name) + form)


def result_page(order: Order, merchant_name: str) -> str:
    """The order's state after the payer acted (or when it cannot be paid any more)."""
    state = TRADE_STATE_DESC[order.trade_state]
    detail = f"<p><strong>{escape(order.trade_state.value)}</strong> · {escape(state)}</p>"
    if order.transaction_id:
        detail += f'<p class="muted">Transaction {escape(order.transaction_id)}</p>'
    return _page(order.trade_state.value, _summary(order, merchant_name) + detail)


def error_page(message: str) -> str:
    """A payer-facing failure (unknown order, closed order, ...)."""
    return _page("Cannot pay", f"<h1>Cannot pay</h1><p>{escape(message)}</p>")
