"""Request and response bodies of the orders API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paydesk.merchants.schemas import Strict
from paydesk.payments.methods import PayInput, PointsPart
from paydesk.payments.orders import OrderPurpose
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
    purpose: OrderPurpose = Field(
        default=OrderPurpose.PURCHASE,
        description="purchase, or wallet_recharge: the payment tops up user_id's wallet.",
    )


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_order_no: str
    livemode: bool
    purpose: OrderPurpose
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
    paid_attempt_id: str | None
    paid_at: datetime | None
    closed_at: datetime | None
    created_at: datetime


class PointsIn(Strict):
    currency: str = Field(min_length=1, max_length=16, description="The app's points currency.")
    amount: int = Field(description="Points spent, in minor units of the points currency.")
    covers: int = Field(description="How much of the order's amount the points pay.")


class PayRequest(Strict):
    method: str = Field(
        description="balance, points, points_cash, prepaid_card, wechat_native, wechat_jsapi, "
        "wechat_h5, wechat_app, alipay_qr, alipay_page, alipay_wap, alipay_app, unionpay_page, "
        "unionpay_wap, qq_native, qq_jsapi, qq_app, card."
    )
    user_id: str | None = Field(default=None, max_length=128, description="Default: the order's.")
    channel_account_id: str | None = Field(
        default=None,
        max_length=40,
        description="Which channel account; default: the merchant's only active one for the "
        "method's channel in the key's mode.",
    )
    payer_id: str | None = Field(
        default=None, max_length=128, description="The payer at the channel (JSAPI openid)."
    )
    client_ip: str | None = Field(default=None, max_length=45)
    return_url: str | None = Field(default=None, max_length=500)
    points: PointsIn | None = Field(default=None, description="For points and points_cash.")
    card_code: str | None = Field(default=None, max_length=64, description="For prepaid_card.")
    payment_token: str | None = Field(
        default=None,
        max_length=255,
        description="For card: the payer's card as a token of the channel's client library "
        "(a Stripe PaymentMethod id); the payment is confirmed at once.",
    )

    def to_input(self) -> PayInput:
        points = self.points
        return PayInput(
            method=self.method,
            user_id=self.user_id,
            channel_account_id=self.channel_account_id,
            payer_id=self.payer_id,
            client_ip=self.client_ip,
            return_url=self.return_url,
            points=PointsPart(points.currency, points.amount, points.covers) if points else None,
            card_code=self.card_code,
            payment_token=self.payment_token,
        )


class ActionOut(BaseModel):
    """What the payer needs: scan ``qr_code``, go to ``redirect_url``, or hand ``sdk_params``
    to the channel's JS bridge or app SDK."""

    kind: str
    qr_code: str | None = None
    redirect_url: str | None = None
    sdk_params: dict[str, str] = Field(default_factory=dict)
    form_fields: dict[str, str] = Field(default_factory=dict)
    """For ``form_post``: the fields the payer's browser posts to ``redirect_url``."""


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    method: str
    channel: str
    channel_account_id: str | None
    status: str
    amount: int = Field(validation_alias="amount_minor")
    currency: str
    journal_id: str | None
    channel_trade_no: str | None
    failure_code: str | None
    failure_message: str | None
    action: ActionOut | None
    created_at: datetime
    succeeded_at: datetime | None


class PaymentOut(BaseModel):
    order: OrderOut
    attempt: AttemptOut


class OrderDetailOut(OrderOut):
    attempts: list[AttemptOut]


class RoutingDecisionOut(BaseModel):
    """One routing decision: the rule and strategy, the account chosen, and every candidate
    with its cost, success rate, weight, circuit and score, or why it was skipped."""

    attempt_id: str
    """The attempt the decision made."""
    method: str
    policy_version: int
    rule: str
    strategy: str
    chosen_account_id: str | None
    failover_from: str | None
    reason: str
    candidates: list[dict[str, Any]]
    decided_at: datetime
