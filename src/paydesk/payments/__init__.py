"""Orders, payment attempts, refunds and the order centre (issue 4, in progress).

So far: the state machines of orders and payment attempts (``states``), pure and tested.
"""
