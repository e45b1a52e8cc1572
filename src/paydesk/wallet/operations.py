"""Wallet operations, each one balanced journal (or one hold) through the ledger.

Every operation carries the merchant's own ``reference`` (an order number, a Midas
``bill_no``): repeating it with the same request returns the first result and moves nothing;
repeating it with a different request fails with ``journal_key_reused``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.errors import InvalidRequest
from paydesk.core.money import check_amount
from paydesk.fees.events import charge_payout
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.accounts import set_status
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor, JournalKeyReused
from paydesk.ledger.holds import create_hold, post_hold, void_hold
from paydesk.ledger.models import AccountStatus, Hold, Journal, LedgerAccount
from paydesk.ledger.posting import Posted, post_journal, reverse_journal
from paydesk.wallet.accounts import (
    Counterpart,
    CurrencyKind,
    Part,
    WalletCurrency,
    WalletRef,
    check_ref,
    existing_user_account,
    existing_user_account_id,
    merchant_account,
    merchant_account_id,
    resolve_currency,
    user_account,
)
from paydesk.wallet.errors import OperationNotSupported, WalletNotFound
from paydesk.wallet.lots import add_lot, spend_lots
from paydesk.wallet.models import SpendOrder
from paydesk.wallet.settings import get_settings

REFERENCE_LENGTH_MAX = 128
WITHDRAWAL_TTL_DEFAULT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Outcome:
    journal: Journal
    replayed: bool
    parts: dict[str, int] = field(default_factory=dict)
    """How much each part moved (``paid``/``gifted`` for coins; ``cash``/``points`` else)."""


def _key(operation: str, reference: str) -> str:
    if not 1 <= len(reference) <= REFERENCE_LENGTH_MAX or not reference.isprintable():
        raise InvalidRequest(
            f"reference is 1 to {REFERENCE_LENGTH_MAX} printable characters", param="reference"
        )
    return f"wallet.{operation}:{reference}"


def _fingerprint(operation: str, ref: WalletRef, currency: str, amount: int, **extra: Any) -> str:
    body = {
        "op": operation,
        "ref": [ref.app_id, ref.user_id, ref.zone],
        "currency": currency,
        "amount": amount,
        **extra,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replayed(session: Session, merchant_id: str, key: str, fingerprint: str) -> Outcome | None:
    existing = ledger_repo.journal_by_key(session, merchant_id, key)
    if existing is None:
        return None
    if existing.meta.get("request") != fingerprint:
        raise JournalKeyReused(
            "this reference was used for a different operation", param="reference"
        )
    return Outcome(existing, True, dict(existing.meta.get("parts", {})))


def _post(
    session: Session,
    ref: WalletRef,
    key: str,
    fingerprint: str,
    kind: str,
    legs: list[Leg],
    parts: dict[str, int],
    memo: str,
) -> Outcome:
    meta = {
        "request": fingerprint,
        "app_id": ref.app_id,
        "user_id": ref.user_id,
        "zone": ref.zone,
        "parts": parts,
    }
    try:
        posted: Posted = post_journal(
            session,
            merchant_id=ref.merchant_id,
            idempotency_key=key,
            legs=legs,
            kind=kind,
            memo=memo,
            meta=meta,
        )
    except JournalKeyReused:
        # A concurrent duplicate posted first, possibly with another split: same request?
        again = _replayed(session, ref.merchant_id, key, fingerprint)
        if again is None:
            raise
        return again
    return Outcome(posted.journal, posted.replayed, parts)


def _prepare(session: Session, ref: WalletRef, code: str, amount: int) -> WalletCurrency:
    check_ref(session, ref)
    check_amount(amount)
    return resolve_currency(session, ref.app_id, code)


def recharge(
    session: Session, ref: WalletRef, code: str, amount: int, reference: str, memo: str = ""
) -> Outcome:
    """Credit money or paid coins to the user (from the merchant's funding account)."""
    currency = _prepare(session, ref, code, amount)
    if currency.kind is CurrencyKind.POINTS:
        raise OperationNotSupported("points are earned with present, not recharged")
    key, fingerprint = _key("recharge", reference), _fingerprint("recharge", ref, code, amount)
    if (done := _replayed(session, ref.merchant_id, key, fingerprint)) is not None:
        return done
    part = Part.CASH if currency.kind is CurrencyKind.MONEY else Part.PAID
    user = user_account(session, ref, part, currency)
    source = merchant_account(session, ref.merchant_id, ref.app_id, Counterpart.FUNDING, code)
    legs = [Leg(source.id, -amount, code), Leg(user.id, amount, code)]
    return _post(
        session, ref, key, fingerprint, "wallet.recharge", legs, {_label(part): amount}, memo
    )


def present(
    session: Session, ref: WalletRef, code: str, amount: int, reference: str, memo: str = ""
) -> Outcome:
    """Give the user value from the merchant's promotion account: gifted coins, points, or
    money. Gifted coins and points expire if the app's settings say so."""
    currency = _prepare(session, ref, code, amount)
    key, fingerprint = _key("present", reference), _fingerprint("present", ref, code, amount)
    if (done := _replayed(session, ref.merchant_id, key, fingerprint)) is not None:
        return done
    part = {
        CurrencyKind.MONEY: Part.CASH,
        CurrencyKind.COINS: Part.GIFTED,
        CurrencyKind.POINTS: Part.POINTS,
    }[currency.kind]
    user = user_account(session, ref, part, currency)
    source = merchant_account(session, ref.merchant_id, ref.app_id, Counterpart.PROMOTION, code)
    legs = [Leg(source.id, -amount, code), Leg(user.id, amount, code)]
    outcome = _post(
        session, ref, key, fingerprint, "wallet.present", legs, {_label(part): amount}, memo
    )
    settings = get_settings(session, ref.merchant_id, ref.app_id)
    ttl = settings.gifted_ttl_days if part is Part.GIFTED else settings.points_ttl_days
    if ttl is not None and part is not Part.CASH and not outcome.replayed:
        add_lot(session, user, outcome.journal.id, amount, ttl)
    return outcome


def consume(
    session: Session, ref: WalletRef, code: str, amount: int, reference: str, memo: str = ""
) -> Outcome:
    """Spend from the user's wallet to the merchant's revenue. Coins use the gifted and the
    paid part in the app's spend order (gifted first by default)."""
    currency = _prepare(session, ref, code, amount)
    key, fingerprint = _key("consume", reference), _fingerprint("consume", ref, code, amount)
    if currency.kind is not CurrencyKind.COINS:
        # One account pays: the same request makes the same legs, so the journal's own key
        # check (before any balance moves) answers a replay; no read first.
        part = currency.parts[0]
        user_id = existing_user_account_id(session, ref, part, currency)
        revenue_id = merchant_account_id(
            session, ref.merchant_id, ref.app_id, Counterpart.REVENUE, code
        )
        legs = [Leg(user_id, -amount, code), Leg(revenue_id, amount, code)]
        outcome = _post(
            session, ref, key, fingerprint, "wallet.consume", legs, {_label(part): amount}, memo
        )
        if part is Part.POINTS and not outcome.replayed:
            spend_lots(session, user_id, amount)
        return outcome

    # Coins: the split depends on the balances now, so a replay is found before reading them.
    if (done := _replayed(session, ref.merchant_id, key, fingerprint)) is not None:
        return done
    try:
        paid = existing_user_account(session, ref, Part.PAID, currency)
    except WalletNotFound:
        paid = None
    gifted = (
        existing_user_account(session, ref, Part.GIFTED, currency)
        if paid is None
        else user_account(session, ref, Part.GIFTED, currency)
    )
    if paid is None:
        paid = user_account(session, ref, Part.PAID, currency)
    available = {}
    for account in sorted((paid, gifted), key=lambda a: a.id):  # lock in the ledger's order
        slots = ledger_repo.locked_slots(session, account.id)
        available[account.id] = sum(b for _, b, _ in slots) - sum(p for _, _, p in slots)
    if available[paid.id] + available[gifted.id] < amount:
        raise ExceedsFloor("the wallet's balance is too low", param="amount")
    order = get_settings(session, ref.merchant_id, ref.app_id).spend_order
    first, second = (gifted, paid) if order is SpendOrder.GIFTED_FIRST else (paid, gifted)
    from_first = min(amount, max(available[first.id], 0))
    taken = {first.id: from_first, second.id: amount - from_first}
    used_paid, used_gifted = taken[paid.id], taken[gifted.id]
    legs = []
    if used_gifted:
        target = merchant_account(
            session, ref.merchant_id, ref.app_id, Counterpart.REVENUE_GIFTED, code
        )
        legs += [Leg(gifted.id, -used_gifted, code), Leg(target.id, used_gifted, code)]
    if used_paid:
        target = merchant_account(session, ref.merchant_id, ref.app_id, Counterpart.REVENUE, code)
        legs += [Leg(paid.id, -used_paid, code), Leg(target.id, used_paid, code)]
    outcome = _post(
        session,
        ref,
        key,
        fingerprint,
        "wallet.consume",
        legs,
        {"paid": used_paid, "gifted": used_gifted},
        memo,
    )
    if used_gifted and not outcome.replayed:
        spend_lots(session, gifted.id, used_gifted)
    return outcome


def cancel_consume(
    session: Session, ref: WalletRef, consume_reference: str, reference: str
) -> Outcome:
    """Undo a consumption (Midas ``cancelpay``): its exact reversal, at most once."""
    check_ref(session, ref)
    original = ledger_repo.journal_by_key(
        session, ref.merchant_id, _key("consume", consume_reference)
    )
    owner = (
        {name: original.meta.get(name) for name in ("app_id", "user_id", "zone")}
        if original
        else {}
    )
    if original is None or owner != {
        "app_id": ref.app_id,
        "user_id": ref.user_id,
        "zone": ref.zone,
    }:
        raise InvalidRequest(
            "no such consumption for this user", code="consume_not_found", param="reference"
        )
    posted = reverse_journal(
        session,
        merchant_id=ref.merchant_id,
        journal_id=original.id,
        idempotency_key=_key("cancel", reference),
    )
    return Outcome(posted.journal, posted.replayed, dict(original.meta.get("parts", {})))


def transfer(
    session: Session,
    ref: WalletRef,
    to_user_id: str,
    code: str,
    amount: int,
    reference: str,
    memo: str = "",
) -> Outcome:
    """Move money or points between two users of the same app and zone. Coins are not
    transferable: that is how currency arbitrage between accounts starts."""
    currency = _prepare(session, ref, code, amount)
    if currency.kind is CurrencyKind.COINS:
        raise OperationNotSupported("virtual coins cannot be transferred between users")
    target_ref = check_ref(session, WalletRef(ref.merchant_id, ref.app_id, to_user_id, ref.zone))
    if target_ref.user_id == ref.user_id:
        raise InvalidRequest("a transfer needs two different users", param="to_user_id")
    key = _key("transfer", reference)
    fingerprint = _fingerprint("transfer", ref, code, amount, to=to_user_id)
    if (done := _replayed(session, ref.merchant_id, key, fingerprint)) is not None:
        return done
    part = currency.parts[0]
    source = existing_user_account(session, ref, part, currency)
    target = user_account(session, target_ref, part, currency)
    legs = [Leg(source.id, -amount, code), Leg(target.id, amount, code)]
    outcome = _post(
        session, ref, key, fingerprint, "wallet.transfer", legs, {_label(part): amount}, memo
    )
    if part is Part.POINTS and not outcome.replayed:
        spend_lots(session, source.id, amount)
    return outcome


def withdraw(
    session: Session,
    ref: WalletRef,
    code: str,
    amount: int,
    reference: str,
    *,
    ttl: timedelta = WITHDRAWAL_TTL_DEFAULT,
) -> tuple[Hold, bool]:
    """Reserve money for a payout: a hold from the user's cash to the merchant's payouts,
    posted when the payout completes, voided when it fails, expired if nobody says."""
    currency = _prepare(session, ref, code, amount)
    if currency.kind is not CurrencyKind.MONEY:
        raise OperationNotSupported("only money can be withdrawn")
    user = existing_user_account(session, ref, Part.CASH, currency)
    payouts = merchant_account(session, ref.merchant_id, ref.app_id, Counterpart.PAYOUTS, code)
    return create_hold(
        session,
        merchant_id=ref.merchant_id,
        idempotency_key=_key("withdraw", reference),
        debit_account_id=user.id,
        credit_account_id=payouts.id,
        amount=amount,
        currency=code,
        expires_at=clock.now() + ttl,
        memo=f"withdrawal {reference}",
    )


def complete_withdrawal(session: Session, merchant_id: str, hold_id: str) -> Posted:
    """Post the payout, and charge its fee (docs/fees.md: a payout is a billable event)."""
    posted = post_hold(session, merchant_id=merchant_id, hold_id=hold_id)
    hold = ledger_repo.hold(session, merchant_id, hold_id, lock=False)
    assert hold is not None
    charge_payout(session, merchant_id, hold.id, hold.amount_posted, hold.currency)
    return posted


def fail_withdrawal(session: Session, merchant_id: str, hold_id: str) -> Hold:
    return void_hold(session, merchant_id=merchant_id, hold_id=hold_id)


def set_frozen(
    session: Session, ref: WalletRef, frozen: bool, code: str | None = None
) -> list[LedgerAccount]:
    """Freeze (no debits) or unfreeze the user's accounts, of one currency or all."""
    check_ref(session, ref)
    accounts = ledger_repo.accounts_of_owner(
        session, ref.merchant_id, app_id=ref.app_id, owner_type="user", owner_id=ref.user_id
    )
    chosen = [a for a in accounts if a.zone == ref.zone and (code is None or a.currency == code)]
    status = AccountStatus.FROZEN if frozen else AccountStatus.ACTIVE
    return [
        set_status(session, ref.merchant_id, account.id, status)
        for account in chosen
        if account.status != AccountStatus.CLOSED
    ]


def _label(part: Part) -> str:
    return {Part.CASH: "cash", Part.PAID: "paid", Part.GIFTED: "gifted", Part.POINTS: "points"}[
        part
    ]
