"""Pure ledger rules: the shape of a journal, its balance per currency, and the checks of
each leg against its account. No database here.

Rules are checked in this fixed order, and the first that fails names the error:

1. shape: 2 to :data:`LEGS_MAX` legs, each a non-zero integer amount within
   :data:`~paydesk.core.money.AMOUNT_MINOR_MAX`, no account twice (``invalid_legs``,
   ``duplicate_account``);
2. balance: the legs sum to zero in each currency (``unbalanced``);
3. idempotency: a key seen before returns its journal, or ``journal_key_reused`` if the
   content differs (service);
4. accounts: each exists and belongs to the merchant (``account_not_found``);
5. currency: each leg's currency is its account's (``currency_mismatch``);
6. status: no leg on a closed account, no debit on a frozen one (``account_closed``,
   ``account_frozen``);
7. floor: no debit takes an account's available balance below its floor (``exceeds_floor``),
   enforced by a conditional update in the database so concurrent postings cannot both pass.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paydesk.core.errors import InvalidRequest
from paydesk.core.money import AMOUNT_MINOR_MAX
from paydesk.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotFound,
    DuplicateAccount,
    InvalidLegs,
    LedgerCurrencyMismatch,
    Unbalanced,
)
from paydesk.ledger.models import AccountStatus, FloorRule

LEGS_MAX = 64
"""A journal has at most this many legs: enough for a payment with fees, bonuses and splits."""
KEY_LENGTH_MAX = 200
MEMO_LENGTH_MAX = 500


@dataclass(frozen=True, slots=True)
class Leg:
    """One line of a journal: ``amount`` (signed minor units, positive raises the balance)
    on ``account_id`` in ``currency``."""

    account_id: str
    amount: int
    currency: str

    @property
    def is_debit(self) -> bool:
        return self.amount < 0


@dataclass(frozen=True, slots=True)
class AccountRules:
    """What the posting rules need to know of an account."""

    id: str
    merchant_id: str
    currency: str
    status: str
    floor_rule: str
    overdraft_limit: int
    slots: int

    @property
    def floor(self) -> int | None:
        """Lowest available balance allowed; ``None`` for no floor."""
        if self.floor_rule == FloorRule.UNBOUNDED:
            return None
        if self.floor_rule == FloorRule.OVERDRAFT:
            return -self.overdraft_limit
        return 0


def check_shape(legs: Sequence[Leg]) -> None:
    """Rules 1 and 2: the journal's own shape and balance."""
    if not 2 <= len(legs) <= LEGS_MAX:
        raise InvalidLegs(f"a journal has 2 to {LEGS_MAX} legs", param="legs")
    seen: set[str] = set()
    totals: dict[str, int] = defaultdict(int)
    for index, leg in enumerate(legs):
        amount = leg.amount
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise InvalidLegs(
                "each leg's amount is a non-zero integer of minor units",
                param=f"legs.{index}.amount",
            )
        if abs(amount) > AMOUNT_MINOR_MAX:
            raise InvalidLegs(
                f"a leg's amount must not exceed {AMOUNT_MINOR_MAX}",
                param=f"legs.{index}.amount",
            )
        if leg.account_id in seen:
            raise DuplicateAccount(
                f"account {leg.account_id} appears twice", param=f"legs.{index}.account_id"
            )
        seen.add(leg.account_id)
        totals[leg.currency] += amount
    unbalanced = sorted(code for code, total in totals.items() if total != 0)
    if unbalanced:
        raise Unbalanced(
            "the legs must sum to zero in each currency; they do not in " + ", ".join(unbalanced),
            param="legs",
        )


def check_accounts(
    legs: Sequence[Leg], accounts: Mapping[str, AccountRules], merchant_id: str
) -> None:
    """Rules 4 to 6, leg by leg in the order given."""
    for index, leg in enumerate(legs):
        account = accounts.get(leg.account_id)
        if account is None or account.merchant_id != merchant_id:
            raise AccountNotFound(f"no account {leg.account_id}", param=f"legs.{index}.account_id")
    for index, leg in enumerate(legs):
        account = accounts[leg.account_id]
        if leg.currency != account.currency:
            raise LedgerCurrencyMismatch(
                f"account {account.id} holds {account.currency}, not {leg.currency}",
                param=f"legs.{index}.currency",
            )
    for index, leg in enumerate(legs):
        account = accounts[leg.account_id]
        if account.status == AccountStatus.CLOSED:
            raise AccountClosed(f"account {account.id} is closed", param=f"legs.{index}")
        if account.status == AccountStatus.FROZEN and leg.is_debit:
            raise AccountFrozen(f"account {account.id} is frozen", param=f"legs.{index}")


def content_hash(kind: str, legs: Sequence[Leg], memo: str, meta: Mapping[str, Any]) -> str:
    """What a replay must match: kind, legs (in order), memo and metadata."""
    body = {
        "kind": kind,
        "legs": [[leg.account_id, leg.amount, leg.currency] for leg in legs],
        "memo": memo,
        "meta": meta,
    }
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def check_text(value: str, length_max: int, param: str, *, required: bool) -> str:
    if required and not value:
        raise InvalidRequest(f"{param} is required", param=param)
    if len(value) > length_max:
        raise InvalidRequest(f"{param} is at most {length_max} characters", param=param)
    return value
