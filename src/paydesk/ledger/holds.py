"""Holds (two-phase transfers): reserve now, post (in full or in part) or void later.

Creating a hold checks the same rules as a journal of its two legs and reserves the amount
on the debit account (``pending_debit``), so the available balance drops at once while the
posted balance does not move. Posting it writes one journal for the amount posted and
releases the whole reservation; voiding or expiry releases it without a journal. A pending
hold past ``expires_at`` is expired by the job ``ledger.expire_hold``, enqueued with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.jobs.service import enqueue
from paydesk.ledger import repository as repo
from paydesk.ledger.domain import (
    KEY_LENGTH_MAX,
    MEMO_LENGTH_MAX,
    Leg,
    check_accounts,
    check_shape,
    check_text,
    content_hash,
)
from paydesk.ledger.errors import (
    ExceedsFloor,
    HoldNotFound,
    HoldNotPending,
    InvalidHold,
    JournalKeyReused,
)
from paydesk.ledger.models import Hold, HoldStatus
from paydesk.ledger.posting import Posted, post_journal

HOLD_TTL_MAX = timedelta(days=90)
EXPIRE_JOB = "ledger.expire_hold"


def create_hold(
    session: Session,
    *,
    merchant_id: str,
    idempotency_key: str,
    debit_account_id: str,
    credit_account_id: str,
    amount: int,
    currency: str,
    expires_at: datetime,
    memo: str = "",
) -> tuple[Hold, bool]:
    """Reserve ``amount`` on the debit account; returns the hold and whether it is a replay."""
    check_text(idempotency_key, KEY_LENGTH_MAX, "idempotency_key", required=True)
    check_text(memo, MEMO_LENGTH_MAX, "memo", required=False)
    legs = [
        Leg(debit_account_id, -amount, currency),
        Leg(credit_account_id, amount, currency),
    ]
    check_shape(legs)
    if amount <= 0:
        raise InvalidHold("a hold's amount is more than zero", param="amount")
    request_hash = content_hash("hold", legs, memo, {"expires_at": expires_at.isoformat()})
    existing = repo.hold_by_key(session, merchant_id, idempotency_key)
    if existing is not None:  # a replay answers as the first time, even after expiry
        return _replayed_hold(existing, request_hash), True
    now = clock.now()
    if not now < expires_at <= now + HOLD_TTL_MAX:
        raise InvalidHold("expires_at must be in the future, at most 90 days away")
    hold_id = new_id("hld")
    values = {
        "id": hold_id,
        "merchant_id": merchant_id,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "debit_account_id": debit_account_id,
        "credit_account_id": credit_account_id,
        "amount": amount,
        "amount_posted": 0,
        "currency": currency,
        "status": HoldStatus.PENDING.value,
        "memo": memo,
        "expires_at": expires_at,
        "journal_id": None,
        "created_at": now,
        "updated_at": now,
    }
    if not repo.insert_hold(session, values):  # a concurrent request with this key won
        raced = repo.hold_by_key(session, merchant_id, idempotency_key)
        if raced is None:
            raise JournalKeyReused("a concurrent hold with this key did not finish; retry")
        return _replayed_hold(raced, request_hash), True

    rules = repo.account_rules(session, [debit_account_id, credit_account_id])
    check_accounts(legs, rules, merchant_id)
    debit = rules[debit_account_id]
    if debit.slots > 1 and debit.floor is not None:
        slots = repo.locked_slots(session, debit.id)
        available = sum(b for _, b, _ in slots) - sum(p for _, _, p in slots)
        if available - amount < debit.floor:
            raise ExceedsFloor(f"account {debit.id} does not have enough available balance")
        reserved = repo.change_pending(session, debit.id, amount, floor=None)
    else:
        floor = debit.floor if debit.slots == 1 else None
        reserved = repo.change_pending(session, debit.id, amount, floor=floor)
    if not reserved:
        raise ExceedsFloor(f"account {debit.id} does not have enough available balance")
    enqueue(
        session,
        EXPIRE_JOB,
        {"hold_id": hold_id},
        merchant_id=merchant_id,
        run_at=expires_at,
        dedupe_key=f"hold-expiry:{hold_id}",
    )
    hold = repo.hold(session, merchant_id, hold_id, lock=False)
    assert hold is not None
    return hold, False


def _replayed_hold(existing: Hold, request_hash: str) -> Hold:
    if existing.request_hash != request_hash:
        raise JournalKeyReused(
            "this idempotency key was used for a different hold", param="idempotency_key"
        )
    return existing


def get_hold(
    session: Session, merchant_id: str | None, hold_id: str, *, lock: bool = False
) -> Hold:
    hold = repo.hold(session, merchant_id, hold_id, lock=lock)
    if hold is None:
        raise HoldNotFound(f"no hold {hold_id}", param="hold_id")
    return hold


def post_hold(
    session: Session, *, merchant_id: str, hold_id: str, amount: int | None = None
) -> Posted:
    """Move ``amount`` (default: all of it, at most the hold's amount) from the debit to the
    credit account, and release the rest of the reservation. Posting twice returns the first
    posting's journal."""
    hold = get_hold(session, merchant_id, hold_id, lock=True)
    if hold.status == HoldStatus.POSTED and amount in (None, hold.amount_posted):
        existing = repo.journal(session, merchant_id, hold.journal_id or "")
        assert existing is not None
        return Posted(existing, list(repo.journal_entries(session, existing.id)), True)
    if hold.status != HoldStatus.PENDING:
        raise HoldNotPending(f"hold {hold.id} is {hold.status}")
    if clock.now() >= hold.expires_at:
        raise HoldNotPending(f"hold {hold.id} has expired")
    amount = hold.amount if amount is None else amount
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= hold.amount:
        raise InvalidHold(
            f"the amount posted is more than zero and at most {hold.amount}", param="amount"
        )
    posted = post_journal(
        session,
        merchant_id=merchant_id,
        idempotency_key=f"hold:{hold.id}:post",
        legs=[
            Leg(hold.debit_account_id, -amount, hold.currency),
            Leg(hold.credit_account_id, amount, hold.currency),
        ],
        kind="hold_post",
        memo=hold.memo,
        hold_id=hold.id,
        reserved={hold.debit_account_id: hold.amount},
    )
    now = clock.now()
    repo.finish_hold(
        session,
        hold.id,
        status=HoldStatus.POSTED.value,
        amount_posted=amount,
        journal_id=posted.journal.id,
        now=now,
    )
    session.refresh(hold)
    return posted


def void_hold(
    session: Session,
    *,
    merchant_id: str | None,
    hold_id: str,
    status: HoldStatus = HoldStatus.VOIDED,
) -> Hold:
    """Release a pending hold's reservation (voided by request, or expired)."""
    hold = get_hold(session, merchant_id, hold_id, lock=True)
    if hold.status == status:
        return hold
    if hold.status != HoldStatus.PENDING:
        raise HoldNotPending(f"hold {hold.id} is {hold.status}")
    repo.change_pending(session, hold.debit_account_id, -hold.amount, floor=None)
    repo.finish_hold(
        session, hold.id, status=status.value, amount_posted=0, journal_id=None, now=clock.now()
    )
    session.refresh(hold)
    return hold
