"""The hosted cashier: ``/cashier/{order}``, the page a payer opens to pay an order.

See docs/cashier.md.
"""
