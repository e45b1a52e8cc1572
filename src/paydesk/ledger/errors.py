"""Ledger errors, one per failed rule, in the order the rules are checked.

    PaydeskError
    ├── InvalidRequest (400)   invalid_legs, duplicate_account, unbalanced, invalid_hold
    ├── NotFound (404)         account_not_found, journal_not_found, hold_not_found
    └── Conflict (409)         journal_key_reused, currency_mismatch, account_frozen,
                               account_closed, exceeds_floor, journal_already_reversed,
                               hold_not_pending, account_not_empty

``exceeds_floor`` is transient (a later credit can make the same request succeed); the
others are permanent for the same input.
"""

from __future__ import annotations

from paydesk.core.errors import Conflict, InvalidRequest, NotFound


class InvalidLegs(InvalidRequest):
    code = "invalid_legs"


class DuplicateAccount(InvalidRequest):
    code = "duplicate_account"


class Unbalanced(InvalidRequest):
    code = "unbalanced"


class InvalidHold(InvalidRequest):
    code = "invalid_hold"


class AccountNotFound(NotFound):
    code = "account_not_found"


class JournalNotFound(NotFound):
    code = "journal_not_found"


class HoldNotFound(NotFound):
    code = "hold_not_found"


class JournalKeyReused(Conflict):
    code = "journal_key_reused"


class LedgerCurrencyMismatch(Conflict):
    code = "currency_mismatch"


class AccountFrozen(Conflict):
    code = "account_frozen"


class AccountClosed(Conflict):
    code = "account_closed"


class ExceedsFloor(Conflict):
    code = "exceeds_floor"
    transient = True


class AlreadyReversed(Conflict):
    code = "journal_already_reversed"


class HoldNotPending(Conflict):
    code = "hold_not_pending"


class AccountNotEmpty(Conflict):
    code = "account_not_empty"
