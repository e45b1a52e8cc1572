"""Request and response bodies of the wallet API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from paydesk.merchants.schemas import Strict
from paydesk.wallet.accounts import Part
from paydesk.wallet.models import SpendOrder


class WalletTarget(Strict):
    app_id: str | None = Field(default=None, description="Default: the key's own app.")
    zone: str = Field(default="", max_length=40)


class Movement(WalletTarget):
    currency: str = Field(min_length=3, max_length=16)
    amount: int = Field(description="Minor units, more than zero.")
    reference: str = Field(
        min_length=1, max_length=128, description="Your id for this operation; repeats replay."
    )
    memo: str = Field(default="", max_length=500)


class TransferRequest(Movement):
    to_user_id: str = Field(min_length=1, max_length=128)


class CancelRequest(WalletTarget):
    consume_reference: str = Field(min_length=1, max_length=128)
    reference: str = Field(min_length=1, max_length=128)


class WithdrawRequest(WalletTarget):
    currency: str = Field(min_length=3, max_length=16)
    amount: int
    reference: str = Field(min_length=1, max_length=128)
    ttl_s: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600)


class FreezeRequest(WalletTarget):
    currency: str | None = None


class OperationOut(BaseModel):
    journal_id: str
    replayed: bool
    parts: dict[str, int]
    balance: CurrencyBalanceOut


class CurrencyBalanceOut(BaseModel):
    currency: str
    balance: int
    available: int
    pending: int
    paid: int
    gifted: int
    frozen: bool


class WalletOut(BaseModel):
    user_id: str
    app_id: str
    zone: str
    balances: list[CurrencyBalanceOut]


class TotalsOut(BaseModel):
    currency: str
    saved: int
    spent: int
    presented: int
    expired: int
    withdrawn: int


class StatementLineOut(BaseModel):
    entry_id: int
    journal_id: str
    kind: str
    memo: str
    amount: int
    currency: str
    posted_at: datetime
    balance_after: int


class StatementOut(BaseModel):
    account_id: str
    currency: str
    part: Part
    lines: list[StatementLineOut]
    has_more: bool
    next_after: int | None


class HoldOut(BaseModel):
    id: str
    status: str
    amount: int
    amount_posted: int
    currency: str
    expires_at: datetime
    journal_id: str | None


class WalletSettingsBody(Strict):
    spend_order: SpendOrder = SpendOrder.GIFTED_FIRST
    gifted_ttl_days: int | None = Field(default=None, ge=1, le=3650)
    points_ttl_days: int | None = Field(default=None, ge=1, le=3650)


OperationOut.model_rebuild()


class MerchantBalanceOut(BaseModel):
    account_id: str
    app_id: str
    kind: str
    currency: str
    balance: int
    available: int
