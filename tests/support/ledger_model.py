"""The model behind the ledger state machine (``tests/integration/test_ledger_stateful.py``).

Holds the accounts each run opens (:data:`PLANS`), the expected-state dataclasses (accounts
with their balance history, journals, holds) and :class:`LedgerModel`, which predicts every
operation's outcome from the model alone, down to the error code named by the documented
validation order, and records the effect of the operations that succeed. Nothing here
touches the database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from paydesk.core.money import AMOUNT_MINOR_MAX
from paydesk.ledger.domain import LEGS_MAX, Leg
from paydesk.ledger.holds import HOLD_TTL_MAX
from paydesk.ledger.models import AccountStatus, FloorRule, HoldStatus

AMOUNT_MAX = 500
"""Ordinary leg amounts are 1 to this (a few legs are the largest amount allowed)."""


# --- the accounts each run opens -------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    name: str
    currency: str
    floor_rule: FloorRule
    overdraft_limit: int = 0
    slots: int = 1

    @property
    def floor(self) -> int | None:
        if self.floor_rule is FloorRule.UNBOUNDED:
            return None
        return -self.overdraft_limit if self.floor_rule is FloorRule.OVERDRAFT else 0


PLANS = (
    Plan("cny_clearing", "CNY", FloorRule.UNBOUNDED, slots=4),
    Plan("alice", "CNY", FloorRule.NON_NEGATIVE),
    Plan("shop", "CNY", FloorRule.NON_NEGATIVE, slots=4),
    Plan("credit", "CNY", FloorRule.OVERDRAFT, overdraft_limit=300),
    Plan("gems_issuer", "GEMS", FloorRule.UNBOUNDED, slots=3),
    Plan("gems_wallet", "GEMS", FloorRule.NON_NEGATIVE),
    Plan("gems_pool", "GEMS", FloorRule.NON_NEGATIVE, slots=4),
    Plan("gems_credit", "GEMS", FloorRule.OVERDRAFT, overdraft_limit=100),
)
CURRENCIES = ("CNY", "GEMS")
OTHER_CURRENCY = {"CNY": "GEMS", "GEMS": "CNY"}


# --- the expected state ------------------------------------------------------------------------


@dataclass
class ModelAccount:
    id: str
    plan: Plan
    balance: int = 0
    pending: int = 0
    status: AccountStatus = AccountStatus.ACTIVE
    history: list[tuple[datetime, int]] = field(default_factory=list)
    """(posted_at, amount) of every entry, for ``balance_as_of``."""

    @property
    def available(self) -> int:
        return self.balance - self.pending

    @property
    def is_clearing(self) -> bool:
        return self.plan.floor_rule is FloorRule.UNBOUNDED

    def balance_at(self, moment: datetime) -> int:
        return sum(amount for posted_at, amount in self.history if posted_at <= moment)


@dataclass(frozen=True)
class Content:
    """What a journal's idempotency key is bound to."""

    kind: str
    legs: tuple[Leg, ...]
    memo: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelJournal:
    id: str
    key: str
    content: Content
    reverses_id: str | None = None
    reversed_by: str | None = None


@dataclass
class ModelHold:
    id: str
    key: str
    debit: str
    credit: str
    amount: int
    currency: str
    expires_at: datetime
    memo: str
    status: HoldStatus = HoldStatus.PENDING
    amount_posted: int = 0
    journal_id: str | None = None

    @property
    def legs(self) -> tuple[Leg, Leg]:
        """The legs the hold would post in full (and checks when created)."""
        return (
            Leg(self.debit, -self.amount, self.currency),
            Leg(self.credit, self.amount, self.currency),
        )


@dataclass(frozen=True)
class Expected:
    """An operation's predicted outcome: an error code, a replay of a journal, or success."""

    code: str | None = None
    replay: ModelJournal | None = None


OK = Expected()


def shape_error(legs: tuple[Leg, ...]) -> str | None:
    """Rules 1 and 2 of ``paydesk.ledger.domain``."""
    if not 2 <= len(legs) <= LEGS_MAX:
        return "invalid_legs"
    seen: set[str] = set()
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount == 0 or abs(leg.amount) > AMOUNT_MINOR_MAX:
            return "invalid_legs"
        if leg.account_id in seen:
            return "duplicate_account"
        seen.add(leg.account_id)
        totals[leg.currency] += leg.amount
    return "unbalanced" if any(totals.values()) else None


def room(account: ModelAccount) -> int:
    """How much a debit may take from the account (a lot when it has no floor)."""
    floor = account.plan.floor
    return AMOUNT_MAX if floor is None else account.available - floor


def reversal_content(target: ModelJournal) -> Content:
    """What ``reverse_journal`` posts for ``target``."""
    return Content(
        "reversal",
        tuple(replace(leg, amount=-leg.amount) for leg in target.content.legs),
        f"reversal of {target.id}",
        {"reverses": target.id},
    )


def hold_post_journal(hold: ModelHold, amount: int | None) -> tuple[str, Content]:
    """The key and content of the journal ``post_hold`` posts (the whole hold when ``amount``
    is None)."""
    moved = hold.amount if amount is None else amount
    content = Content(
        "hold_post",
        (Leg(hold.debit, -moved, hold.currency), Leg(hold.credit, moved, hold.currency)),
        hold.memo,
    )
    return f"hold:{hold.id}:post", content


# --- the model of one run ----------------------------------------------------------------------


@dataclass
class LedgerModel:
    """The expected state of one merchant's ledger, and the predictions made from it."""

    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    journals: dict[str, ModelJournal] = field(default_factory=dict)
    journal_by_key: dict[str, ModelJournal] = field(default_factory=dict)
    holds: dict[str, ModelHold] = field(default_factory=dict)
    failed_keys: list[str] = field(default_factory=list)
    """Keys of journals that failed and were never used: free to use again."""

    # --- views ---------------------------------------------------------------------------------

    def of_currency(self, currency: str) -> list[ModelAccount]:
        return [a for a in self.accounts.values() if a.plan.currency == currency]

    def clearing(self, currency: str) -> ModelAccount:
        return next(a for a in self.of_currency(currency) if a.is_clearing)

    def journals_by_key(self) -> list[ModelJournal]:
        return sorted(self.journals.values(), key=lambda j: j.key)

    def holds_by_key(self) -> list[ModelHold]:
        return sorted(self.holds.values(), key=lambda h: h.key)

    def frozen_count(self) -> int:
        return sum(a.status is AccountStatus.FROZEN for a in self.accounts.values())

    # --- predictions ---------------------------------------------------------------------------

    def expect_journal(
        self, key: str, content: Content, *, reserved: tuple[str, int] | None = None
    ) -> Expected:
        """The documented validation order of ``post_journal``."""
        error = shape_error(content.legs)
        if error:
            return Expected(error)
        existing = self.journal_by_key.get(key)
        if existing is not None:
            if existing.content == content:
                return Expected(replay=existing)
            return Expected("journal_key_reused")
        error = self.accounts_error(content.legs)
        if error:
            return Expected(error)
        for leg in content.legs:
            account = self.accounts[leg.account_id]
            floor = account.plan.floor
            if reserved is not None and reserved[0] == leg.account_id:
                continue
            if leg.amount < 0 and floor is not None and account.available + leg.amount < floor:
                return Expected("exceeds_floor")
        return OK

    def accounts_error(self, legs: tuple[Leg, ...]) -> str | None:
        """Rules 4 to 6, each over all legs in order."""
        if any(leg.account_id not in self.accounts for leg in legs):
            return "account_not_found"
        if any(leg.currency != self.accounts[leg.account_id].plan.currency for leg in legs):
            return "currency_mismatch"
        for leg in legs:
            status = self.accounts[leg.account_id].status
            if status is AccountStatus.CLOSED:
                return "account_closed"
            if status is AccountStatus.FROZEN and leg.amount < 0:
                return "account_frozen"
        return None

    def expect_reversal(self, target: ModelJournal, key: str, content: Content) -> Expected:
        """``reverse_journal``: a replay of the same reversal, an already reversed journal,
        then the checks of ``post_journal``."""
        existing = self.journal_by_key.get(key)
        if existing is not None and existing.reverses_id == target.id:
            return Expected(replay=existing)
        if target.reversed_by is not None:
            return Expected("journal_already_reversed")
        return self.expect_journal(key, content)

    def expect_hold(
        self, hold: ModelHold, replay_of: ModelHold | None, now: datetime
    ) -> tuple[str | None, bool]:
        """``create_hold``: shape, amount, idempotency, expiry, accounts, floor. Returns the
        error code and whether the key is one of an existing hold (a replay when the code is
        None)."""
        legs = hold.legs
        code = shape_error(legs)
        if code is None and hold.amount <= 0:
            code = "invalid_hold"
        replay = code is None and any(h.key == hold.key for h in self.holds.values())
        if replay and replay_of is None:
            code = "journal_key_reused"
        # A replay answers as the first time, even once the hold's expiry has passed.
        if code is None and not replay and not now < hold.expires_at <= now + HOLD_TTL_MAX:
            code = "invalid_hold"
        if code is None and not replay:
            code = self.accounts_error(legs)
        if code is None and not replay:
            account = self.accounts[hold.debit]
            floor = account.plan.floor
            if floor is not None and account.available - hold.amount < floor:
                code = "exceeds_floor"
        return code, replay

    def expect_hold_post(self, hold: ModelHold, amount: int | None, now: datetime) -> Expected:
        """``post_hold`` of ``amount`` (the whole hold when None): a replay of the posting,
        a hold no longer pending, an amount out of range, then the checks of
        ``post_journal`` with the hold's own reservation set aside."""
        if hold.status is HoldStatus.POSTED and amount in (None, hold.amount_posted):
            assert hold.journal_id is not None
            return Expected(replay=self.journals[hold.journal_id])
        if hold.status is not HoldStatus.PENDING or now >= hold.expires_at:
            return Expected("hold_not_pending")
        if amount is not None and not 0 < amount <= hold.amount:
            return Expected("invalid_hold")
        key, content = hold_post_journal(hold, amount)
        expected = self.expect_journal(key, content, reserved=(hold.debit, hold.amount))
        assert expected.replay is None
        return expected

    @staticmethod
    def expect_void(hold: ModelHold) -> str | None:
        """``void_hold`` (voiding a voided hold again is a no-op)."""
        if hold.status not in (HoldStatus.PENDING, HoldStatus.VOIDED):
            return "hold_not_pending"
        return None

    @staticmethod
    def expect_set_status(account: ModelAccount) -> str | None:
        """Freezing or unfreezing: refused once the account is closed."""
        return "account_closed" if account.status is AccountStatus.CLOSED else None

    @staticmethod
    def expect_close(account: ModelAccount) -> str | None:
        """Closing: refused unless the account holds nothing and reserves nothing."""
        if account.status is AccountStatus.CLOSED:
            return "account_closed"
        if account.balance or account.pending:
            return "account_not_empty"
        return None

    # --- effects of what succeeded -------------------------------------------------------------

    def record_journal(
        self, journal_id: str, key: str, content: Content, reverses_id: str | None, now: datetime
    ) -> ModelJournal:
        for leg in content.legs:
            account = self.accounts[leg.account_id]
            account.balance += leg.amount
            account.history.append((now, leg.amount))
        model = ModelJournal(journal_id, key, content, reverses_id=reverses_id)
        self.journals[model.id] = model
        self.journal_by_key[key] = model
        return model

    def record_failed_key(self, key: str) -> None:
        if key not in self.journal_by_key:
            self.failed_keys.append(key)  # free to use again

    def record_hold(self, hold: ModelHold, hold_id: str) -> None:
        hold.id = hold_id
        self.holds[hold.id] = hold
        self.accounts[hold.debit].pending += hold.amount

    def record_hold_post(self, hold: ModelHold, moved: int, journal_id: str) -> None:
        self.accounts[hold.debit].pending -= hold.amount
        hold.status = HoldStatus.POSTED
        hold.amount_posted = moved
        hold.journal_id = journal_id

    def record_void(self, hold: ModelHold) -> None:
        hold.status = HoldStatus.VOIDED
        self.accounts[hold.debit].pending -= hold.amount

    def expire_holds(self, now: datetime) -> list[ModelHold]:
        """What the worker's expiry does: every pending hold past its ``expires_at``."""
        expired = []
        for hold in self.holds.values():
            if hold.status is HoldStatus.PENDING and hold.expires_at <= now:
                hold.status = HoldStatus.EXPIRED
                self.accounts[hold.debit].pending -= hold.amount
                expired.append(hold)
        return expired
