"""Fee agreements kept in the database, and the fees and costs of payments charged and
returned with them. Services never commit.

When a channel payment succeeds, the same engine prices it twice (docs/fees.md):

- the **merchant fee**, under the merchant's agreement valid at the payment's time, posted
  ``merchant receivable -> platform fee_income``;
- the **channel cost**, under the channel account's agreement, accrued
  ``platform channel_costs -> channel account cost_payable`` (what the platform owes the
  channel; the channel's own statement states its fee, which reconciliation compares).

A party without an agreement is not billed. A party with agreements under which the payment
matches no entry (or no agreement is valid then, or the currency differs) gets an
``unmatched`` charge, logged as an error: reported, never silently charged zero. A refund,
when it is accepted, gives fees and costs back under the agreement's refund policy; if it
fails they are charged again.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.channels.accounts import service as channel_accounts
from paydesk.core import clock
from paydesk.core.errors import Conflict, InvalidRequest, NotFound
from paydesk.core.ids import new_id
from paydesk.core.money import CurrencyMismatch
from paydesk.fees.accounts import (
    CHANNEL_COST,
    MERCHANT_FEE,
    Books,
    fee_account,
    legs,
    payable_spec,
    post_move,
)
from paydesk.fees.batch import BatchPricer
from paydesk.fees.explain import PeriodClose
from paydesk.fees.matching import (
    Agreement,
    NoMatchingEntry,
    NoValidAgreement,
    parse_agreement,
    price,
)
from paydesk.fees.records import FeeAgreement, FeeCharge
from paydesk.fees.refunds import return_fee
from paydesk.fees.remittance_rules import RemittanceRule
from paydesk.fees.remitting import remit_with_cost
from paydesk.fees.transaction import FeeTransaction
from paydesk.merchants.service import get_merchant

log = structlog.get_logger(__name__)

__all__ = ["CHANNEL_COST", "MERCHANT_FEE", "Books"]
RETURN_SUFFIX = "_return"
ADJUSTMENT_SUFFIX = "_adjustment"
PERIOD_CLOSE_SUFFIX = "_period_close"
PARTY_TYPES = ("channel", "merchant")
FOREVER = datetime.max.replace(tzinfo=UTC)


class FeeAgreementNotFound(NotFound):
    code = "fee_agreement_not_found"


class FeeAgreementExists(Conflict):
    code = "fee_agreement_exists"


class OverlappingAgreements(Conflict):
    code = "overlapping_agreements"


# --- agreements -----------------------------------------------------------------------------


def add_agreement(
    session: Session, *, party_type: str, party_id: str, document: Mapping[str, Any]
) -> FeeAgreement:
    """Check and store an agreement with a channel account or a merchant. Its validity may not
    overlap another active agreement of the same party (one agreement prices a moment)."""
    if party_type not in PARTY_TYPES:
        raise InvalidRequest("party_type is channel or merchant", param="party_type")
    agreement = parse_agreement(document)
    if agreement.party_type != party_type:
        raise InvalidRequest(
            f"the document is an agreement with a {agreement.party_type}",
            param="document.party_type",
        )
    if party_type == "merchant":
        get_merchant(session, party_id)
    else:
        channel_accounts.get_account(session, None, party_id)
    for other in active_agreements(session, party_type, party_id):
        overlap = agreement.valid_from < (other.valid_to or FOREVER) and (
            other.valid_from < (agreement.valid_to or FOREVER)
        )
        if other.id == agreement.id:
            raise FeeAgreementExists(f"{party_id} already has an agreement {agreement.id!r}")
        if overlap:
            raise OverlappingAgreements(
                f"agreement {agreement.id!r} overlaps {other.id!r} of {party_id}",
                param="document.valid_from",
            )
    now = clock.now()
    row = FeeAgreement(
        id=new_id("fag"),
        party_type=party_type,
        party_id=party_id,
        name=agreement.id,
        document=agreement.model_dump(mode="json"),
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_agreement(session: Session, agreement_id: str) -> FeeAgreement:
    row = session.get(FeeAgreement, agreement_id)
    if row is None:
        raise FeeAgreementNotFound(f"no fee agreement {agreement_id}")
    return row


def list_agreements(
    session: Session, party_type: str | None = None, party_id: str | None = None
) -> list[FeeAgreement]:
    query = sa.select(FeeAgreement).order_by(FeeAgreement.id)
    if party_type is not None:
        query = query.where(FeeAgreement.party_type == party_type)
    if party_id is not None:
        query = query.where(FeeAgreement.party_id == party_id)
    return list(session.scalars(query))


def retire_agreement(session: Session, agreement_id: str) -> FeeAgreement:
    """No longer prices anything; kept for the charges made under it."""
    row = get_agreement(session, agreement_id)
    row.status = "retired"
    row.updated_at = clock.now()
    session.flush()
    return row


def _rows(session: Session, party_type: str, party_id: str) -> list[FeeAgreement]:
    return list(
        session.scalars(
            sa.select(FeeAgreement).where(
                FeeAgreement.party_type == party_type,
                FeeAgreement.party_id == party_id,
                FeeAgreement.status == "active",
            )
        )
    )


PARSED_KEPT = 1000
_parsed: dict[tuple[str, datetime], Agreement] = {}
_parsed_lock = threading.Lock()


def parsed(row: FeeAgreement) -> Agreement:
    """The row's document as an :class:`Agreement`, checked once per process and version (an
    agreement of 50 entries takes milliseconds to check; payments and quotes read it often)."""
    key = (row.id, row.updated_at)
    with _parsed_lock:
        found = _parsed.get(key)
    if found is None:
        found = parse_agreement(row.document)
        with _parsed_lock:
            if len(_parsed) >= PARSED_KEPT:
                _parsed.clear()
            _parsed[key] = found
    return found


def active_agreements(session: Session, party_type: str, party_id: str) -> list[Agreement]:
    return [parsed(row) for row in _rows(session, party_type, party_id)]


# --- charging -------------------------------------------------------------------------------


def _rule(session: Session, agreement_row_id: str | None) -> RemittanceRule | None:
    if agreement_row_id is None:
        return None
    return parsed(get_agreement(session, agreement_row_id)).remittance


def _cost_posted(
    session: Session,
    *,
    kind: str,
    agreement_row_id: str,
    rule: RemittanceRule | None,
    merchant_id: str,
    channel_account_id: str | None,
    ccy: str,
    signed_minor: int,
    journal_id: str | None,
    books: Books,
) -> None:
    """A cost journal was posted (``signed_minor``: what it added to the payable): remit it
    now if the agreement's rule says per transaction."""
    if kind != CHANNEL_COST or channel_account_id is None:
        return
    payable = fee_account(session, merchant_id, payable_spec(channel_account_id, rule), ccy)
    remit_with_cost(
        session,
        rule=rule,
        agreement_id=agreement_row_id,
        merchant_id=merchant_id,
        channel_account_id=channel_account_id,
        payable=payable,
        amount_minor=signed_minor,
        cost_journal_id=journal_id,
        books=books,
    )


def _borne_by(kind: str, rule: RemittanceRule | None) -> str:
    return (
        "merchant"
        if kind == CHANNEL_COST and rule is not None and rule.payer == "merchant"
        else "platform"
    )


def _record(session: Session, **values: Any) -> FeeCharge:
    charge = FeeCharge(id=new_id("fch"), created_at=clock.now(), **values)
    session.add(charge)
    return charge


def charge(
    session: Session,
    *,
    kind: str,
    txn: FeeTransaction,
    merchant_id: str,
    order_id: str,
    channel_account_id: str | None,
    books: Books,
) -> FeeCharge | None:
    """Price ``txn`` for one party and post it (and remit a cost at once under a
    ``per_transaction`` rule); None when the party has no agreement."""
    party_type, party_id = (
        ("merchant", merchant_id) if kind == MERCHANT_FEE else ("channel", channel_account_id)
    )
    assert party_id is not None
    rows = _rows(session, party_type, party_id)
    if not rows:
        return None
    agreements = [parsed(row) for row in rows]
    common = {
        "merchant_id": merchant_id,
        "order_id": order_id,
        "kind": kind,
        "source_id": txn.id,
        "channel_account_id": channel_account_id,
        "scenario": txn.scenario,
    }
    try:
        priced = price(agreements, txn)
    except (NoMatchingEntry, NoValidAgreement, CurrencyMismatch, InvalidRequest) as exc:
        log.error("fee_unmatched", kind=kind, transaction=txn.id, code=exc.code, reason=exc.message)
        return _record(
            session,
            **common,
            status="unmatched",
            amount_minor=0,
            currency=txn.currency,
            agreement_id=None,
            entry_id=None,
            explanation={"error": exc.code, "text": exc.message},
            journal_id=None,
        )
    row = next(r for r in rows if r.name == priced.agreement_id)
    rule = parsed(row).remittance
    ccy, amount = priced.fee.currency, priced.fee.amount_minor
    source, target = legs(session, kind, merchant_id, channel_account_id, ccy, books, rule)
    journal_id = post_move(
        session,
        merchant_id,
        f"fee:{kind}:{txn.id}",
        f"fee.{kind}",
        source,
        target,
        amount,
        ccy,
        {"order_id": order_id, "agreement_id": row.id, "entry_id": priced.entry_id},
    )
    _cost_posted(
        session,
        kind=kind,
        agreement_row_id=row.id,
        rule=rule,
        merchant_id=merchant_id,
        channel_account_id=channel_account_id,
        ccy=ccy,
        signed_minor=amount,
        journal_id=journal_id,
        books=books,
    )
    return _record(
        session,
        borne_by=_borne_by(kind, rule),
        **common,
        status="posted",
        amount_minor=priced.fee.amount_minor,
        currency=ccy,
        agreement_id=row.id,
        entry_id=priced.entry_id,
        explanation={**priced.fee.explanation.as_json(), "text": priced.text},
        journal_id=journal_id,
    )


def charged_fee_minor(session: Session, order_id: str, currency: str) -> int:
    """Merchant fees of the order posted in ``currency``, less what refunds gave back: what
    they took from the merchant's receivable."""
    rows = session.execute(
        sa.select(FeeCharge.kind, sa.func.coalesce(sa.func.sum(FeeCharge.amount_minor), 0))
        .where(
            FeeCharge.order_id == order_id,
            FeeCharge.currency == currency,
            FeeCharge.status == "posted",
            FeeCharge.kind.in_((MERCHANT_FEE, MERCHANT_FEE + RETURN_SUFFIX)),
        )
        .group_by(FeeCharge.kind)
    ).all()
    totals = {kind: int(total) for kind, total in rows}
    return totals.get(MERCHANT_FEE, 0) - totals.get(MERCHANT_FEE + RETURN_SUFFIX, 0)


def give_back(
    session: Session,
    *,
    attempt_id: str,
    refund_id: str,
    order_amount_minor: int,
    refund_minor: int,
    refunded_before_minor: int,
    books: Books,
) -> list[FeeCharge]:
    """A refund of the payment ``attempt_id`` was accepted: give its fee and its cost back
    under each agreement's refund policy (none, proportional, or all on a full refund), so
    the receivable can cover a refund of the whole amount. ``refunded_before_minor``: what
    refunds accepted before it (pending or succeeded) take. :func:`take_back` undoes it if
    the refund fails."""
    returns = []
    for kind in (MERCHANT_FEE, CHANNEL_COST):
        charged = session.scalars(
            sa.select(FeeCharge).where(
                FeeCharge.kind == kind,
                FeeCharge.source_id == attempt_id,
                FeeCharge.status == "posted",
            )
        ).first()
        if charged is None or charged.agreement_id is None:
            continue
        returned_before = int(
            session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(FeeCharge.amount_minor), 0)).where(
                    FeeCharge.kind == kind + RETURN_SUFFIX,
                    FeeCharge.order_id == charged.order_id,
                    FeeCharge.status == "posted",
                )
            )
            or 0
        )
        agreement = parsed(get_agreement(session, charged.agreement_id))
        given = return_fee(
            agreement.refund_policy,
            fee_minor=max(0, current_minor(session, kind, attempt_id)),
            order_amount_minor=order_amount_minor,
            refund_minor=refund_minor,
            currency=charged.currency,
            refunded_before_minor=refunded_before_minor,
            returned_before_minor=returned_before,
        )
        rule = agreement.remittance
        source, target = legs(
            session,
            kind,
            charged.merchant_id,
            charged.channel_account_id,
            charged.currency,
            books,
            rule,
        )
        journal_id = post_move(
            session,
            charged.merchant_id,
            f"fee:{kind}{RETURN_SUFFIX}:{refund_id}",
            f"fee.{kind}{RETURN_SUFFIX}",
            target,
            source,
            given.returned_minor,
            charged.currency,
            {"order_id": charged.order_id, "refund_id": refund_id},
        )
        _cost_posted(
            session,
            kind=kind,
            agreement_row_id=charged.agreement_id,
            rule=rule,
            merchant_id=charged.merchant_id,
            channel_account_id=charged.channel_account_id,
            ccy=charged.currency,
            signed_minor=-given.returned_minor,
            journal_id=journal_id,
            books=books,
        )
        returns.append(
            _record(
                session,
                borne_by=charged.borne_by,
                merchant_id=charged.merchant_id,
                order_id=charged.order_id,
                kind=kind + RETURN_SUFFIX,
                source_id=refund_id,
                channel_account_id=charged.channel_account_id,
                scenario=charged.scenario,
                status="posted",
                amount_minor=given.returned_minor,
                currency=charged.currency,
                agreement_id=charged.agreement_id,
                entry_id=charged.entry_id,
                explanation={"policy": given.policy.value, "text": given.text},
                journal_id=journal_id,
            )
        )
    return returns


def charges_of(session: Session, merchant_id: str, order_id: str) -> list[FeeCharge]:
    return list(
        session.scalars(
            sa.select(FeeCharge)
            .where(FeeCharge.merchant_id == merchant_id, FeeCharge.order_id == order_id)
            .order_by(FeeCharge.id)
        )
    )


def current_minor(session: Session, kind: str, attempt_id: str) -> int:
    """What ``attempt_id`` stands charged for ``kind`` now: the charge plus every adjustment
    of recomputations (refund returns are apart)."""
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(FeeCharge.amount_minor), 0)).where(
            FeeCharge.source_id == attempt_id,
            FeeCharge.kind.in_((kind, kind + ADJUSTMENT_SUFFIX)),
            FeeCharge.status == "posted",
        )
    )
    return int(total or 0)


def adjust(
    session: Session,
    *,
    run_id: str,
    kind: str,
    txn: FeeTransaction,
    merchant_id: str,
    order_id: str,
    channel_account_id: str | None,
    agreements: list[Agreement],
    rows: list[FeeAgreement],
    books: Books,
    pricer: BatchPricer | None = None,
) -> int | None:
    """Price ``txn`` again under ``agreements`` and post the difference to what it stands
    charged as an ``*_adjustment`` of run ``run_id`` (its journal key makes a re-run of the
    same run post nothing more). Returns the difference, None when no entry matches.

    ``pricer`` (a :class:`BatchPricer` of the same ``agreements``) prices first: a fee that
    did not change costs no explanation; one that did is priced again by ``price()`` for the
    explanation the adjustment keeps."""
    try:
        standing = current_minor(session, kind, txn.id)
        if pricer is not None and pricer.price_txn(txn)[3] == standing:
            return 0
        priced = price(agreements, txn)
    except (NoMatchingEntry, NoValidAgreement, CurrencyMismatch, InvalidRequest):
        return None
    difference = priced.fee.amount_minor - standing
    if difference == 0:
        return 0
    ccy = priced.fee.currency
    row = next(r for r in rows if r.name == priced.agreement_id)
    rule = parsed(row).remittance
    source, target = legs(session, kind, merchant_id, channel_account_id, ccy, books, rule)
    if difference < 0:
        source, target = target, source
    journal_id = post_move(
        session,
        merchant_id,
        f"fee:{kind}{ADJUSTMENT_SUFFIX}:{run_id}:{txn.id}",
        f"fee.{kind}{ADJUSTMENT_SUFFIX}",
        source,
        target,
        abs(difference),
        ccy,
        {"order_id": order_id, "run_id": run_id, "agreement_id": row.id},
    )
    _cost_posted(
        session,
        kind=kind,
        agreement_row_id=row.id,
        rule=rule,
        merchant_id=merchant_id,
        channel_account_id=channel_account_id,
        ccy=ccy,
        signed_minor=difference,
        journal_id=journal_id,
        books=books,
    )
    _record(
        session,
        borne_by=_borne_by(kind, rule),
        merchant_id=merchant_id,
        order_id=order_id,
        kind=kind + ADJUSTMENT_SUFFIX,
        source_id=txn.id,
        channel_account_id=channel_account_id,
        scenario=txn.scenario,
        status="posted",
        amount_minor=difference,
        currency=ccy,
        agreement_id=row.id,
        entry_id=priced.entry_id,
        explanation={
            **priced.fee.explanation.as_json(),
            "text": f"{priced.text}; stood at {standing} -> adjust {difference:+d}",
        },
        journal_id=journal_id,
        run_id=run_id,
    )
    return difference


def post_period_close(
    session: Session,
    *,
    kind: str,
    source_id: str,
    merchant_id: str,
    channel_account_id: str | None,
    agreement_row: FeeAgreement,
    entry_id: str,
    result: PeriodClose,
    books: Books,
    period: str,
) -> FeeCharge | None:
    """Post a period close's adjustment once (``source_id`` names the agreement, entry and
    period: closing the same period again finds it and posts nothing)."""
    existing = session.scalars(
        sa.select(FeeCharge).where(
            FeeCharge.kind == kind + PERIOD_CLOSE_SUFFIX, FeeCharge.source_id == source_id
        )
    ).first()
    if existing is not None:
        return existing
    ccy = result.final.currency
    rule = parsed(agreement_row).remittance
    source, target = legs(session, kind, merchant_id, channel_account_id, ccy, books, rule)
    if result.adjustment_minor < 0:
        source, target = target, source
    journal_id = post_move(
        session,
        merchant_id,
        f"fee:{kind}{PERIOD_CLOSE_SUFFIX}:{source_id}",
        f"fee.{kind}{PERIOD_CLOSE_SUFFIX}",
        source,
        target,
        abs(result.adjustment_minor),
        ccy,
        {"agreement_id": agreement_row.id, "entry_id": entry_id, "period": period},
    )
    _cost_posted(
        session,
        kind=kind,
        agreement_row_id=agreement_row.id,
        rule=rule,
        merchant_id=merchant_id,
        channel_account_id=channel_account_id,
        ccy=ccy,
        signed_minor=result.adjustment_minor,
        journal_id=journal_id,
        books=books,
    )
    return _record(
        session,
        borne_by=_borne_by(kind, rule),
        merchant_id=merchant_id,
        order_id="",
        kind=kind + PERIOD_CLOSE_SUFFIX,
        source_id=source_id,
        channel_account_id=channel_account_id,
        scenario="period_close",
        status="posted",
        amount_minor=result.adjustment_minor,
        currency=ccy,
        agreement_id=agreement_row.id,
        entry_id=entry_id,
        explanation={
            **result.final.explanation.as_json(),
            "period": period,
            "provisional": result.provisional_minor,
            "adjustment": result.adjustment_minor,
            "text": (
                f"{result.final.explanation.text}; provisional {result.provisional_minor}"
                f" -> adjust {result.adjustment_minor:+d}"
            ),
        },
        journal_id=journal_id,
    )


def take_back(session: Session, refund_id: str, books: Books) -> None:
    """The refund failed: what it gave back is charged again (reverse journals; the returns
    are marked ``reversed``)."""
    returns = session.scalars(
        sa.select(FeeCharge).where(
            FeeCharge.source_id == refund_id,
            FeeCharge.kind.in_((MERCHANT_FEE + RETURN_SUFFIX, CHANNEL_COST + RETURN_SUFFIX)),
            FeeCharge.status == "posted",
        )
    ).all()
    for row in returns:
        kind = row.kind.removesuffix(RETURN_SUFFIX)
        rule = _rule(session, row.agreement_id)
        source, target = legs(
            session, kind, row.merchant_id, row.channel_account_id, row.currency, books, rule
        )
        journal_id = post_move(
            session,
            row.merchant_id,
            f"fee:{row.kind}:{refund_id}:reversed",
            f"fee.{row.kind}.reversed",
            source,
            target,
            row.amount_minor,
            row.currency,
            {"order_id": row.order_id, "refund_id": refund_id},
        )
        if row.agreement_id is not None:
            _cost_posted(
                session,
                kind=kind,
                agreement_row_id=row.agreement_id,
                rule=rule,
                merchant_id=row.merchant_id,
                channel_account_id=row.channel_account_id,
                ccy=row.currency,
                signed_minor=row.amount_minor,
                journal_id=journal_id,
                books=books,
            )
        row.status = "reversed"
