"""Channel payments converted into the merchant's settlement currency (docs/fx.md).

A merchant whose payment settings name a ``settlement_currency`` is owed channel payments in
that currency. When an order in another currency is paid, what it paid is converted **once**,
at the latest recorded rate (its source and time kept), with the merchant's named rounding;
both amounts are kept (:class:`SettlementConversion`). In the ledger, one balanced journal
moves the money across, through the merchant's FX position accounts (one per currency, owned
by the platform's treasury: unbounded, their sum over merchants is the platform's exposure):

    payment converted    receivable(order ccy) -> fx_position(order ccy)
                         fx_position(settle ccy) -> receivable(settle ccy)
    refund accepted      the same backwards, for the refunded part, at the same rate
                         (:func:`give_back`), before the usual set-aside in the order currency
    refund failed        converted forward again, the same amounts (:func:`restore`)

Parts given back are rounded with the same policy and the last part takes exactly what is
left, so refunds of a whole payment give back exactly what was converted. Without a fresh rate
at payment time, the money stays in the order currency and a job converts it once a rate is
recorded (``payments.convert_settlement``, every 15 minutes for about a day); refunds
accepted meanwhile come out of the order-currency receivable and are not converted.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.core.money import Rounding
from paydesk.features import service as features
from paydesk.fees import service as fee_service
from paydesk.fx.convert import convert, rate_text
from paydesk.fx.convert import give_back as back_part
from paydesk.fx.service import FxRateUnavailable, rate_to_use
from paydesk.jobs import service as jobs
from paydesk.jobs.registry import JobContext, RetryJobAt, job_handler
from paydesk.ledger.accounts import AccountSpec, ensure_account
from paydesk.ledger.domain import Leg
from paydesk.ledger.models import FloorRule, LedgerAccount
from paydesk.ledger.posting import post_journal
from paydesk.payments.models import (
    Order,
    PaymentAttempt,
    PaymentSettings,
    Refund,
    SettlementConversion,
)
from paydesk.payments.orders import OrderPurpose, lock_order
from paydesk.payments.postings import MERCHANT_SLOTS, receivable_account
from paydesk.payments.states import RefundState

log = structlog.get_logger(__name__)

CONVERT_JOB = "payments.convert_settlement"
CONVERT_RETRY_S = 900
"""Without a rate, look again in a quarter of an hour."""
CONVERT_ATTEMPTS_MAX = 100
"""About a day of looking before the job goes dead (an operator records a rate, retries it)."""


def fx_position(session: Session, merchant_id: str, currency: str) -> LedgerAccount:
    spec = AccountSpec(merchant_id, "platform", "treasury", "fx_position", currency)
    return ensure_account(session, spec, floor_rule=FloorRule.UNBOUNDED, slots=MERCHANT_SLOTS)


def conversion_of(session: Session, order_id: str) -> SettlementConversion | None:
    return session.scalars(
        sa.select(SettlementConversion).where(SettlementConversion.order_id == order_id)
    ).first()


def _target(session: Session, order: Order) -> tuple[str, PaymentSettings] | None:
    """The currency the order's payment is converted into, when it is converted at all."""
    if order.purpose != OrderPurpose.PURCHASE:
        return None  # a wallet recharge is the user's money, in the wallet's currency
    settings = session.get(PaymentSettings, order.merchant_id)
    if settings is None or settings.settlement_currency in (None, order.currency):
        return None
    if not features.enabled_for(session, "fx_settlement", order.merchant_id):
        return None
    return str(settings.settlement_currency), settings


def _move(
    session: Session,
    merchant_id: str,
    key: str,
    kind: str,
    legs_from: tuple[str, int],
    legs_to: tuple[str, int],
    meta: dict[str, str],
) -> str:
    """``legs_from`` (currency, amount) leaves the receivable for the FX position,
    ``legs_to`` comes from the FX position into the receivable. Balanced per currency."""
    (from_ccy, from_amount), (to_ccy, to_amount) = legs_from, legs_to
    legs = [
        Leg(receivable_account(session, merchant_id, from_ccy).id, -from_amount, from_ccy),
        Leg(fx_position(session, merchant_id, from_ccy).id, from_amount, from_ccy),
        Leg(fx_position(session, merchant_id, to_ccy).id, -to_amount, to_ccy),
        Leg(receivable_account(session, merchant_id, to_ccy).id, to_amount, to_ccy),
    ]
    posted = post_journal(
        session, merchant_id=merchant_id, idempotency_key=key, legs=legs, kind=kind, meta=meta
    )
    return posted.journal.id


def _unrefunded(session: Session, order: Order) -> int:
    """What the order paid less refunds accepted and not failed and less the merchant fees
    charged in the order's currency (they all left the receivable in that currency)."""
    taken = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_minor), 0)).where(
            Refund.order_id == order.id,
            Refund.automatic.is_(False),
            Refund.status != RefundState.FAILED,
        )
    )
    fees_taken = fee_service.charged_fee_minor(session, order.id, order.currency)
    return order.amount_paid_minor - int(taken or 0) - fees_taken


def convert_paid_order(session: Session, order: Order) -> SettlementConversion | None:
    """Convert what ``order`` (locked, paid) left in its currency, once; raises
    :class:`FxRateUnavailable` without a fresh rate. None when nothing is to be converted."""
    target = _target(session, order)
    if target is None or order.paid_attempt_id is None:
        return None
    existing = conversion_of(session, order.id)
    if existing is not None:
        return existing
    currency, settings = target
    amount = _unrefunded(session, order)
    if amount <= 0:
        return None
    now = clock.now()
    use = rate_to_use(
        session,
        order.currency,
        currency,
        at=now,
        max_age=timedelta(seconds=settings.fx_rate_max_age_s),
    )
    rounding = Rounding(settings.fx_rounding)
    converted = convert(amount, order.currency, currency, use.rate, rounding)
    journal_id = _move(
        session,
        order.merchant_id,
        f"fx:{order.id}",
        "fx.settlement",
        (order.currency, amount),
        (currency, converted),
        {"order_id": order.id, "rate": rate_text(use.rate), "rate_id": use.record.id},
    )
    conversion = SettlementConversion(
        id=new_id("fxc"),
        merchant_id=order.merchant_id,
        order_id=order.id,
        attempt_id=order.paid_attempt_id,
        from_currency=order.currency,
        from_amount_minor=amount,
        to_currency=currency,
        to_amount_minor=converted,
        rate=rate_text(use.rate),
        rate_id=use.record.id,
        rate_source=use.record.source,
        rate_as_of=use.record.as_of,
        rate_inverted=use.inverted,
        rounding=rounding.value,
        journal_id=journal_id,
        given_back_from_minor=0,
        given_back_to_minor=0,
        created_at=now,
    )
    session.add(conversion)
    session.flush()
    return conversion


def after_payment(session: Session, order: Order, attempt: PaymentAttempt) -> None:
    """The order was just paid by ``attempt`` (in this transaction): convert now, or leave it
    to the job when no fresh rate is recorded."""
    if _target(session, order) is None:
        return
    try:
        convert_paid_order(session, order)
    except FxRateUnavailable as exc:
        log.warning("settlement_conversion_waits", order_id=order.id, reason=exc.message)
        jobs.enqueue(
            session,
            CONVERT_JOB,
            {"order_id": order.id},
            merchant_id=order.merchant_id,
            dedupe_key=f"fx:{order.id}",
            attempts_max=CONVERT_ATTEMPTS_MAX,
        )


def give_back(session: Session, order: Order, refund: Refund) -> None:
    """Before a refund of a converted payment takes money from the order-currency receivable,
    convert its part back at the same rate, and note both amounts on the refund
    (``settlement_back_from_minor``, ``settlement_back_minor``). ``exceeds_floor`` if the
    merchant's settlement receivable cannot cover it."""
    conversion = session.scalars(
        sa.select(SettlementConversion)
        .where(SettlementConversion.order_id == order.id)
        .with_for_update()
    ).first()
    if conversion is None:
        return
    left = conversion.from_amount_minor - conversion.given_back_from_minor
    part = min(refund.amount_minor, left)
    if part <= 0:
        return
    back = back_part(
        part,
        conversion.from_amount_minor,
        conversion.to_amount_minor,
        conversion.given_back_from_minor,
        conversion.given_back_to_minor,
        Rounding(conversion.rounding),
    )
    _move(
        session,
        order.merchant_id,
        f"fx:{refund.id}:back",
        "fx.refund",
        (conversion.to_currency, back),
        (conversion.from_currency, part),
        {"order_id": order.id, "refund_id": refund.id, "rate": conversion.rate},
    )
    conversion.given_back_from_minor += part
    conversion.given_back_to_minor += back
    refund.settlement_back_from_minor, refund.settlement_back_minor = part, back


def restore(session: Session, order: Order, refund: Refund) -> None:
    """A refund whose part was converted back failed: convert the same amounts forward again
    (after its money returned to the order-currency receivable)."""
    part, back = refund.settlement_back_from_minor, refund.settlement_back_minor
    if not part or back is None:
        return
    conversion = session.scalars(
        sa.select(SettlementConversion)
        .where(SettlementConversion.order_id == order.id)
        .with_for_update()
    ).one()
    _move(
        session,
        order.merchant_id,
        f"fx:{refund.id}:restore",
        "fx.refund_failed",
        (conversion.from_currency, part),
        (conversion.to_currency, back),
        {"order_id": order.id, "refund_id": refund.id, "rate": conversion.rate},
    )
    conversion.given_back_from_minor -= part
    conversion.given_back_to_minor -= back


@job_handler(CONVERT_JOB)
def convert_settlement_job(ctx: JobContext) -> None:
    """Convert a paid order whose payment found no fresh rate; look again later until one is
    recorded."""
    order = lock_order(ctx.session, str(ctx.payload["order_id"]))
    try:
        convert_paid_order(ctx.session, order)
    except FxRateUnavailable as exc:
        raise RetryJobAt(
            exc.message, retry_at=clock.now() + timedelta(seconds=CONVERT_RETRY_S)
        ) from None
