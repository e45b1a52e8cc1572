"""Platform instruments: money the platform itself holds for the payer (wallet balance,
points, prepaid cards). They complete at once, inside the pay request's transaction: either
the money moved in balanced journals and the attempt succeeded, or nothing was written.

=============  ==========================================  ================================
method         journals (wallet reference / key)           attempt ``meta``
=============  ==========================================  ================================
balance        user cash -> revenue (``order:<id>``)       ``payer``
points         user points -> revenue (``order:<id>:       ``payer``, ``points_*``
               points``)
points_cash    the points journal, then user cash ->       ``payer``, ``points_*``
               revenue for ``amount - covers``
               (``order:<id>``)
prepaid_card   card -> revenue (``prepaid.pay:order:       ``payer`` (may be None),
               <id>``)                                     ``card_id``, ``card_last4``
=============  ==========================================  ================================

:func:`refund` sends part or all of a platform payment back through the same instrument, as
one balanced journal keyed ``refund:<refund id>`` (see ``docs/payments.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.currencies import UnknownCurrency
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.core.money import AMOUNT_MINOR_MAX, CurrencyMismatch, check_amount
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import LedgerAccount
from paydesk.ledger.posting import post_journal
from paydesk.payments.methods import (
    MethodNotAvailable,
    PayInput,
    PlatformMethod,
    PointsPart,
    platform_method,
)
from paydesk.payments.models import Order, PaymentAttempt
from paydesk.payments.states import AttemptStatus, RefundTooLarge
from paydesk.wallet import operations as wallet_operations
from paydesk.wallet import prepaid
from paydesk.wallet.accounts import (
    Counterpart,
    CurrencyKind,
    Part,
    WalletCurrency,
    WalletRef,
    merchant_account,
    resolve_currency,
    user_account,
)
from paydesk.wallet.errors import CardNotFound, CardNotUsable
from paydesk.wallet.models import CardStatus, PrepaidCard
from paydesk.wallet.prepaid_issue import code_hash


class PointsRequired(InvalidRequest):
    code = "points_required"


class InvalidPointsCurrency(InvalidRequest):
    code = "invalid_points_currency"


class PointsCoverMismatch(InvalidRequest):
    code = "points_cover_mismatch"


class CardCodeRequired(InvalidRequest):
    code = "card_code_required"


class InvalidAmount(InvalidRequest):
    code = "invalid_amount"


class NotPlatformAttempt(InvalidRequest):
    code = "not_platform_attempt"


class AttemptNotRefundable(Conflict):
    code = "attempt_not_refundable"


class RefundTooSmall(InvalidRequest):
    code = "refund_too_small"


@dataclass(frozen=True, slots=True)
class PlatformPayment:
    """What a platform instrument moved."""

    journal_id: str
    """The journal that paid the order's own currency (the cash part for points + cash, the
    points journal for points alone)."""
    payer: str | None
    """The paying user; None for a prepaid card paid without a user."""


def payer_of(order: Order, user_id: str | None) -> WalletRef:
    payer = user_id or order.user_id
    if payer is None:
        raise InvalidRequest("a platform instrument needs the paying user_id", param="user_id")
    return WalletRef(order.merchant_id, _app_of(order), payer)


def _app_of(order: Order) -> str:
    if order.app_id is None:
        raise InvalidRequest(
            "a platform instrument needs an order created for an app", param="app_id"
        )
    return order.app_id


def _record(attempt: PaymentAttempt, **details: Any) -> None:
    """Add ``details`` to the attempt's meta (a new dict, so the JSON column sees the change)."""
    attempt.meta = {**(attempt.meta or {}), **details}


# --- paying -------------------------------------------------------------------------------


def pay_with_balance(session: Session, order: Order, user_id: str | None) -> PlatformPayment:
    """The user's money wallet in the order's currency pays the whole order: user cash to
    the merchant's revenue in one journal (wallet reference ``order:<order id>``)."""
    ref = payer_of(order, user_id)
    outcome = wallet_operations.consume(
        session,
        ref,
        order.currency,
        order.amount_minor,
        f"order:{order.id}",
        memo=order.subject,
    )
    return PlatformPayment(journal_id=outcome.journal.id, payer=ref.user_id)


def _positive(value: object, param: str) -> int:
    """A positive integer of minor units, else ``invalid_amount``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= AMOUNT_MINOR_MAX:
        raise InvalidAmount(
            f"{param} must be an integer of minor units from 1 to {AMOUNT_MINOR_MAX}",
            param=param,
        )
    return value


def _points_part(session: Session, order: Order, pay: PayInput) -> tuple[PointsPart, str]:
    """The checked points part and the app's points currency code."""
    points = pay.points
    if points is None:
        raise PointsRequired(f"method {pay.method} needs points", param="points")
    _positive(points.amount, "points.amount")
    _positive(points.covers, "points.covers")
    try:
        currency = resolve_currency(session, _app_of(order), points.currency)
    except UnknownCurrency:
        currency = None
    if currency is None or currency.kind is not CurrencyKind.POINTS:
        raise InvalidPointsCurrency(
            f"{points.currency!r} is not a points currency of the order's app",
            param="points.currency",
        )
    return points, currency.code


def _consume_points(
    session: Session, order: Order, attempt: PaymentAttempt, ref: WalletRef, points: PointsPart
) -> str:
    outcome = wallet_operations.consume(
        session,
        ref,
        points.currency,
        points.amount,
        f"order:{order.id}:points",
        memo=order.subject,
    )
    _record(
        attempt,
        points_currency=points.currency,
        points_amount=points.amount,
        points_covers=points.covers,
        points_journal_id=outcome.journal.id,
    )
    return outcome.journal.id


def pay_with_points(
    session: Session, order: Order, attempt: PaymentAttempt, pay: PayInput
) -> PlatformPayment:
    """The app's points pay the whole order: ``covers`` must be the order's amount."""
    points, _ = _points_part(session, order, pay)
    if points.covers != order.amount_minor:
        raise PointsCoverMismatch(
            f"points.covers must be the order's amount {order.amount_minor} with method points "
            "(points_cash pays part with points)",
            param="points.covers",
        )
    ref = payer_of(order, pay.user_id)
    journal_id = _consume_points(session, order, attempt, ref, points)
    return PlatformPayment(journal_id=journal_id, payer=ref.user_id)


def pay_with_points_cash(
    session: Session, order: Order, attempt: PaymentAttempt, pay: PayInput
) -> PlatformPayment:
    """Points cover ``covers`` (more than 0, less than the order's amount); the user's money
    wallet pays the rest. Both journals are in the caller's transaction: if the cash part
    fails (``exceeds_floor``), the error propagates, the unit of work rolls back and the
    points journal goes with it."""
    points, _ = _points_part(session, order, pay)
    if points.covers >= order.amount_minor:
        raise PointsCoverMismatch(
            f"points.covers must be less than the order's amount {order.amount_minor} with "
            "method points_cash (points pays it all)",
            param="points.covers",
        )
    ref = payer_of(order, pay.user_id)
    _consume_points(session, order, attempt, ref, points)
    cash = wallet_operations.consume(
        session,
        ref,
        order.currency,
        order.amount_minor - points.covers,
        f"order:{order.id}",
        memo=order.subject,
    )
    _record(attempt, cash_amount=order.amount_minor - points.covers)
    return PlatformPayment(journal_id=cash.journal.id, payer=ref.user_id)


def pay_with_prepaid_card(
    session: Session, order: Order, attempt: PaymentAttempt, pay: PayInput
) -> PlatformPayment:
    """A prepaid card of the order's app pays the whole order (``prepaid.pay_with_card``,
    reference ``order:<order id>``). Its currency must be the order's."""
    code = pay.card_code
    if not code:
        raise CardCodeRequired("method prepaid_card needs card_code", param="card_code")
    app_id = _app_of(order)
    card = session.scalars(
        sa.select(PrepaidCard).where(
            PrepaidCard.code_hash == code_hash(code),
            PrepaidCard.merchant_id == order.merchant_id,
            PrepaidCard.app_id == app_id,
        )
    ).first()
    if card is not None and card.currency != order.currency:
        raise CurrencyMismatch(
            f"the card holds {card.currency}, the order is in {order.currency}",
            param="card_code",
        )
    moved = prepaid.pay_with_card(
        session, order.merchant_id, app_id, code, order.amount_minor, reference=f"order:{order.id}"
    )
    paid_card = moved.state.card
    _record(attempt, card_id=paid_card.id, card_last4=paid_card.code_last4)
    return PlatformPayment(journal_id=moved.journal.id, payer=pay.user_id or order.user_id)


def pay(
    session: Session,
    order: Order,
    attempt: PaymentAttempt,
    method: PlatformMethod,
    pay: PayInput,
) -> PlatformPayment:
    """Move the order's money with the platform instrument ``method``."""
    if method is PlatformMethod.BALANCE:
        paid = pay_with_balance(session, order, pay.user_id)
    elif method is PlatformMethod.POINTS:
        paid = pay_with_points(session, order, attempt, pay)
    elif method is PlatformMethod.POINTS_CASH:
        paid = pay_with_points_cash(session, order, attempt, pay)
    elif method is PlatformMethod.PREPAID_CARD:
        paid = pay_with_prepaid_card(session, order, attempt, pay)
    else:  # pragma: no cover - every platform method is handled above
        raise MethodNotAvailable(f"method {method.value} is not available yet", param="method")
    _record(attempt, payer=paid.payer)
    return paid


# --- refunding ----------------------------------------------------------------------------


def points_share(points: int, covers: int, before: int, amount: int) -> int:
    """The points returned when ``amount`` more of the ``covers`` the points paid is refunded,
    after ``before`` already was: the cumulative floor ``floor(points * (before + amount) /
    covers) - floor(points * before / covers)``. Each refund gets its exact share rounded
    down or up (the remainder left by earlier refunds is carried to later ones), and the
    refunds of all of ``covers`` return exactly ``points``."""
    return points * (before + amount) // covers - points * before // covers


def refund(
    session: Session,
    order: Order,
    attempt: PaymentAttempt,
    refund_id: str,
    amount_minor: int,
    *,
    refunded_before_minor: int,
) -> str:
    """Return ``amount_minor`` of the order's currency to the payer through the instrument
    that paid ``attempt``, as one balanced journal keyed ``refund:<refund_id>``; returns its
    id. ``refunded_before_minor`` is what earlier refunds of this attempt already returned
    (it decides the share of points). The merchant's ``revenue`` pays: when it is too low the
    ledger's ``exceeds_floor`` propagates and the caller rolls back.

    * ``balance``: revenue -> the user's cash.
    * ``points``: the points' share goes back, revenue (points) -> the user's points
      (:func:`points_share`).
    * ``points_cash``: cash first, up to the cash part; then points as for ``points``.
    * ``prepaid_card``: revenue -> the card's account; a card spent down to ``redeemed``
      becomes ``active`` again; an ``expired`` card is refused (``card_not_usable``).

    Repeating a refund with the same input returns its journal and moves nothing.
    """
    method = _refundable(attempt, amount_minor, refunded_before_minor)
    key = f"refund:{refund_id}"
    replayed = ledger_repo.journal_by_key(session, order.merchant_id, key) is not None
    meta: dict[str, Any] = {
        "order_id": order.id,
        "attempt_id": attempt.id,
        "refund_id": refund_id,
        "method": method.value,
        "amount": amount_minor,
        "refunded_before": refunded_before_minor,
    }
    app_id = _app_of(order)
    cash_back, covers_refunded, covers_before = amount_minor, 0, 0
    if method is PlatformMethod.PREPAID_CARD:
        card = _refund_card(session, order, attempt, replayed)
        revenue = _revenue(session, order, order.currency)
        legs = _legs(revenue.id, card.account_id, amount_minor, order.currency)
        meta["card_id"] = card.id
    else:
        ref = _payer_ref(session, order, attempt)
        legs = []
        if method is not PlatformMethod.BALANCE:
            cash_part = (
                _meta_int(attempt, "cash_amount") if method is PlatformMethod.POINTS_CASH else 0
            )
            cash_back = min(amount_minor, max(cash_part - refunded_before_minor, 0))
            covers_refunded = amount_minor - cash_back
            covers_before = max(refunded_before_minor - cash_part, 0)
        if cash_back:
            cash = resolve_currency(session, app_id, order.currency)
            user = user_account(session, ref, Part.CASH, cash)
            legs += _legs(
                _revenue(session, order, order.currency).id, user.id, cash_back, cash.code
            )
        if covers_refunded:
            legs += _points_legs(session, attempt, ref, covers_before, covers_refunded, meta)
        if not legs:
            raise RefundTooSmall(
                f"refunding {amount_minor} returns no points: refund more at once",
                param="amount",
            )
        meta.update(user_id=ref.user_id, cash=cash_back)
    posted = post_journal(
        session,
        merchant_id=order.merchant_id,
        idempotency_key=key,
        legs=legs,
        kind=f"refund.{method.value}",
        memo=f"refund {refund_id} of order {order.id}",
        meta=meta,
    )
    return posted.journal.id


def _refundable(attempt: PaymentAttempt, amount_minor: int, before: int) -> PlatformMethod:
    method = platform_method(attempt.method)
    if method is None:
        raise NotPlatformAttempt(
            f"attempt {attempt.id} was paid through {attempt.channel}: refund it there",
            param="attempt_id",
        )
    if attempt.status != AttemptStatus.SUCCEEDED:
        raise AttemptNotRefundable(f"attempt {attempt.id} is {attempt.status}, not succeeded")
    check_amount(amount_minor)
    if isinstance(before, bool) or not isinstance(before, int) or before < 0:
        raise InvalidAmount(
            "refunded_before_minor must be zero or more", param="refunded_before_minor"
        )
    if before + amount_minor > attempt.amount_minor:
        raise RefundTooLarge(
            f"{amount_minor} more than the {attempt.amount_minor - before} left to refund",
            param="amount",
        )
    return method


def _revenue(session: Session, order: Order, currency: str) -> LedgerAccount:
    return merchant_account(
        session, order.merchant_id, _app_of(order), Counterpart.REVENUE, currency
    )


def _legs(source_id: str, target_id: str, amount: int, currency: str) -> list[Leg]:
    return [Leg(source_id, -amount, currency), Leg(target_id, amount, currency)]


def _meta_int(attempt: PaymentAttempt, name: str) -> int:
    value = (attempt.meta or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AttemptNotRefundable(f"attempt {attempt.id} does not record its {name}")
    return value


def _payer_ref(session: Session, order: Order, attempt: PaymentAttempt) -> WalletRef:
    """Who paid: the attempt's recorded payer, else the user of its journal (attempts paid
    before ``meta`` recorded the payer), else the order's user."""
    payer = (attempt.meta or {}).get("payer")
    if not payer and attempt.journal_id is not None:
        journal = ledger_repo.journal(session, order.merchant_id, attempt.journal_id)
        payer = journal.meta.get("user_id") if journal is not None else None
    return payer_of(order, payer)


def _points_legs(
    session: Session,
    attempt: PaymentAttempt,
    ref: WalletRef,
    covers_before: int,
    covers_refunded: int,
    meta: dict[str, Any],
) -> list[Leg]:
    """Revenue (points) -> the user's points, for the share of ``covers_refunded``."""
    code = (attempt.meta or {}).get("points_currency")
    if not isinstance(code, str):
        raise AttemptNotRefundable(f"attempt {attempt.id} does not record its points_currency")
    back = points_share(
        _meta_int(attempt, "points_amount"),
        _meta_int(attempt, "points_covers"),
        covers_before,
        covers_refunded,
    )
    meta.update(points_currency=code, points=back)
    if back == 0:
        return []
    currency: WalletCurrency = resolve_currency(session, ref.app_id, code)
    revenue = merchant_account(session, ref.merchant_id, ref.app_id, Counterpart.REVENUE, code)
    user = user_account(session, ref, Part.POINTS, currency)
    return _legs(revenue.id, user.id, back, currency.code)


def _refund_card(
    session: Session, order: Order, attempt: PaymentAttempt, replayed: bool
) -> PrepaidCard:
    """The card that paid, locked; reopened (``redeemed`` -> ``active``) unless replayed."""
    card_id = (attempt.meta or {}).get("card_id")
    card = session.scalars(
        sa.select(PrepaidCard)
        .where(PrepaidCard.id == card_id, PrepaidCard.merchant_id == order.merchant_id)
        .with_for_update()
    ).first()
    if card is None:
        raise CardNotFound(f"the card that paid attempt {attempt.id} is not found")
    if replayed:
        return card
    if card.status == CardStatus.EXPIRED:
        raise CardNotUsable(f"card {card.id} has expired: refund the payer another way")
    if card.status == CardStatus.REDEEMED:
        card.status = CardStatus.ACTIVE.value
        card.updated_at = clock.now()
    return card
