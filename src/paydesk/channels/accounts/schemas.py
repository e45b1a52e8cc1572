"""Request and response bodies of ``/v1/channel-accounts``. Responses carry no secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paydesk.channels.accounts.models import ChannelAccountMode, ChannelAccountStatus
from paydesk.merchants.schemas import Strict

CREDENTIALS_DESCRIPTION = (
    "The channel's credentials, checked against its schema (docs/channels.md). Stored "
    "encrypted; never returned."
)


class ChannelAccountCreate(Strict):
    channel: str = Field(min_length=1, max_length=20, description="wechatpay or alipay.")
    name: str = Field(min_length=1, max_length=200, description="Unique per merchant.")
    mode: ChannelAccountMode = ChannelAccountMode.SANDBOX
    credentials: dict[str, Any] = Field(description=CREDENTIALS_DESCRIPTION)
    merchant_id: str | None = Field(default=None, description="Admin keys only.")


class CredentialsRotate(Strict):
    credentials: dict[str, Any] = Field(description=CREDENTIALS_DESCRIPTION)


class ChannelAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_id: str
    channel: str
    name: str
    mode: ChannelAccountMode
    status: ChannelAccountStatus
    public_fields: dict[str, str] = Field(
        description="The credentials an operator may see: merchant number, app id."
    )
    secret_fields_set: list[str] = Field(description="Secret credentials stored, by name.")
    credentials_fingerprint: str = Field(
        description="Changes whenever the credentials are rotated."
    )
    gray_users: list[str] = Field(
        default_factory=list,
        description="Gray release: when not empty, only these users' payments are routed here.",
    )
    created_at: datetime
    updated_at: datetime


class GrayUsers(BaseModel):
    users: list[str] = Field(max_length=1000, description="Empty: every user.")
