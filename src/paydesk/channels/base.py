"""The connector protocol every channel implements, and the types it speaks.

A connector is built for one channel account (a merchant's credentials at one channel) and
does six flows: create a payment, query it, close it, refund, query a refund, and read a
notification (verify, decrypt, parse, and say how to acknowledge it); plus downloading a
statement for reconciliation. A flow the channel does not have raises
:class:`UnsupportedFlow`; a connector never pretends.

Amounts are integer minor units with an ISO 4217 code, whatever the channel's wire uses
(WeChat: fen as integers; Alipay: yuan as decimal strings). Every status a channel reports is
mapped exhaustively onto :class:`PaymentStatus` / :class:`RefundStatus`; an unknown status is
an error, not a guess. The amount and currency a channel echoes back are returned as-is so
the payments service can check them against the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from paydesk.core.errors import PaydeskError


class Method(StrEnum):
    """How the payer pays: what the payer's device receives differs per method."""

    WECHAT_NATIVE = "wechat_native"
    """A QR code the payer scans with WeChat."""
    WECHAT_JSAPI = "wechat_jsapi"
    """Inside WeChat (official account or mini program): parameters for the JS bridge."""
    WECHAT_APP = "wechat_app"
    WECHAT_H5 = "wechat_h5"
    """A mobile browser outside WeChat: a redirect URL."""
    ALIPAY_QR = "alipay_qr"
    ALIPAY_PAGE = "alipay_page"
    """A desktop browser: a redirect to the signed Alipay page."""
    ALIPAY_WAP = "alipay_wap"
    ALIPAY_APP = "alipay_app"
    UNIONPAY_PAGE = "unionpay_page"
    """A desktop browser: the payer's browser posts a signed form to the UnionPay gateway."""
    UNIONPAY_WAP = "unionpay_wap"
    """The same from a mobile browser."""
    QQ_NATIVE = "qq_native"
    """A QR code the payer scans with QQ."""
    QQ_JSAPI = "qq_jsapi"
    """Inside QQ: parameters for the QQ JS bridge."""
    QQ_APP = "qq_app"
    CARD = "card"
    """A bank card through a card acquirer (Stripe): the payer's card is confirmed with the
    ``client_secret`` (Stripe.js), or at once when the pay request carries a ``payment_token``
    (a PaymentMethod id the payer's device made from the card)."""


class ActionKind(StrEnum):
    QR_CODE = "qr_code"
    """Show ``qr_code`` to be scanned."""
    REDIRECT = "redirect"
    """Send the payer's browser to ``redirect_url``."""
    SDK_PARAMS = "sdk_params"
    """Hand ``sdk_params`` to the channel's JS bridge or app SDK."""
    FORM_POST = "form_post"
    """Have the payer's browser POST ``form_fields`` to ``redirect_url`` (UnionPay)."""
    NONE = "none"
    """Nothing for the payer to do: the channel is completing the payment (a card confirmed
    with a token); the result comes by notification or query."""


class PaymentStatus(StrEnum):
    PENDING = "pending"
    """Created at the channel, not paid (yet)."""
    SUCCEEDED = "succeeded"
    CLOSED = "closed"
    """Closed or expired unpaid; it can no longer be paid."""
    FAILED = "failed"
    REFUNDED = "refunded"
    """Paid, then refunded in part or in full (the channel's own view)."""


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    out_trade_no: str
    """Our id for the payment at the channel (unique per channel account)."""
    amount_minor: int
    currency: str
    subject: str
    method: Method
    notify_url: str
    expires_at: datetime
    payer_id: str | None = None
    """The payer's id at the channel, where the method needs it (WeChat JSAPI openid)."""
    client_ip: str | None = None
    return_url: str | None = None
    """Where a page payment sends the payer's browser afterwards."""
    payment_token: str | None = None
    """A token of the payer's instrument made by the channel's client library on the payer's
    device (a Stripe PaymentMethod id): the connector confirms the payment with it at once."""


@dataclass(frozen=True, slots=True)
class PaymentAction:
    """What the payer needs to pay."""

    kind: ActionKind
    qr_code: str | None = None
    redirect_url: str | None = None
    sdk_params: Mapping[str, str] = field(default_factory=dict)
    form_fields: Mapping[str, str] = field(default_factory=dict)
    channel_trade_no: str | None = None
    """The channel's id of the payment, where creating it gives one (a Stripe PaymentIntent):
    kept on the attempt and handed back to query, close and refund."""


@dataclass(frozen=True, slots=True)
class ChannelPayment:
    """A payment as the channel reports it."""

    out_trade_no: str
    status: PaymentStatus
    amount_minor: int
    """The amount the channel says (checked against the order by the caller)."""
    currency: str
    channel_trade_no: str | None = None
    paid_at: datetime | None = None
    payer_id: str | None = None
    raw_status: str = ""
    """The channel's own word for the status, for logs and operators."""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    """Our id for the refund at the channel."""
    refund_minor: int
    total_minor: int
    """The payment's whole amount (some channels require it)."""
    currency: str
    reason: str = ""
    notify_url: str | None = None
    channel_trade_no: str | None = None
    """The channel's id of the payment, when known."""


@dataclass(frozen=True, slots=True)
class ChannelRefund:
    out_refund_no: str
    status: RefundStatus
    refund_minor: int
    currency: str
    out_trade_no: str | None = None
    channel_refund_no: str | None = None
    succeeded_at: datetime | None = None
    raw_status: str = ""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The HTTP answer the channel expects to a notification."""

    status_code: int
    body: bytes
    media_type: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted notification: one payment or one refund update."""

    payment: ChannelPayment | None = None
    refund: ChannelRefund | None = None
    notification_id: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """A channel's statement file for one day, as downloaded."""

    day: date
    content: bytes
    file_name: str


class ChannelError(PaydeskError):
    """A channel call failed. ``transient``: the same call may succeed later."""

    status = 502
    code = "channel_error"


class ChannelTimeout(ChannelError):
    """No answer in time: the outcome is unknown, so the order centre must query."""

    code = "channel_timeout"
    transient = True


class ChannelUnavailable(ChannelError):
    code = "channel_unavailable"
    transient = True


class ChannelRejected(ChannelError):
    """The channel refused the request (bad parameters, order state): retrying won't help."""

    code = "channel_rejected"


class PaymentNotFound(ChannelRejected):
    """The channel has no payment with this number: the create call never reached it."""

    code = "channel_payment_not_found"


class UnsupportedFlow(ChannelError):
    code = "unsupported_flow"
    status = 400


class InvalidNotification(ChannelError):
    """Signature, decryption or format check failed: the notification changes nothing."""

    code = "invalid_notification"
    status = 400


class Connector(Protocol):
    """One channel account's connector."""

    channel: str
    """The channel's name: ``wechatpay``, ``alipay``, ..."""

    def create_payment(self, request: PaymentRequest) -> PaymentAction: ...

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        """``channel_trade_no``: the channel's id, when known; channels that find payments
        by our number ignore it, those that cannot must find the payment without it."""
        ...

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None: ...

    def refund(self, request: RefundRequest) -> ChannelRefund: ...

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and read a notification; :class:`InvalidNotification` if it is not genuine."""
        ...

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        """The answer that tells the channel to stop (accepted) or to retry (not accepted)."""
        ...

    def download_statement(self, day: date) -> Statement: ...
