"""A QQ Wallet account's credentials, as an operator enters them: :class:`QQWalletCredentials`.

The API key, the operator password and the optional open-platform AppKey are secrets: they are
left out of ``repr``. The merchant API certificate that refunds at the real host ask for is not
part of the credentials (it is a pair of PEM files given to ``QQWalletConfig``); see
docs/channels-qqwallet.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from paydesk.channels.accounts.credentials import ChannelCredentials
from paydesk.channels.base import Connector
from paydesk.channels.qqwallet.config import (
    API_KEY_LENGTH,
    QQWALLET_GATEWAY_URL,
    TIMEOUT_S_DEFAULT,
    QQWalletConfig,
    SignType,
)
from paydesk.channels.qqwallet.connector import QQWalletConnector

PASSWORD_LENGTH_MAX = 128
APP_KEY_LENGTH_MAX = 64


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value


class QQWalletCredentials(ChannelCredentials):
    """A QQ Wallet merchant (商户号) with its API key and refund operator."""

    mch_id: str = Field(pattern=r"^[0-9]{1,32}$", description="The merchant number (商户号).")
    appid: str | None = Field(
        default=None,
        pattern=r"^[0-9A-Za-z_]{1,32}$",
        description="The app id at the Tencent open platform (needed for QQ_APP).",
    )
    api_key: str = Field(repr=False, description="Secret. The API key: 32 printable ASCII.")
    sign_type: Literal["MD5", "HMAC-SHA256"] = Field(
        default="HMAC-SHA256", description="How requests, answers and notifications are signed."
    )
    op_user_id: str = Field(
        pattern=r"^[\x21-\x7e]{1,64}$", description="The operator that refunds (操作员帐号)."
    )
    op_user_password: str = Field(
        repr=False,
        min_length=1,
        max_length=PASSWORD_LENGTH_MAX,
        description="Secret. The operator's password (only its MD5 is sent).",
    )
    app_key: str | None = Field(
        default=None,
        repr=False,
        min_length=1,
        max_length=APP_KEY_LENGTH_MAX,
        description="Secret. The open-platform AppKey of appid: signs QQ_APP's SDK parameters.",
    )

    @field_validator("api_key")
    @classmethod
    def check_api_key(cls, value: str) -> str:
        if len(value) != API_KEY_LENGTH or not _printable_ascii(value):
            raise ValueError(f"must be {API_KEY_LENGTH} printable ASCII characters")
        return value

    @field_validator("app_key")
    @classmethod
    def check_app_key(cls, value: str | None) -> str | None:
        if value is not None and not _printable_ascii(value):
            raise ValueError("must be printable ASCII")
        return value

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        """``gateway_url`` None: QQ Wallet itself; ``sandbox`` changes nothing, as the QQ Wallet
        simulator speaks QQ Wallet's own protocol."""
        config = QQWalletConfig(
            mch_id=self.mch_id,
            api_key=self.api_key,
            op_user_id=self.op_user_id,
            op_user_password=self.op_user_password,
            sign_type=SignType(self.sign_type),
            appid=self.appid,
            app_key=self.app_key,
            gateway_url=gateway_url or QQWALLET_GATEWAY_URL,
            timeout_s=timeout_s or TIMEOUT_S_DEFAULT,
        )
        return QQWalletConnector(config)
