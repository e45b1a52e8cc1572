"""The channels an account can be opened at: per channel, the credentials it takes, which of
them are secret or shown, and how they become a connector.

Adding a channel is one :class:`ChannelCredentials` model and one :class:`ChannelSpec` here.
Credentials are checked before anything is stored: unknown fields are refused (a typo must not
silently drop a key), each PEM must parse as an RSA key of at least 2048 bits (both channels
sign with SHA256withRSA), and the connector must build from them, so a stored account always
makes a connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError, field_validator

from paydesk.channels.accounts.credentials import (
    PEM_LENGTH_MAX,
    ChannelCredentials,
    rsa_private_pem,
    rsa_public_pem,
)
from paydesk.channels.accounts.errors import InvalidCredentials, UnknownChannel
from paydesk.channels.accounts.models import ChannelAccount, ChannelAccountMode
from paydesk.channels.alipay import ALIPAY_GATEWAY_URL, AlipayConfig, AlipayConnector
from paydesk.channels.alipay.config import TIMEOUT_S_DEFAULT as ALIPAY_TIMEOUT_S
from paydesk.channels.base import Connector, Method
from paydesk.channels.qqwallet import QQWalletConnector
from paydesk.channels.qqwallet.credentials import QQWalletCredentials
from paydesk.channels.stripe import StripeConnector, StripeCredentials
from paydesk.channels.unionpay import UnionPayConnector
from paydesk.channels.unionpay.credentials import UnionPayCredentials
from paydesk.channels.wechatpay import (
    WECHATPAY_GATEWAY_URL,
    WeChatPayConfig,
    WeChatPayConnector,
)
from paydesk.channels.wechatpay.config import TIMEOUT_S_DEFAULT as WECHATPAY_TIMEOUT_S

APIV3_KEY_LENGTH = 32


class WeChatPayCredentials(ChannelCredentials):
    """A WeChat Pay API v3 merchant in platform-public-key mode (see ``WeChatPayConfig``)."""

    mchid: str = Field(pattern=r"^[0-9]{1,32}$", description="The merchant number (商户号).")
    appid: str = Field(pattern=r"^[A-Za-z0-9_]{1,32}$", description="The bound app id.")
    merchant_private_key_pem: str = Field(
        max_length=PEM_LENGTH_MAX, repr=False, description="Secret."
    )
    merchant_cert_serial_no: str = Field(pattern=r"^[0-9A-Fa-f]{1,64}$")
    platform_public_key_pem: str = Field(max_length=PEM_LENGTH_MAX, repr=False)
    public_key_id: str = Field(pattern=r"^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$")
    apiv3_key: str = Field(repr=False, description="Secret. 32 ASCII characters.")

    check_private_key = field_validator("merchant_private_key_pem")(rsa_private_pem)
    check_public_key = field_validator("platform_public_key_pem")(rsa_public_pem)

    @field_validator("apiv3_key")
    @classmethod
    def check_apiv3_key(cls, value: str) -> str:
        if len(value) != APIV3_KEY_LENGTH or not value.isascii() or not value.isprintable():
            raise ValueError(f"must be {APIV3_KEY_LENGTH} printable ASCII characters")
        return value

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        config = WeChatPayConfig(
            mchid=self.mchid,
            appid=self.appid,
            merchant_private_key_pem=self.merchant_private_key_pem,
            merchant_cert_serial_no=self.merchant_cert_serial_no,
            platform_public_key_pem=self.platform_public_key_pem,
            public_key_id=self.public_key_id,
            apiv3_key=self.apiv3_key,
            gateway_url=gateway_url or WECHATPAY_GATEWAY_URL,
            timeout_s=timeout_s or WECHATPAY_TIMEOUT_S,
        )
        return WeChatPayConnector(config)


class AlipayCredentials(ChannelCredentials):
    """An Alipay open-platform app in public-key mode, signing with RSA2."""

    app_id: str = Field(pattern=r"^[0-9]{1,32}$")
    app_private_key_pem: str = Field(max_length=PEM_LENGTH_MAX, repr=False, description="Secret.")
    alipay_public_key_pem: str = Field(max_length=PEM_LENGTH_MAX, repr=False)
    seller_id: str | None = Field(
        default=None,
        pattern=r"^2088[0-9]{12}$",
        description="The partner id: notifications naming another seller are refused.",
    )

    check_private_key = field_validator("app_private_key_pem")(rsa_private_pem)
    check_public_key = field_validator("alipay_public_key_pem")(rsa_public_pem)

    def connector(
        self, gateway_url: str | None, timeout_s: float | None = None, *, sandbox: bool = False
    ) -> Connector:
        config = AlipayConfig(
            app_id=self.app_id,
            app_private_key_pem=self.app_private_key_pem,
            alipay_public_key_pem=self.alipay_public_key_pem,
            seller_id=self.seller_id,
            gateway_url=gateway_url or ALIPAY_GATEWAY_URL,
            timeout_s=timeout_s or ALIPAY_TIMEOUT_S,
        )
        return AlipayConnector(config)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    channel: str
    credentials: type[ChannelCredentials]
    public_fields: tuple[str, ...]
    """Shown to operators, and kept in clear beside the encrypted credentials."""
    secret_fields: tuple[str, ...]
    """Never shown, never logged; each is required, so every account has them all set."""
    identity_fields: tuple[str, ...]
    """Who the account is at the channel: rotation may not change them."""
    sandbox_path: str
    """The simulator's gateway below the sandbox mount (``<base>/wechatpay``)."""
    methods: tuple[Method, ...] = ()
    """The payment methods the channel serves: the router's candidates for a method are the
    accounts of every channel that serves it."""
    currencies: frozenset[str] | None = frozenset({"CNY"})
    """The ISO 4217 currencies its payments may be in; None: any (the channel says no to
    those it does not take)."""

    def __post_init__(self) -> None:
        fields = self.credentials.model_fields
        named = {*self.public_fields, *self.secret_fields, *self.identity_fields}
        if unknown := named - set(fields):
            raise ValueError(f"{self.channel}: no credential fields {sorted(unknown)}")
        if set(self.public_fields) & set(self.secret_fields):
            raise ValueError(f"{self.channel}: a field cannot be both public and secret")
        if not set(self.identity_fields) <= set(self.public_fields):
            raise ValueError(f"{self.channel}: identity fields must be public")
        if any(not fields[name].is_required() for name in self.secret_fields):
            raise ValueError(f"{self.channel}: secret fields must be required")


CHANNELS: Mapping[str, ChannelSpec] = {
    spec.channel: spec
    for spec in (
        ChannelSpec(
            channel=WeChatPayConnector.channel,
            credentials=WeChatPayCredentials,
            public_fields=("mchid", "appid", "merchant_cert_serial_no", "public_key_id"),
            secret_fields=("merchant_private_key_pem", "apiv3_key"),
            identity_fields=("mchid", "appid"),
            sandbox_path="/wechatpay",
            methods=(
                Method.WECHAT_NATIVE,
                Method.WECHAT_JSAPI,
                Method.WECHAT_APP,
                Method.WECHAT_H5,
            ),
        ),
        ChannelSpec(
            channel=AlipayConnector.channel,
            credentials=AlipayCredentials,
            public_fields=("app_id", "seller_id"),
            secret_fields=("app_private_key_pem",),
            identity_fields=("app_id",),
            sandbox_path="/alipay/gateway.do",
            methods=(Method.ALIPAY_QR, Method.ALIPAY_PAGE, Method.ALIPAY_WAP, Method.ALIPAY_APP),
        ),
        ChannelSpec(
            channel=StripeConnector.channel,
            credentials=StripeCredentials,
            public_fields=("publishable_key",),
            secret_fields=("secret_key", "webhook_secret"),
            identity_fields=(),
            sandbox_path="/stripe",
            methods=(Method.CARD,),
            currencies=None,
        ),
        ChannelSpec(
            channel=QQWalletConnector.channel,
            credentials=QQWalletCredentials,
            public_fields=("mch_id", "appid", "sign_type", "op_user_id"),
            secret_fields=("api_key", "op_user_password"),
            identity_fields=("mch_id",),
            sandbox_path="/qqwallet",
            methods=(Method.QQ_NATIVE, Method.QQ_JSAPI, Method.QQ_APP),
        ),
        ChannelSpec(
            channel=UnionPayConnector.channel,
            credentials=UnionPayCredentials,
            public_fields=("mer_id", "sign_cert_id"),
            secret_fields=("sign_private_key_pem",),
            identity_fields=("mer_id",),
            sandbox_path="/unionpay",
            methods=(Method.UNIONPAY_PAGE, Method.UNIONPAY_WAP),
        ),
    )
}


def channels_serving(method: Method, currency: str | None = None) -> tuple[str, ...]:
    """The channels whose accounts can take a payment by ``method`` (in ``currency``)."""
    return tuple(
        spec.channel
        for spec in CHANNELS.values()
        if method in spec.methods
        and (currency is None or spec.currencies is None or currency in spec.currencies)
    )


def spec_of(channel: str) -> ChannelSpec:
    spec = CHANNELS.get(channel)
    if spec is None:
        known = ", ".join(sorted(CHANNELS))
        raise UnknownChannel(f"unknown channel {channel!r}; one of: {known}", param="channel")
    return spec


_PROBLEMS: Mapping[str, str] = {
    "extra_forbidden": "unknown credential field for {channel}",
    "missing": "required for {channel}",
}


def _problem(channel: str, exc: ValidationError) -> InvalidCredentials:
    """The first validation problem, told without quoting the value (it may be a secret)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    param = f"credentials.{field}" if field else "credentials"
    template = _PROBLEMS.get(first["type"])
    detail = template.format(channel=channel) if template else first["msg"]
    return InvalidCredentials(f"{param}: {detail.removeprefix('Value error, ')}", param=param)


def parse_credentials(channel: str, raw: Mapping[str, Any]) -> ChannelCredentials:
    """The checked credentials of ``channel``; :class:`InvalidCredentials` naming the field
    otherwise. Also builds the connector once (no network), so a stored account always
    makes one."""
    spec = spec_of(channel)
    try:
        credentials = spec.credentials.model_validate(dict(raw))
    except ValidationError as exc:
        raise _problem(channel, exc) from None
    try:
        credentials.connector(None)
    except ValueError:
        raise InvalidCredentials(
            f"the {channel} client does not accept these credentials", param="credentials"
        ) from None
    return credentials


def public_values(channel: str, credentials: ChannelCredentials) -> dict[str, str]:
    """The fields an operator may see, those that are set."""
    values = {name: getattr(credentials, name) for name in spec_of(channel).public_fields}
    return {name: value for name, value in values.items() if value is not None}


def build_connector(
    account: ChannelAccount,
    credentials: ChannelCredentials,
    *,
    gateway_url: str | None,
    timeout_s: float | None = None,
) -> Connector:
    """The connector of ``account``; ``gateway_url`` None: the channel's real gateway."""
    spec = spec_of(account.channel)
    if not isinstance(credentials, spec.credentials):
        raise TypeError(f"{type(credentials).__name__} are not {account.channel} credentials")
    sandbox = account.mode == ChannelAccountMode.SANDBOX
    return credentials.connector(gateway_url, timeout_s, sandbox=sandbox)
