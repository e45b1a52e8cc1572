"""Request and response bodies of the merchants API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from paydesk.merchants.models import KeyMode, MerchantKind, MerchantStatus, VirtualKind


class Strict(BaseModel):
    """Request bodies reject unknown fields: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MerchantCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: MerchantKind = MerchantKind.MERCHANT
    parent_id: str | None = Field(default=None, description="Default: under the platform.")


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    parent_id: str | None
    kind: MerchantKind
    name: str
    status: MerchantStatus
    depth: int
    created_at: datetime


class AppCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    merchant_id: str | None = Field(default=None, description="Admin keys only.")


class AppUpdate(Strict):
    name: str = Field(min_length=1, max_length=200)


class AppOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_id: str
    name: str
    created_at: datetime


class KeyCreate(Strict):
    mode: KeyMode = KeyMode.TEST
    app_id: str | None = None
    label: str = Field(default="", max_length=200)
    merchant_id: str | None = Field(default=None, description="Admin keys only.")


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    merchant_id: str
    app_id: str | None
    role: str
    mode: KeyMode
    display_prefix: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    secret: str = Field(description="The key itself. Shown this once; store it now.")


class VirtualCurrencyCreate(Strict):
    code: str = Field(min_length=3, max_length=16)
    exponent: int = Field(ge=0, le=8)
    name: str = Field(min_length=1, max_length=100)
    kind: VirtualKind = VirtualKind.COINS


class VirtualCurrencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    app_id: str
    code: str
    exponent: int
    name: str
    kind: VirtualKind
