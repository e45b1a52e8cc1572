"""Expiring lots: gifted coins and points that expire a set time after they were credited.

A credit to an expiring part records a lot. A spend uses the lots that expire first; what
the lots do not cover comes from value that never expires. The schedule
``wallet.expire_lots`` moves what is left of each expired lot to the merchant's ``expired``
account, one balanced journal per lot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from paydesk.core import clock
from paydesk.core.ids import new_id
from paydesk.jobs.registry import JobContext, job_handler, register_schedule
from paydesk.ledger import repository as ledger_repo
from paydesk.ledger.domain import Leg
from paydesk.ledger.errors import ExceedsFloor
from paydesk.ledger.models import LedgerAccount
from paydesk.ledger.posting import post_journal
from paydesk.wallet.accounts import Counterpart, merchant_account
from paydesk.wallet.models import WalletLot

EXPIRE_BATCH_MAX = 500
EXPIRE_JOB = "wallet.expire_lots"

log = structlog.get_logger(__name__)


def add_lot(
    session: Session, account: LedgerAccount, journal_id: str, amount: int, ttl_days: int
) -> None:
    now = clock.now()
    session.add(
        WalletLot(
            id=new_id("lot"),
            merchant_id=account.merchant_id,
            account_id=account.id,
            journal_id=journal_id,
            amount=amount,
            amount_remaining=amount,
            expires_at=now + timedelta(days=ttl_days),
            created_at=now,
        )
    )
    session.flush()


def spend_lots(session: Session, account_id: str, amount: int) -> None:
    """Use ``amount`` from the account's lots, earliest expiry first."""
    lots = session.scalars(
        sa.select(WalletLot)
        .where(WalletLot.account_id == account_id, WalletLot.amount_remaining > 0)
        .order_by(WalletLot.expires_at, WalletLot.id)
        .with_for_update()
    ).all()
    left = amount
    for lot in lots:
        if left == 0:
            break
        used = min(lot.amount_remaining, left)
        lot.amount_remaining -= used
        left -= used
    session.flush()


def expire_due_lots(session: Session, now: datetime, limit: int = EXPIRE_BATCH_MAX) -> int:
    """Expire up to ``limit`` lots past their expiry; returns how many were expired."""
    lots = session.scalars(
        sa.select(WalletLot)
        .where(WalletLot.expires_at <= now, WalletLot.amount_remaining > 0)
        .order_by(WalletLot.expires_at, WalletLot.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for lot in lots:
        account = session.get(LedgerAccount, lot.account_id)
        assert account is not None
        posted, pending = ledger_repo.totals(session, [account.id])[account.id]
        amount = min(lot.amount_remaining, posted - pending)
        if amount > 0:
            target = merchant_account(
                session,
                account.merchant_id,
                account.app_id,
                Counterpart.EXPIRED,
                account.currency,
            )
            try:
                with session.begin_nested():  # a refused posting must leave no journal behind
                    post_journal(
                        session,
                        merchant_id=account.merchant_id,
                        idempotency_key=f"wallet.expire:{lot.id}",
                        legs=[
                            Leg(account.id, -amount, account.currency),
                            Leg(target.id, amount, account.currency),
                        ],
                        kind="wallet.expire",
                        memo=f"expiry of lot {lot.id}",
                        meta={"lot_id": lot.id, "user_id": account.owner_id},
                    )
            except ExceedsFloor:  # spent or reserved meanwhile: nothing left to expire
                amount = 0
        lot.amount_remaining = 0
        log.info("lot_expired", lot_id=lot.id, amount=amount)
    session.flush()
    return len(lots)


@job_handler(EXPIRE_JOB)
def expire_lots_job(ctx: JobContext) -> None:
    expire_due_lots(ctx.session, clock.now())


register_schedule("expire_wallet_lots", EXPIRE_JOB, interval_s=300)
