"""The transaction as fee rules see it: what it is (scenario, business type, method, card,
banks, region), its amount and time, and for some models how many items were verified or how
many days money was held.

A scenario is a configured name, not an enum: ``collection``, ``payout`` and ``verification``
are the usual ones, and a new one (``remittance``, ``annual_fee``) needs only entries that name
it. Amounts are integer minor units of ``currency``; zero is allowed (a card verification).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal, get_args

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import check_amount

COLLECTION = "collection"
PAYOUT = "payout"
VERIFICATION = "verification"

CardType = Literal["debit", "credit"]
BankRelation = Literal["same_bank", "cross_bank"]
AttributeValue = str | int | bool

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Scenario names: lower case, digits and ``_``, starting with a letter."""
CURRENCY_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{2,15}$")
ID_LENGTH_MAX = 64
HOLDING_DAYS_MAX = 3_650
VERIFIED_ITEMS_MAX = 100_000
ATTRIBUTES_MAX = 50


class InvalidFeeTransaction(InvalidRequest):
    code = "invalid_fee_transaction"


@dataclass(frozen=True, slots=True)
class FeeTransaction:
    id: str
    scenario: str
    """What the transaction is for: ``collection``, ``payout``, ``verification`` or any
    configured name."""
    amount_minor: int
    """In minor units of ``currency``; 0 or more."""
    currency: str
    occurred_at: datetime
    """When it happened (aware): chooses the agreement, and for a lump sum, the month."""
    business_type: str | None = None
    method: str | None = None
    card_type: CardType | None = None
    bank_relation: BankRelation | None = None
    """Whether payer and payee banks are the same (``same_bank``) or not (``cross_bank``)."""
    region: str | None = None
    interface_id: str | None = None
    """The agreement's interface (channel account or product) it went through; None: any."""
    verified_items: int = 0
    """Items checked by a verification (cards, identities), for ``per_call`` fees."""
    holding_days: int = 0
    """Days the money is held or advanced, for ``interest`` fees."""
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    """Any other attribute an entry may test for equality (``mcc``, ``campaign``, ...)."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not 0 < len(self.id) <= ID_LENGTH_MAX:
            raise InvalidFeeTransaction(f"id is 1 to {ID_LENGTH_MAX} characters", param="id")
        if not isinstance(self.scenario, str) or not NAME_PATTERN.match(self.scenario):
            raise InvalidFeeTransaction(
                "scenario is a lower-case name such as collection", param="scenario"
            )
        check_amount(self.amount_minor, param="amount_minor", allow_zero=True)
        if not isinstance(self.currency, str) or not CURRENCY_PATTERN.match(self.currency):
            raise InvalidFeeTransaction("currency is a code such as CNY", param="currency")
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.utcoffset() is None:
            raise InvalidFeeTransaction(
                "occurred_at is a datetime with a UTC offset", param="occurred_at"
            )
        if self.card_type is not None and self.card_type not in get_args(CardType):
            raise InvalidFeeTransaction("card_type is debit or credit", param="card_type")
        if self.bank_relation is not None and self.bank_relation not in get_args(BankRelation):
            raise InvalidFeeTransaction(
                "bank_relation is same_bank or cross_bank", param="bank_relation"
            )
        _count(self.verified_items, VERIFIED_ITEMS_MAX, "verified_items")
        _count(self.holding_days, HOLDING_DAYS_MAX, "holding_days")
        if len(self.attributes) > ATTRIBUTES_MAX:
            raise InvalidFeeTransaction(f"at most {ATTRIBUTES_MAX} attributes", param="attributes")
        for key, value in self.attributes.items():
            if not isinstance(key, str) or not isinstance(value, str | int | bool):
                raise InvalidFeeTransaction(
                    "attributes map names to strings, integers or booleans", param="attributes"
                )
        # Frozen means frozen: a caller keeping the dict cannot change the transaction later.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


def _count(value: int, maximum: int, param: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidFeeTransaction(f"{param} is an integer from 0 to {maximum}", param=param)
