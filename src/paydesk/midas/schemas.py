"""Request and response bodies of the merchant-side Midas API (``/v1``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from paydesk.merchants.schemas import Strict


class MidasConfigCreate(Strict):
    appid: str = Field(
        min_length=1, max_length=64, description="The WeChat-style app id clients send."
    )
    offer_id: str = Field(min_length=1, max_length=64)
    currency: str = Field(
        min_length=3, max_length=16, description="A virtual currency of kind coins of the app."
    )


class MidasConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    app_id: str
    appid: str
    offer_id: str
    currency: str
    created_at: datetime
    updated_at: datetime


class MidasConfigIssued(MidasConfigOut):
    app_key: str = Field(description="Keys sig. Shown this once; store it now.")
    app_secret: str = Field(description="Buys access tokens. Shown this once; store it now.")


class MidasSessionCreate(Strict):
    openid: str = Field(min_length=1, max_length=128)
    session_key: str = Field(min_length=1, max_length=128)


class MidasSessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    app_id: str
    openid: str
    updated_at: datetime
