"""Billable events: transactions Paydesk prices that are not channel payments, such as a card
or identity verification, a payout, or any scenario an operator configures
(``POST /v1/fees/events``; wallet payouts charge themselves through it). The same engine
prices them under the merchant's agreement (its fee) and, when the event went through a
channel account, under that account's agreement (its cost), as for payments.

No money of the event reaches the merchant's receivable, so its fee is **billed**: it is
taken from ``merchant/<id>/fees_billed``, which goes below zero by what the merchant owes
(settled with the merchant later). A cost goes to the payee's payable, as for payments.

An event is charged once per merchant and ``reference``: the same reference again returns
the charges made (a retry), and a different event under a used reference is refused
(``reference_reused``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from paydesk.channels.accounts import service as channel_accounts
from paydesk.core import clock
from paydesk.core.errors import Conflict, InvalidRequest
from paydesk.fees import service
from paydesk.fees.accounts import CHANNEL_COST, MERCHANT_FEE, Books, fee_account
from paydesk.fees.records import FeeCharge
from paydesk.fees.transaction import AttributeValue, FeeTransaction
from paydesk.ledger.models import LedgerAccount

BILLED = "fees_billed"
EVENT_ID_PREFIX = "fev_"


class ReferenceReused(Conflict):
    code = "reference_reused"


class BillableEvent(BaseModel):
    """What happened, as fee rules see it (docs/fees.md, "The transaction")."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=64, description="Yours; repeats replay.")
    scenario: str = Field(max_length=64, description="verification, payout, or any name.")
    amount: int = Field(default=0, ge=0, description="Minor units; 0 for a verification.")
    currency: str = Field(min_length=3, max_length=16)
    occurred_at: datetime | None = Field(default=None, description="Default: now.")
    channel_account_id: str | None = Field(
        default=None, description="The account it went through: its agreement prices a cost."
    )
    method: str | None = Field(default=None, max_length=64)
    business_type: str | None = Field(default=None, max_length=64)
    card_type: str | None = None
    bank_relation: str | None = None
    region: str | None = Field(default=None, max_length=40)
    verified_items: int = Field(default=0, ge=0)
    holding_days: int = Field(default=0, ge=0)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


def event_id(merchant_id: str, reference: str) -> str:
    digest = hashlib.sha256(f"{merchant_id}|{reference}".encode()).hexdigest()[:32]
    return EVENT_ID_PREFIX + digest


def billed_books(session: Session, merchant_id: str, books: Books | None) -> Books:
    """``books`` with the fee taken from the merchant's billed account, not its receivable."""

    def billed(currency: str) -> LedgerAccount:
        return fee_account(session, merchant_id, ("merchant", merchant_id, BILLED), currency)

    return Books(billed, books.clearing if books is not None else None)


def _fingerprint(event: BillableEvent) -> str:
    body = event.model_dump(mode="json", exclude={"occurred_at"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def charge_event(
    session: Session, merchant_id: str, event: BillableEvent, books: Books | None
) -> tuple[str, list[FeeCharge]]:
    """Price and post the event's fee and cost; (event id, its charges). ``books``: the
    payments module's (None only for an event through no channel account)."""
    source_id = event_id(merchant_id, event.reference)
    fingerprint = _fingerprint(event)
    made = list(
        session.scalars(
            sa.select(FeeCharge)
            .where(FeeCharge.source_id == source_id, FeeCharge.run_id == "")
            .order_by(FeeCharge.id)
        )
    )
    if made:
        if any(charge.explanation.get("event") != fingerprint for charge in made):
            raise ReferenceReused(
                f"reference {event.reference!r} was used for another event", param="reference"
            )
        return source_id, made
    if event.channel_account_id is not None:
        assert books is not None
        channel_accounts.get_account(session, merchant_id, event.channel_account_id)
    occurred_at = event.occurred_at or clock.now()
    if occurred_at.utcoffset() is None:
        raise InvalidRequest("occurred_at needs a UTC offset", param="occurred_at")
    common: dict[str, Any] = {
        "id": source_id,
        "scenario": event.scenario,
        "amount_minor": event.amount,
        "currency": event.currency,
        "occurred_at": occurred_at,
        "method": event.method,
        "business_type": event.business_type,
        "card_type": event.card_type,
        "bank_relation": event.bank_relation,
        "region": event.region,
        "verified_items": event.verified_items,
        "holding_days": event.holding_days,
        "attributes": event.attributes,
    }
    billed = billed_books(session, merchant_id, books)
    charges = []
    for kind in (MERCHANT_FEE, CHANNEL_COST):
        if kind == CHANNEL_COST and event.channel_account_id is None:
            continue
        interface = event.channel_account_id if kind == CHANNEL_COST else None
        charge = service.charge(
            session,
            kind=kind,
            txn=FeeTransaction(**common, interface_id=interface),
            merchant_id=merchant_id,
            order_id=source_id,
            channel_account_id=event.channel_account_id,
            books=billed,
        )
        if charge is not None:
            charge.explanation = {**charge.explanation, "event": fingerprint}
            charges.append(charge)
    session.flush()
    return source_id, charges


def charge_payout(
    session: Session, merchant_id: str, payout_id: str, amount_minor: int, currency: str
) -> list[FeeCharge]:
    """A payout (a wallet withdrawal) was made: its fee under the merchant's agreement, as
    the event ``payout:<id>`` of scenario ``payout`` and method ``wallet_withdrawal``."""
    event = BillableEvent(
        reference=f"payout:{payout_id}",
        scenario="payout",
        amount=amount_minor,
        currency=currency,
        method="wallet_withdrawal",
    )
    return charge_event(session, merchant_id, event, None)[1]
