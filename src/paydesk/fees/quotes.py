"""Quotes: what a hypothetical payment would be charged and would cost, priced by the same
engine as real ones, storing nothing (``GET /v1/fees/quote``; the router's least cost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from paydesk.channels.base import Method
from paydesk.channels.router.service import candidate_accounts
from paydesk.core.errors import InvalidRequest, PaydeskError
from paydesk.fees import service
from paydesk.fees.matching import Agreement, price
from paydesk.fees.transaction import FeeTransaction

QUOTE_ID = "quote"


def priced(agreements: list[Agreement], txn: FeeTransaction) -> dict[str, Any]:
    """The fee of ``txn`` (``{"amount", "currency", "text", ...}``), or why there is none."""
    if not agreements:
        return {"amount": None, "status": "no_agreement"}
    try:
        found = price(agreements, txn)
    except PaydeskError as exc:
        return {"amount": None, "status": "unmatched", "error": exc.code, "text": exc.message}
    return {
        "amount": found.fee.amount_minor,
        "currency": found.fee.currency,
        "status": "priced",
        "agreement": found.agreement_id,
        "entry": found.entry_id,
        "text": found.text,
    }


def quote(
    session: Session,
    *,
    merchant_id: str,
    livemode: bool,
    amount_minor: int,
    currency: str,
    method: str,
    scenario: str,
    region: str | None,
    business_type: str | None,
    at: datetime,
    card_type: str | None = None,
    bank_relation: str | None = None,
    verified_items: int = 0,
    holding_days: int = 0,
) -> dict[str, Any]:
    try:
        channel_method = Method(method)
    except ValueError:
        raise InvalidRequest(f"{method!r} is not a channel method", param="method") from None

    def transaction(interface_id: str | None) -> FeeTransaction:
        return FeeTransaction(
            id=QUOTE_ID,
            scenario=scenario,
            amount_minor=amount_minor,
            currency=currency,
            occurred_at=at,
            business_type=business_type,
            method=method,
            region=region,
            interface_id=interface_id,
            card_type=card_type,  # type: ignore[arg-type]  # FeeTransaction checks it
            bank_relation=bank_relation,  # type: ignore[arg-type]
            verified_items=verified_items,
            holding_days=holding_days,
        )

    fee = priced(service.active_agreements(session, "merchant", merchant_id), transaction(None))
    accounts = []
    candidates, _ = candidate_accounts(session, merchant_id, livemode, channel_method, currency)
    for candidate in candidates:
        agreements = service.active_agreements(session, "channel", candidate.account_id)
        cost = priced(agreements, transaction(candidate.account_id))
        margin = (
            fee["amount"] - cost["amount"]
            if fee["amount"] is not None and cost["amount"] is not None
            else None
        )
        accounts.append(
            {
                "account_id": candidate.account_id,
                "channel": candidate.channel,
                "cost": cost,
                "margin": margin,
            }
        )
    return {
        "amount": amount_minor,
        "currency": currency,
        "method": method,
        "merchant_fee": fee,
        "accounts": accounts,
    }
