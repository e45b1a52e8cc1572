"""Request and response bodies of the orders API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from paydesk.merchants.schemas import Strict
from paydesk.payments.states import OrderStatus


class OrderCreate(Strict):
    merchant_order_no: str = Field(min_length=1, max_length=64)
    amount: int = Field(description="Minor units of currency (fen for CNY), more than zero.")
    currency: str = Field(min_length=3, max_length=3)
    subject: str = Field(min_length=1, max_length=128)
    app_id: str | None = None
    user_id: str | None = Field(default=None, max_length=128)
    notify_url: str | None = Field(default=None, max_length=500)
    expires_in_s: int = Field(default=1800, description="1 minute to 7 days.")
    metadata: dict[str, str] = Field(default_factory=dict)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_order_no: str
    livemode: bool
    status: OrderStatus
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    amount_paid: int = Field(validation_alias="amount_paid_minor")
    amount_refunded: int = Field(validation_alias="amount_refunded_minor")
    subject: str
    app_id: str | None
    user_id: str | None
    notify_url: str | None
    metadata: dict[str, str] = Field(validation_alias="meta")
    expires_at: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


class PayRequest(Strict):
    method: str = Field(description="balance (more methods follow).")
    user_id: str | None = Field(default=None, max_length=128, description="Default: the order's.")


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    method: str
    channel: str
    status: str
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    journal_id: str | None
    created_at: datetime
    succeeded_at: datetime | None


class PaymentOut(BaseModel):
    order: OrderOut
    attempt: AttemptOut
