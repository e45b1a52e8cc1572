"""Payments and refunds as the fee centre sees them (docs/fees.md): the fee transaction of a
payment, its merchant fee and channel cost charged when it succeeds, and given back when a
refund of it is accepted (and charged again if the refund fails).

A payment with a platform instrument (wallet balance, points, a prepaid card) has no channel
cost, and its money goes to the merchant's revenue in the wallet's books, not to its
receivable: its fee is billed (``merchant/<id>/fees_billed``), as an event's is."""

from __future__ import annotations

from sqlalchemy.orm import Session

from paydesk.fees import service as fees
from paydesk.fees.events import billed_books
from paydesk.fees.transaction import COLLECTION, FeeTransaction
from paydesk.ledger.models import LedgerAccount
from paydesk.payments import postings
from paydesk.payments.methods import WALLET_CHANNEL
from paydesk.payments.models import Order, PaymentAttempt, Refund
from paydesk.payments.orders import OrderPurpose


def fee_transaction(
    order: Order, attempt: PaymentAttempt, *, interface_id: str | None
) -> FeeTransaction:
    """``region`` and ``business_type`` come from the order's metadata, the channel and the
    app as attributes any entry may test. ``interface_id``: the channel account for its cost
    agreement; None for the merchant's (all its interfaces compete)."""
    meta = order.meta or {}
    attributes: dict[str, str | int | bool] = {"channel": attempt.channel}
    if order.app_id is not None:
        attributes["app_id"] = order.app_id
    assert attempt.succeeded_at is not None
    return FeeTransaction(
        id=attempt.id,
        scenario=COLLECTION,
        amount_minor=attempt.amount_minor,
        currency=attempt.currency,
        occurred_at=attempt.succeeded_at,
        business_type=meta.get("business_type"),
        method=attempt.method,
        region=meta.get("region"),
        interface_id=interface_id,
        attributes=attributes,
    )


def books(session: Session, merchant_id: str) -> fees.Books:
    """The merchant's receivable and its channel accounts' clearing, for fees to move."""

    def receivable(currency: str) -> LedgerAccount:
        return postings.receivable_account(session, merchant_id, currency)

    def clearing(channel_account_id: str, currency: str) -> LedgerAccount:
        return postings.clearing_account(session, merchant_id, channel_account_id, currency)

    return fees.Books(receivable, clearing)


def _books_of(session: Session, order: Order, attempt: PaymentAttempt) -> fees.Books:
    """Where the fees of ``attempt`` move: billed for a platform instrument's payment."""
    found = books(session, order.merchant_id)
    if attempt.channel == WALLET_CHANNEL:
        return billed_books(session, order.merchant_id, found)
    return found


def charge_payment(session: Session, order: Order, attempt: PaymentAttempt) -> None:
    """The order was just paid by ``attempt``: its merchant fee (not for a wallet recharge:
    that money is the user's) and, through a channel, its channel cost."""
    kinds = [] if attempt.channel == WALLET_CHANNEL else [fees.CHANNEL_COST]
    if order.purpose == OrderPurpose.PURCHASE:
        kinds.insert(0, fees.MERCHANT_FEE)
    for kind in kinds:
        interface = attempt.channel_account_id if kind == fees.CHANNEL_COST else None
        fees.charge(
            session,
            kind=kind,
            txn=fee_transaction(order, attempt, interface_id=interface),
            merchant_id=order.merchant_id,
            order_id=order.id,
            channel_account_id=attempt.channel_account_id,
            books=_books_of(session, order, attempt),
        )


def give_back(session: Session, order: Order, refund: Refund, refunded_before: int) -> None:
    """A refund of the order was accepted (``refunded_before``: what earlier refunds, pending
    or succeeded, take)."""
    attempt = session.get(PaymentAttempt, refund.attempt_id)
    assert attempt is not None
    fees.give_back(
        session,
        attempt_id=refund.attempt_id,
        refund_id=refund.id,
        order_amount_minor=order.amount_paid_minor,
        refund_minor=refund.amount_minor,
        refunded_before_minor=refunded_before,
        books=_books_of(session, order, attempt),
    )


def take_back(session: Session, order: Order, refund: Refund) -> None:
    """The refund failed: what it gave back of fees and costs is charged again."""
    fees.take_back(session, refund.id, books(session, order.merchant_id))
