"""Request and response bodies of the ledger API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paydesk.ledger.models import FloorRule
from paydesk.merchants.schemas import Strict


class AccountCreate(Strict):
    owner_type: str = Field(min_length=1, max_length=20)
    owner_id: str = Field(min_length=1, max_length=128)
    kind: str = Field(min_length=1, max_length=40)
    currency: str = Field(min_length=3, max_length=16)
    app_id: str = ""
    zone: str = Field(default="", max_length=40)
    floor_rule: FloorRule = FloorRule.NON_NEGATIVE
    overdraft_limit: int = Field(default=0, ge=0)
    slots: int = Field(default=1, ge=1, le=64)
    parent_id: str | None = Field(default=None, description="The master account.")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_type: str
    owner_id: str
    kind: str
    currency: str
    app_id: str
    zone: str
    floor_rule: FloorRule
    overdraft_limit: int
    status: str
    slots: int
    parent_id: str | None
    created_at: datetime


class BalanceOut(BaseModel):
    account_id: str
    currency: str
    balance: int
    pending_debit: int
    available: int
    as_of: datetime | None = None


class LegIn(Strict):
    account_id: str
    amount: int = Field(description="Signed minor units: positive raises the balance.")
    currency: str


class JournalCreate(Strict):
    idempotency_key: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=40)
    memo: str = Field(default="", max_length=500)
    legs: list[LegIn] = Field(min_length=1, max_length=64)
    meta: dict[str, Any] = Field(default_factory=dict)


class EntryOut(BaseModel):
    account_id: str
    amount: int
    currency: str


class JournalOut(BaseModel):
    id: str
    idempotency_key: str
    kind: str
    memo: str
    reverses_id: str | None
    posted_at: datetime
    replayed: bool
    entries: list[EntryOut]


class ReverseRequest(Strict):
    idempotency_key: str = Field(min_length=1, max_length=200)
    memo: str = Field(default="", max_length=500)


class HoldCreate(Strict):
    idempotency_key: str = Field(min_length=1, max_length=200)
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    expires_at: datetime
    memo: str = Field(default="", max_length=500)


class HoldPost(Strict):
    amount: int | None = None


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    amount_posted: int
    currency: str
    status: str
    expires_at: datetime
    journal_id: str | None
