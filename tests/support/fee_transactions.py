"""Fee transactions for the fee engine's unit tests: a CNY 100.00 collection unless told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paydesk.fees.transaction import FeeTransaction


def fee_txn(at: datetime, /, **overrides: Any) -> FeeTransaction:
    """A transaction at ``at``; ``overrides`` set any field (``occurred_at`` too)."""
    values: dict[str, Any] = {
        "id": "t1",
        "scenario": "collection",
        "amount_minor": 10_000,
        "currency": "CNY",
        "occurred_at": at,
    }
    values.update(overrides)
    return FeeTransaction(**values)
