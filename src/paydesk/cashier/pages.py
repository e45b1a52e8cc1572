"""The cashier's HTML: one page, server-rendered, with the script and style Paydesk serves
itself (``/cashier/static/...``). Every value is escaped."""

from __future__ import annotations

from html import escape

from paydesk.cashier.service import View

STATUS_TEXT = {
    "succeeded": "Payment received. Thank you!",
    "partially_refunded": "This order was paid (part of it has been refunded).",
    "refunded": "This order was paid and refunded.",
    "expired": "This order has expired and can no longer be paid.",
}


def page(view: View, token: str) -> str:
    buttons = "\n".join(
        f'<button type="button" class="method" data-method="{escape(method)}">'
        f"{escape(label)}</button>"
        for method, label in view.methods
    )
    payable = view.status in {"created", "paying"}
    if payable and not view.methods:
        notice = "No payment method is available for this order right now."
    else:
        notice = "" if payable else STATUS_TEXT.get(view.status, f"Order {view.status}.")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay {escape(view.merchant_name)}</title>
<link rel="stylesheet" href="/cashier/static/cashier.css">
</head>
<body>
<main id="cashier" data-order="{escape(view.order_id)}" data-token="{escape(token)}"
      data-status="{escape(view.status)}">
  <header>
    <p class="merchant">{escape(view.merchant_name)}</p>
    <h1 class="subject">{escape(view.subject)}</h1>
    <p class="amount" id="amount">{escape(view.amount)}</p>
  </header>
  <section id="methods" {"" if payable and view.methods else "hidden"}>
    <h2>Pay with</h2>
    {buttons}
  </section>
  <section id="scan" hidden>
    <p>Scan with the app to pay</p>
    <div id="qr"></div>
    <p><a id="qr-link" href="#">Open the payment page on this device</a></p>
    <button type="button" id="back" class="link">Choose another way to pay</button>
  </section>
  <p id="message" role="status">{escape(notice)}</p>
</main>
<script src="/cashier/static/cashier.js"></script>
</body>
</html>
"""
