"""How the ledger state machine (``tests/integration/test_ledger_stateful.py``) runs an
operation and checks its outcome.

Holds :class:`Harness` (what the runs of one test share: the database, the movable clock,
the job worker, an account of another merchant, counts of the outcomes reached) and
:class:`LedgerMachineBase`, the rule-less base of the state machine: it opens each run's
merchant and accounts, runs one operation per unit of work and checks it fails with the
predicted code while changing nothing, succeeds, or replays a journal without changing
anything. The rules, invariants and teardown live in the test module.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from hypothesis.stateful import RuleBasedStateMachine
from sqlalchemy.orm import Session

from paydesk.core.errors import PaydeskError
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.jobs.worker import Worker
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.posting import Posted
from tests.support.jobs import MovableClock, insert_merchant
from tests.support.ledger_invariants import snapshot as ledger_snapshot
from tests.support.ledger_model import (
    PLANS,
    Content,
    Expected,
    LedgerModel,
    ModelAccount,
    ModelJournal,
)

T = TypeVar("T")


@dataclass
class Harness:
    db: Database
    clock: MovableClock
    worker: Worker
    outsider_account_id: str
    """A CNY account of another merchant: ``account_not_found`` for this one."""
    runs: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class LedgerMachineBase(RuleBasedStateMachine):
    """One run: a fresh merchant with the accounts of :data:`PLANS`, and its model."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.h = harness
        self.db = harness.db
        harness.runs += 1
        self.merchant_id = insert_merchant(self.db, f"Stateful {harness.runs}")
        self.model = LedgerModel()
        with unit_of_work(self.db) as session:
            for plan in PLANS:
                account = ensure_account(
                    session,
                    AccountSpec(self.merchant_id, "user", plan.name, "cash", plan.currency),
                    floor_rule=plan.floor_rule,
                    overdraft_limit=plan.overdraft_limit,
                    slots=plan.slots,
                )
                self.model.accounts[account.id] = ModelAccount(account.id, plan)
        self._keys = itertools.count(1)
        self.time_marks: list[datetime] = [harness.clock()]
        """Clock values before each move of the clock, to read balances as of the past."""

    def new_key(self, prefix: str = "j") -> str:
        return f"{prefix}{next(self._keys)}"

    def now(self) -> datetime:
        return self.h.clock()

    def snapshot(self) -> tuple[Any, ...]:
        """Everything of this merchant's ledger an operation could change."""
        return ledger_snapshot(self.db, self.merchant_id)

    def attempt(self, expected: str | None, op: Callable[[Session], T], label: str) -> T | None:
        """Run ``op`` in one unit of work; check it fails with ``expected`` (changing nothing)
        or succeeds when ``expected`` is None."""
        before = self.snapshot() if expected is not None else None
        try:
            with unit_of_work(self.db) as session:
                result = op(session)
        except PaydeskError as exc:
            self.h.outcomes[f"{label}:{exc.code}"] += 1
            assert exc.code == expected, (
                f"{label}: expected {expected or 'success'}, got {exc.code} ({exc.message})"
            )
            assert self.snapshot() == before, f"{label}: a failed {exc.code} changed the database"
            return None
        self.h.outcomes[f"{label}:ok"] += 1
        assert expected is None, f"{label}: expected {expected}, but it succeeded"
        return result

    def unchanged(self, op: Callable[[], None]) -> None:
        before = self.snapshot()
        op()
        assert self.snapshot() == before, "a replay or no-op changed the database"

    def submit_posting(
        self, expected: Expected, op: Callable[[Session], Posted], label: str
    ) -> Posted | None:
        """Run an operation that posts a journal: a predicted replay must change nothing and
        answer with the journal it replays (None is returned); otherwise ``attempt``."""
        if expected.replay is not None:
            replayed = expected.replay
            self.unchanged(lambda: self.check_replay(self.attempt(None, op, label), replayed))
            return None
        return self.attempt(expected.code, op, label)

    def record_journal(self, posted: Posted, key: str, content: Content) -> ModelJournal:
        """Check a journal just posted has the key and legs asked for; add it to the model."""
        assert not posted.replayed
        journal = posted.journal
        assert journal.idempotency_key == key
        assert journal.id not in self.model.journals
        assert [(e.account_id, e.amount, e.currency) for e in posted.entries] == [
            (leg.account_id, leg.amount, leg.currency) for leg in content.legs
        ]
        return self.model.record_journal(journal.id, key, content, journal.reverses_id, self.now())

    def check_replay(self, posted: Posted | None, journal: ModelJournal) -> None:
        assert posted is not None
        assert posted.replayed, "a replay must say so"
        assert posted.journal.id == journal.id
        assert [(e.account_id, e.amount, e.currency) for e in posted.entries] == [
            (leg.account_id, leg.amount, leg.currency) for leg in journal.content.legs
        ]
