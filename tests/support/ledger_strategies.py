"""How the ledger state machine (``tests/integration/test_ledger_stateful.py``) draws its
operations.

Holds the Hypothesis draws over a :class:`~tests.support.ledger_model.LedgerModel`: debit
amounts up to (or just over) an account's floor, balanced and affordable legs, the flaws
that break a journal or a hold in one way each, the changed contents of replayed keys, the
hold to act on, and ids of journals and holds this merchant does not own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from hypothesis import strategies as st

from paydesk.core.money import AMOUNT_MINOR_MAX
from paydesk.db.engine import Database
from paydesk.db.uow import unit_of_work
from paydesk.ledger.domain import LEGS_MAX, Leg
from paydesk.ledger.holds import HOLD_TTL_MAX
from paydesk.ledger.models import Hold, HoldStatus, Journal
from tests.support.ledger_model import (
    AMOUNT_MAX,
    CURRENCIES,
    OTHER_CURRENCY,
    Content,
    LedgerModel,
    ModelAccount,
    ModelHold,
    room,
)

# --- rule arguments ----------------------------------------------------------------------------

JOURNAL_FLAWS: st.SearchStrategy[str | None] = st.sampled_from(
    [
        *[None] * 8,
        "zero",
        "unbalanced",
        "duplicate",
        "currency",
        "single",
        "too_big",
        "unknown_account",
        "other_merchant",
        "too_many",
    ]
)
"""Mostly none; else the one way :func:`apply_journal_flaw` breaks a journal."""

HOLD_FLAWS: st.SearchStrategy[str | None] = st.sampled_from(
    [
        *[None] * 7,
        "zero",
        "negative",
        "past",
        "now",
        "too_far",
        "currency",
        "same_account",
    ]
)
"""Mostly none; else the one way :func:`apply_hold_flaw` breaks a hold."""


# --- amounts and legs --------------------------------------------------------------------------


def draw_debit(data: st.DataObject, account: ModelAccount) -> int:
    """An amount to debit: mostly within the account's room, sometimes all of it (down to
    the floor), sometimes one more."""
    most = min(room(account), AMOUNT_MAX)
    how = data.draw(st.sampled_from(["within", "within", "within", "all", "over"]))
    if how == "within":
        return data.draw(st.integers(1, most))
    return most if how == "all" else most + 1


def draw_amounts(data: st.DataObject, count: int) -> list[int]:
    """``count`` non-zero amounts summing to zero (now and then the largest allowed)."""
    magnitude = st.integers(1, AMOUNT_MAX + 10).map(
        lambda n: n if n <= AMOUNT_MAX else AMOUNT_MINOR_MAX
    )
    leg_amount = st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    amounts = data.draw(st.lists(leg_amount, min_size=count - 1, max_size=count - 1))
    if sum(amounts) == 0:
        amounts[0] += -1 if amounts[0] == -1 else 1
    return [*amounts, -sum(amounts)]


def draw_affordable_legs(data: st.DataObject, model: LedgerModel) -> list[Leg]:
    """A transfer whose debits the accounts can mostly afford (unless frozen or closed):
    one or two debits up to each account's room (now and then one more, right over the
    floor), credited to one or two other accounts."""
    currency = data.draw(st.sampled_from(CURRENCIES))
    candidates = model.of_currency(currency)
    funded = [a for a in candidates if room(a) > 0]
    debits = data.draw(
        st.lists(st.sampled_from(funded), min_size=1, max_size=2, unique_by=lambda a: a.id)
    )
    others = [a for a in candidates if all(a is not d for d in debits)]
    credits = data.draw(
        st.lists(st.sampled_from(others), min_size=1, max_size=2, unique_by=lambda a: a.id)
    )
    legs = [Leg(a.id, -draw_debit(data, a), currency) for a in debits]
    total = -sum(leg.amount for leg in legs)
    if len(credits) == 2 and total >= 2:
        first = data.draw(st.integers(1, total - 1))
        legs.append(Leg(credits[0].id, first, currency))
        legs.append(Leg(credits[1].id, total - first, currency))
    else:
        legs.append(Leg(credits[0].id, total, currency))
    return data.draw(st.permutations(legs))


def draw_legs(data: st.DataObject, model: LedgerModel) -> list[Leg]:
    """Mostly affordable legs; otherwise balanced legs of random accounts, of one currency or
    two legs in each."""
    if data.draw(st.integers(0, 2)) > 0:
        return draw_affordable_legs(data, model)
    if data.draw(st.integers(0, 4)) == 0:  # both currencies, two legs each
        legs: list[Leg] = []
        for currency in CURRENCIES:
            chosen = data.draw(
                st.lists(
                    st.sampled_from(model.of_currency(currency)),
                    min_size=2,
                    max_size=2,
                    unique_by=lambda a: a.id,
                )
            )
            amounts = draw_amounts(data, 2)
            legs += [Leg(a.id, x, currency) for a, x in zip(chosen, amounts, strict=True)]
        return data.draw(st.permutations(legs))
    currency = data.draw(st.sampled_from(CURRENCIES))
    chosen = data.draw(
        st.lists(
            st.sampled_from(model.of_currency(currency)),
            min_size=2,
            max_size=4,
            unique_by=lambda a: a.id,
        )
    )
    amounts = draw_amounts(data, len(chosen))
    return [Leg(a.id, x, currency) for a, x in zip(chosen, amounts, strict=True)]


# --- flaws and changes -------------------------------------------------------------------------


def apply_journal_flaw(
    data: st.DataObject, legs: list[Leg], flaw: str | None, outsider_account_id: str
) -> list[Leg]:
    """Break the legs in the one way ``flaw`` names (at a drawn leg), or leave them whole."""
    index = data.draw(st.integers(0, len(legs) - 1))
    leg = legs[index]
    if flaw == "zero":
        legs[index] = replace(leg, amount=0)
    elif flaw == "unbalanced":
        delta = data.draw(st.sampled_from([1, -1, 7]))
        amount = leg.amount + delta
        legs[index] = replace(leg, amount=amount if amount else amount + delta)
    elif flaw == "duplicate":
        legs[max(index, 1)] = replace(legs[max(index, 1)], account_id=legs[0].account_id)
    elif flaw == "currency":
        legs = [replace(leg, currency=OTHER_CURRENCY[leg.currency]) for leg in legs]
    elif flaw == "single":
        legs = [leg]
    elif flaw == "too_big":
        legs[index] = replace(leg, amount=AMOUNT_MINOR_MAX + 1)
    elif flaw == "unknown_account":
        legs[index] = replace(leg, account_id="acc_does_not_exist")
    elif flaw == "other_merchant":
        legs[index] = replace(leg, account_id=outsider_account_id)
    elif flaw == "too_many":
        legs = legs * (LEGS_MAX // len(legs) + 1)
    return legs


def changed_content(content: Content, change: str) -> Content:
    """The content of a journal, changed as ``change`` names, for replaying its key."""
    legs = content.legs
    if change == "memo":
        return replace(content, memo=content.memo + " changed")
    if change == "meta":
        return replace(content, meta={**content.meta, "changed": True})
    if change == "kind":
        return replace(content, kind=content.kind + "_changed")
    if change == "order":
        return replace(content, legs=(*legs[1:], legs[0]))
    if change == "scale":
        return replace(content, legs=tuple(replace(g, amount=g.amount * 2) for g in legs))
    first = legs[0]
    bigger = first.amount + (1 if first.amount > 0 else -1)
    return replace(content, legs=(replace(first, amount=bigger), *legs[1:]))


def apply_hold_flaw(hold: ModelHold, flaw: str | None, ttl_s: int, now: datetime) -> ModelHold:
    """The hold broken in the one way ``flaw`` names, or the hold itself."""
    if flaw == "zero":
        return replace(hold, amount=0)
    if flaw == "negative":
        return replace(hold, amount=-hold.amount)
    if flaw == "past":
        return replace(hold, expires_at=now - timedelta(seconds=ttl_s))
    if flaw == "now":
        return replace(hold, expires_at=now)
    if flaw == "too_far":
        return replace(hold, expires_at=now + HOLD_TTL_MAX + timedelta(seconds=ttl_s))
    if flaw == "currency":
        return replace(hold, currency=OTHER_CURRENCY[hold.currency])
    if flaw == "same_account":
        return replace(hold, credit=hold.debit)
    return hold


def changed_hold(original: ModelHold, change: str | None) -> ModelHold:
    """A copy of the hold, changed as ``change`` names (not at all when None)."""
    hold = replace(original)
    if change == "amount":
        hold.amount += 1
    elif change == "expires_at":
        hold.expires_at += timedelta(seconds=1)
    elif change == "memo":
        hold.memo = "changed"
    return hold


# --- holds -------------------------------------------------------------------------------------


def draw_hold_accounts(
    data: st.DataObject, model: LedgerModel, amount: int
) -> tuple[ModelAccount, ModelAccount, int]:
    """The debit and credit accounts of a new hold, of one currency, and its amount: mostly
    a debit account with a floor, and an amount it can afford (now and then one more);
    otherwise any account, and ``amount``."""
    currency = data.draw(st.sampled_from(CURRENCIES))
    candidates = model.of_currency(currency)
    funded = [a for a in candidates if not a.is_clearing and room(a) > 0]
    if funded and data.draw(st.integers(0, 3)) > 0:  # mostly a floor the debit can afford
        debit = data.draw(st.sampled_from(funded))
        amount = draw_debit(data, debit)
    else:
        debit = data.draw(st.sampled_from(candidates))
    credit = data.draw(st.sampled_from([a for a in candidates if a is not debit]))
    return debit, credit, amount


def draw_post_amount(data: st.DataObject, hold: ModelHold, how: str) -> int | None:
    """The amount to post of a hold (None: the default, the whole hold)."""
    return {
        "full": hold.amount,
        "default": None,
        "partial": data.draw(st.integers(1, hold.amount)),
        "zero": 0,
        "over": hold.amount + 1,
    }[how]  # fmt: skip


# --- what to act on ----------------------------------------------------------------------------


def draw_hold(data: st.DataObject, model: LedgerModel) -> ModelHold:
    """Mostly a pending hold, when there is one."""
    holds = model.holds_by_key()
    pending = [h for h in holds if h.status is HoldStatus.PENDING]
    if pending and data.draw(st.integers(0, 3)) > 0:
        holds = pending
    return data.draw(st.sampled_from(holds))


def draw_unknown_journal_id(data: st.DataObject, db: Database, merchant_id: str) -> str:
    """No such journal, or one of another merchant (an earlier run's)."""
    journal_id = "jnl_does_not_exist"
    if data.draw(st.booleans()):
        with unit_of_work(db, read_only=True) as session:
            other = session.scalar(
                sa.select(Journal.id).where(Journal.merchant_id != merchant_id).limit(1)
            )
        journal_id = other or journal_id
    return journal_id


def draw_unknown_hold_id(data: st.DataObject, db: Database, merchant_id: str) -> str:
    """No such hold, or one of another merchant (an earlier run's)."""
    if data.draw(st.booleans()):
        return "hld_does_not_exist"
    with unit_of_work(db, read_only=True) as session:
        other = session.scalar(sa.select(Hold.id).where(Hold.merchant_id != merchant_id).limit(1))
    return other or "hld_none"
