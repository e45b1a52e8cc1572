"""Payment tables: orders, payment attempts, refunds and per-merchant payment settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from paydesk.db.base import Base, JSONType, UTCDateTime


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "merchant_order_no"),
        sa.Index("ix_orders_merchant_created", "merchant_id", "livemode", "id"),
        sa.Index("ix_orders_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    app_id: Mapped[str | None] = mapped_column(sa.ForeignKey("apps.id"))
    livemode: Mapped[bool] = mapped_column(sa.Boolean)
    """False for orders created with a test-mode key: they only ever reach sandbox channels."""
    merchant_order_no: Mapped[str] = mapped_column(sa.String(64))
    """The merchant's own order number, unique per merchant."""
    purpose: Mapped[str] = mapped_column(sa.String(20), server_default="purchase")
    """``purchase`` (paid to the merchant) or ``wallet_recharge`` (paid into the user's wallet
    in the order's currency)."""
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """What the payer owes, in minor units of ``currency``."""
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_paid_minor: Mapped[int] = mapped_column(sa.BigInteger)
    amount_refunded_minor: Mapped[int] = mapped_column(sa.BigInteger)
    subject: Mapped[str] = mapped_column(sa.String(128))
    user_id: Mapped[str | None] = mapped_column(sa.String(128))
    notify_url: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(20))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_attempt_id: Mapped[str | None] = mapped_column(sa.String(40))
    """The attempt that paid the order (any other successful attempt is refunded)."""
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentAttempt(Base):
    """One try at paying an order through one method; at most one per order succeeds."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        sa.UniqueConstraint("channel", "out_trade_no"),
        sa.Index("ix_payment_attempts_account_created", "channel_account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(30))
    channel: Mapped[str] = mapped_column(sa.String(20))
    """``wallet`` for platform instruments, else the channel's name."""
    channel_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    """Our id for this attempt at the channel."""
    status: Mapped[str] = mapped_column(sa.String(20))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    """The ledger journal that moved the money when the attempt succeeded."""
    channel_trade_no: Mapped[str | None] = mapped_column(sa.String(64))
    failure_code: Mapped[str | None] = mapped_column(sa.String(60))
    failure_message: Mapped[str | None] = mapped_column(sa.String(300))
    action: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    """Why the router chose this attempt's account (docs/routing.md); None when the payer
    named the account or paid with a platform instrument."""
    """What the payer needs (QR code, redirect, SDK parameters), kept to answer a replay."""
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default="{}")
    """Instrument details: the points part of points + cash, the prepaid card's last digits."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Refund(Base):
    """Money going back to the payer of one succeeded attempt, in part or in full."""

    __tablename__ = "refunds"
    __table_args__ = (
        sa.Index("ix_refunds_merchant", "merchant_id", "livemode", "id"),
        sa.Index("ix_refunds_order", "order_id"),
        sa.Index("ix_refunds_attempt", "attempt_id", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    """Also our refund number at the channel (``out_refund_no``)."""
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(sa.Boolean)
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"))
    attempt_id: Mapped[str] = mapped_column(sa.ForeignKey("payment_attempts.id"))
    channel: Mapped[str] = mapped_column(sa.String(20))
    channel_account_id: Mapped[str | None] = mapped_column(sa.String(40))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(200))
    automatic: Mapped[bool] = mapped_column(sa.Boolean)
    """True for a refund Paydesk started itself (a second payment of a paid order)."""
    channel_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    """The journal that set the money aside when the refund was accepted."""
    settle_journal_id: Mapped[str | None] = mapped_column(sa.String(40))
    """The journal that completed it: paid back to the channel, or returned to the merchant."""
    settlement_back_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    """For a converted payment: the settlement-currency amount converted back for this refund
    (converted again at the same rate if the refund fails)."""
    settlement_back_from_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    """The order-currency amount that came back with it: the refund, less any part of it that
    was never converted (the merchant fee taken before the conversion)."""
    failure_code: Mapped[str | None] = mapped_column(sa.String(60))
    failure_message: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PaymentSettings(Base):
    """A merchant's payment rules; a merchant without a row has the defaults."""

    __tablename__ = "payment_settings"

    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"), primary_key=True)
    refund_window_days: Mapped[int] = mapped_column(sa.Integer)
    settlement_currency: Mapped[str | None] = mapped_column(sa.String(3))
    """Channel payments in another currency are converted into it (docs/fx.md); None: the
    merchant is settled in each order's own currency."""
    fx_rounding: Mapped[str] = mapped_column(sa.String(20), server_default="half_even")
    fx_rate_max_age_s: Mapped[int] = mapped_column(sa.Integer, server_default="86400")
    """A rate older than this is not used: the conversion waits for a fresh one."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettlementConversion(Base):
    """A channel payment converted into the merchant's settlement currency, once: both
    amounts, the rate with its source and time, the rounding; and how much of it refunds
    have given back."""

    __tablename__ = "settlement_conversions"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(sa.ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    attempt_id: Mapped[str] = mapped_column(sa.String(40))
    from_currency: Mapped[str] = mapped_column(sa.String(3))
    from_amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    to_currency: Mapped[str] = mapped_column(sa.String(3))
    to_amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    rate: Mapped[str] = mapped_column(sa.String(80))
    """Units of ``to_currency`` per unit of ``from_currency``, exact text."""
    rate_id: Mapped[str] = mapped_column(sa.String(40))
    rate_source: Mapped[str] = mapped_column(sa.String(100))
    rate_as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    rate_inverted: Mapped[bool] = mapped_column(sa.Boolean)
    """The recorded rate was ``to -> from`` and is used inverted, exactly."""
    rounding: Mapped[str] = mapped_column(sa.String(20))
    journal_id: Mapped[str] = mapped_column(sa.String(40))
    given_back_from_minor: Mapped[int] = mapped_column(sa.BigInteger)
    """What refunds have converted back, in each currency."""
    given_back_to_minor: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
