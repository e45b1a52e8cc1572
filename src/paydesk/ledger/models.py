"""Ledger tables.

Sign convention: an entry's ``amount`` is signed; a positive amount raises the account's
balance, a negative one lowers it. Every journal's entries sum to zero per currency, so the
balances of all accounts in one currency always sum to zero too. A user wallet holding 100
stands against a clearing account at -100.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class FloorRule(StrEnum):
    NON_NEGATIVE = "non_negative"
    """Available balance (balance - pending debits) may not go below zero. User and merchant
    balances."""
    UNBOUNDED = "unbounded"
    """May go negative without limit: clearing, platform and campaign accounts."""
    OVERDRAFT = "overdraft"
    """May go down to ``-overdraft_limit``."""


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    """Takes credits, refuses debits and new holds."""
    CLOSED = "closed"
    """Takes nothing. Only an account at zero with no pending hold can be closed."""


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        sa.UniqueConstraint(
            "merchant_id", "app_id", "owner_type", "owner_id", "kind", "currency", "zone"
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    app_id: Mapped[str] = mapped_column(sa.String(40))
    """The app the account belongs to, or ``""`` for merchant-wide accounts."""
    owner_type: Mapped[str] = mapped_column(sa.String(20))
    """``user``, ``merchant``, ``platform``, ``channel``, ``campaign``, ``card`` ..."""
    owner_id: Mapped[str] = mapped_column(sa.String(128))
    """The owner's id in its own namespace (a user's openid, a merchant id, a channel name)."""
    kind: Mapped[str] = mapped_column(sa.String(40))
    """What the account holds: ``cash``, ``coins_paid``, ``coins_gifted``, ``points``,
    ``receivable``, ``clearing``, ``revenue`` ..."""
    currency: Mapped[str] = mapped_column(sa.String(16))
    zone: Mapped[str] = mapped_column(sa.String(40))
    """A partition of the owner's balances (a game's server zone); ``""`` for none."""
    floor_rule: Mapped[str] = mapped_column(sa.String(20))
    overdraft_limit: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units below zero the available balance may reach (only with ``overdraft``)."""
    status: Mapped[str] = mapped_column(sa.String(10))
    slots: Mapped[int] = mapped_column(sa.SmallInteger)
    """Balance rows the account is spread over. 1 for ordinary accounts; more for hot
    accounts (clearing, revenue, a big merchant's receivable) so concurrent postings to them
    do not queue on one row."""
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    """The master account of a sub-account."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerBalance(Base):
    """One slot of an account's balance; the balance is the sum over its slots."""

    __tablename__ = "ledger_balances"

    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"), primary_key=True)
    slot: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    balance: Mapped[int] = mapped_column(sa.BigInteger)
    """Posted balance of this slot, minor units, signed."""
    pending_debit: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units reserved by pending holds (kept on slot 0 only)."""


class Journal(Base):
    __tablename__ = "ledger_journals"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    """SHA-256 of the journal's content: a replay must match it."""
    kind: Mapped[str] = mapped_column(sa.String(40))
    memo: Mapped[str] = mapped_column(sa.String(500))
    reverses_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("ledger_journals.id"), unique=True
    )
    """The journal this one reverses (at most one reversal per journal)."""
    hold_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    """The hold this journal posted, if any."""
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Entry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (sa.Index("ix_ledger_entries_account_posted", "account_id", "posted_at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    journal_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_journals.id"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    """Signed minor units: positive raises the account's balance."""
    currency: Mapped[str] = mapped_column(sa.String(16))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Hold(Base):
    """A two-phase transfer: ``amount`` reserved on the debit account until posted or voided."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "idempotency_key"),
        sa.Index("ix_ledger_holds_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    debit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units reserved."""
    amount_posted: Mapped[int] = mapped_column(sa.BigInteger)
    """Minor units moved when the hold was posted (at most ``amount``); 0 until then."""
    currency: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(10))
    memo: Mapped[str] = mapped_column(sa.String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
