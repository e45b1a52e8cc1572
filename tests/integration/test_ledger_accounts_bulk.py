"""Opening many new accounts at once: the same accounts ``ensure_account`` opens, usable by
``post_journal`` at once, and bad input refused before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from paydesk.core.errors import InvalidRequest
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger import accounts as ledger_accounts
from paydesk.ledger.accounts import AccountSpec, ensure_account, open_accounts
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor
from paydesk.ledger.models import FloorRule, LedgerAccount, LedgerBalance
from paydesk.ledger.posting import post_journal
from paydesk.merchants import service as merchants
from paydesk.merchants.models import MerchantKind


@pytest.fixture
def merchant_id(db: Database) -> str:
    with unit_of_work(db) as session:
        return merchants.create_merchant(
            session, name="Bulk", kind=MerchantKind.MERCHANT, parent_id=None, actor="test"
        ).id


def _card(merchant_id: str, card_id: str, **fields: Any) -> AccountSpec:
    values = {"owner_type": "card", "owner_id": card_id, "kind": "prepaid", "currency": "CNY"}
    return AccountSpec(merchant_id, **(values | fields))


def _count(db: Database, table: type[LedgerAccount] | type[LedgerBalance]) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_three_accounts_open_at_zero_and_take_postings(db: Database, merchant_id: str) -> None:
    specs = [_card(merchant_id, f"card-{n}") for n in range(3)]
    with unit_of_work(db) as session:
        opened = open_accounts(session, specs)
        clearing = ensure_account(
            session,
            AccountSpec(merchant_id, "merchant", merchant_id, "clearing", "CNY"),
            floor_rule=FloorRule.UNBOUNDED,
        ).id
    assert len(set(opened)) == 3
    with unit_of_work(db, read_only=True) as session:
        for spec, account_id in zip(specs, opened, strict=True):
            found = ledger_accounts.balance(session, merchant_id, account_id)
            assert (found.balance, found.pending_debit, found.currency) == (0, 0, "CNY")
            # The very account ensure_account finds for the spec, with its default rules.
            account = ensure_account(session, spec)
            assert account.id == account_id
            assert (account.floor_rule, account.status, account.slots) == (
                "non_negative",
                "active",
                1,
            )
            assert (account.overdraft_limit, account.parent_id) == (0, None)

    with unit_of_work(db) as session:
        post_journal(
            session,
            merchant_id=merchant_id,
            idempotency_key="load",
            legs=[Leg(clearing, -600, "CNY")] + [Leg(a, 200, "CNY") for a in opened],
            kind="test",
        )
    with pytest.raises(ExceedsFloor), unit_of_work(db) as session:
        post_journal(
            session,
            merchant_id=merchant_id,
            idempotency_key="too-much",
            legs=[Leg(opened[0], -201, "CNY"), Leg(clearing, 201, "CNY")],
            kind="test",
        )
    with unit_of_work(db, read_only=True) as session:
        held = [ledger_accounts.balance(session, merchant_id, a).balance for a in opened]
    assert held == [200, 200, 200]


def test_rules_apply_to_every_account_opened(db: Database, merchant_id: str) -> None:
    with unit_of_work(db) as session:
        opened = open_accounts(
            session,
            [_card(merchant_id, "hot-1"), _card(merchant_id, "hot-2")],
            floor_rule=FloorRule.UNBOUNDED,
            slots=4,
        )
        post_journal(
            session,
            merchant_id=merchant_id,
            idempotency_key="negative",
            legs=[Leg(opened[0], -50, "CNY"), Leg(opened[1], 50, "CNY")],
            kind="test",
        )
    assert _count(db, LedgerBalance) == 8
    with unit_of_work(db, read_only=True) as session:
        held = [ledger_accounts.balance(session, merchant_id, a).balance for a in opened]
    assert held == [-50, 50]


def test_nothing_to_open_writes_nothing(db: Database, merchant_id: str) -> None:
    with unit_of_work(db) as session:
        assert open_accounts(session, []) == []
    assert _count(db, LedgerAccount) == 0


@pytest.mark.parametrize(
    ("fields", "rules"),
    [
        ({"owner_id": ""}, {}),
        ({"kind": "k" * 129}, {}),
        ({"currency": ""}, {}),
        ({}, {"slots": 0}),
        ({}, {"slots": ledger_accounts.SLOTS_MAX + 1}),
        ({"owner_id": "card-0"}, {}),  # the same spec twice
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    db: Database, merchant_id: str, fields: dict[str, str], rules: dict[str, Any]
) -> None:
    specs = [_card(merchant_id, "card-0"), _card(merchant_id, "card-1", **fields)]
    with unit_of_work(db) as session:
        with pytest.raises(InvalidRequest) as info:
            open_accounts(session, specs, **rules)
        # Refused before writing: not even this transaction sees a row.
        written = [
            session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (LedgerAccount, LedgerBalance)
        ]
    assert info.value.code == "invalid_request"
    assert written == [0, 0]
