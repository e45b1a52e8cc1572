"""The WeChat Pay API v3 connector: :class:`WeChatPayConnector`.

It drives the unmodified ``wechatpayv3`` SDK (``WeChatPay``) in platform-public-key mode
(``public_key=``, ``public_key_id=``), so construction downloads nothing (CHANNELS.md). The
SDK's gateway is fixed to ``https://api.mch.weixin.qq.com``; the connector points it at
``WeChatPayConfig.gateway_url`` by setting ``client._core._gate_way`` after construction, the
one private attribute it touches (``Core.request`` joins ``_gate_way + path`` for every call,
and ``download_bill`` strips it from the bill URL). Wire formats and status mappings are in
:mod:`.transformers`, error answers in :mod:`.wire`; this module does the calls and maps the
SDK's and ``requests``' failures:

- The SDK calls ``requests.get/post`` with the ``timeout`` it was built with; the connector
  passes ``config.timeout_s`` (connect, and each read). A read time-out is
  :class:`ChannelTimeout` (the request reached WeChat: the outcome is unknown, query before
  deciding); a connect time-out, a refused or broken connection are
  :class:`ChannelUnavailable` (a connect time-out never reached WeChat). Both are transient.
- Every 2xx answer has passed the SDK's signature check (``Wechatpay-*`` headers against the
  platform public key); a failed check is a :class:`ChannelError` (the SDK raises a bare
  ``Exception``). Non-2xx answers are mapped by :func:`.transformers.answer_error`.
- Notifications: the ``Wechatpay-Serial`` must be our ``public_key_id`` *before* the SDK sees
  them (for an unknown serial the SDK would fetch ``/v3/certificates`` over the network), the
  ``Wechatpay-Timestamp`` must be within ``notification_tolerance_s`` (replays), then
  ``client.callback`` verifies the signature and decrypts the AEAD_AES_256_GCM resource.
  Anything that fails is :class:`InvalidNotification`.
- Acknowledgements follow CHANNELS.md ("The receiver answers 200/204"): 204 with no body when
  accepted; otherwise 500 ``{"code": "FAIL", "message": "失败"}`` so WeChat retries.
- Statements: ``trade_bill`` (``tar_type=GZIP``) then ``download_bill`` through the SDK, so the
  download request is signed too (its answer is not, per WeChat); the gunzipped CSV must match
  the SHA1 ``hash_value`` (of the plain file) or the call fails as transient.

The SDK is never given a logger: its debug log would print request headers and decrypted
notifications.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError
from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped, unused-ignore]

from paydesk.channels.base import (
    Acknowledgement,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelTimeout,
    ChannelUnavailable,
    InvalidNotification,
    Notification,
    PaymentAction,
    PaymentRequest,
    RefundRequest,
    Statement,
)
from paydesk.channels.wechatpay import transformers, wire
from paydesk.channels.wechatpay.config import WeChatPayConfig
from paydesk.channels.wechatpay.transformers import TradeType

CHANNEL = "wechatpay"
NOTIFICATION_BYTES_MAX = 64 * 1024
STATEMENT_BYTES_MAX = 512 * 1024 * 1024
"""The largest trade bill accepted once decompressed (a bound against a gzip bomb)."""
STATEMENT_BILL_TYPE = "ALL"
STATEMENT_TAR_TYPE = "GZIP"
SIGNATURE_FAILED = "failed to verify the signature"
"""The SDK's message when a 2xx answer's signature does not verify."""

PAY_TYPES: Mapping[TradeType, Any] = {
    TradeType.NATIVE: WeChatPayType.NATIVE,
    TradeType.JSAPI: WeChatPayType.JSAPI,
    TradeType.APP: WeChatPayType.APP,
    TradeType.H5: WeChatPayType.H5,
}

ACCEPTED = Acknowledgement(status_code=204, body=b"", media_type="application/json")
REFUSED = Acknowledgement(
    status_code=500,
    body='{"code":"FAIL","message":"失败"}'.encode(),
    media_type="application/json",
)

SdkAnswer = tuple[int, str | bytes]


def new_nonce() -> str:
    """32 random characters, WeChat's ``nonceStr`` size."""
    return secrets.token_hex(16).upper()


def _gunzip(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(compressed, STATEMENT_BYTES_MAX + 1)
    except zlib.error as exc:
        raise ChannelUnavailable(f"WeChat Pay statement: not a gzip file ({exc})") from None
    if len(plain) > STATEMENT_BYTES_MAX:
        raise ChannelError(f"WeChat Pay statement: larger than {STATEMENT_BYTES_MAX} bytes")
    if not inflater.eof:
        raise ChannelUnavailable("WeChat Pay statement: the gzip file is truncated")
    return plain


class WeChatPayConnector:
    """One WeChat Pay merchant account (``paydesk.channels.base.Connector``)."""

    channel = CHANNEL

    def __init__(
        self,
        config: WeChatPayConfig,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self.config = config
        self._clock = clock
        self._nonce = nonce
        try:
            client = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE,
                mchid=config.mchid,
                private_key=config.merchant_private_key_pem,
                cert_serial_no=config.merchant_cert_serial_no,
                appid=config.appid,
                apiv3_key=config.apiv3_key,
                timeout=config.timeout_s,
                public_key=config.platform_public_key_pem,
                public_key_id=config.public_key_id,
            )
        except Exception as exc:  # the SDK raises bare Exceptions for unreadable keys
            raise ValueError(f"WeChat Pay client: {exc}") from None
        client._core._gate_way = config.gateway
        self._client = client

    def __repr__(self) -> str:
        return f"WeChatPayConnector({self.config!r})"

    # --- calls ------------------------------------------------------------------------------
    def _call(self, operation: str, call: Callable[..., Any], **arguments: Any) -> SdkAnswer:
        """One SDK call, its failures mapped onto the channel errors."""
        where = f"WeChat Pay {operation}"
        try:
            status_code, body = call(**arguments)
        except requests.exceptions.ConnectTimeout as exc:
            raise ChannelUnavailable(f"{where}: no connection within the time-out") from exc
        except requests.exceptions.Timeout as exc:
            raise ChannelTimeout(f"{where}: no answer within {self.config.timeout_s}s") from exc
        except requests.exceptions.ConnectionError as exc:
            # A time-out while reading the body surfaces as a ConnectionError in requests.
            if any(isinstance(arg, ReadTimeoutError) for arg in exc.args):
                raise ChannelTimeout(f"{where}: the answer stalled") from exc
            raise ChannelUnavailable(f"{where}: connection failed ({exc})") from exc
        except requests.exceptions.RequestException as exc:
            raise ChannelError(f"{where}: {type(exc).__name__} ({exc})") from exc
        except Exception as exc:
            if type(exc) is not Exception:  # ours or a bug, not the SDK's own failure
                raise
            if str(exc) == SIGNATURE_FAILED:
                raise ChannelError(f"{where}: the answer's signature did not verify") from exc
            raise ChannelError(f"{where}: {exc}") from exc
        return int(status_code), body

    def _json(self, operation: str, call: Callable[..., Any], **arguments: Any) -> dict[str, Any]:
        status_code, body = self._call(operation, call, **arguments)
        if not 200 <= status_code < 300:
            raise wire.answer_error(operation, status_code, body)
        return wire.json_answer(body, operation)

    def _sign(self, lines: Sequence[str]) -> str:
        return str(self._client.sign(list(lines)))

    # --- payments ---------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        order = transformers.prepay_order(request)
        wire.checked_number(request.out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        answer = self._json(
            "create payment",
            self._client.pay,
            pay_type=PAY_TYPES[order.trade_type],
            **order.fields,
        )
        return transformers.payment_action(
            order.trade_type,
            answer,
            appid=self.config.appid,
            mchid=self.config.mchid,
            timestamp=str(int(self._clock())),
            nonce=self._nonce(),
            sign=self._sign,
            return_url=request.return_url,
        )

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        wire.checked_number(out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        answer = self._json("query payment", self._client.query, out_trade_no=out_trade_no)
        payment = transformers.channel_payment(answer)
        if payment.out_trade_no != out_trade_no:
            raise ChannelError(f"WeChat Pay query payment answered {payment.out_trade_no!r}")
        return payment

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None:
        wire.checked_number(out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        status_code, body = self._call(
            "close payment", self._client.close, out_trade_no=out_trade_no
        )
        if not 200 <= status_code < 300:
            raise wire.answer_error("close payment", status_code, body)

    # --- refunds ----------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> ChannelRefund:
        wire.checked_number(request.out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        wire.checked_number(request.out_refund_no, wire.OUT_REFUND_NO, "out_refund_no")
        fields = transformers.refund_fields(request)
        refund = transformers.channel_refund(self._json("refund", self._client.refund, **fields))
        if refund.out_refund_no != request.out_refund_no:
            raise ChannelError(f"WeChat Pay refund answered {refund.out_refund_no!r}")
        return refund

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund:
        wire.checked_number(out_refund_no, wire.OUT_REFUND_NO, "out_refund_no")
        answer = self._json("query refund", self._client.query_refund, out_refund_no=out_refund_no)
        refund = transformers.channel_refund(answer)
        if refund.out_refund_no != out_refund_no or refund.out_trade_no not in (
            None,
            out_trade_no,
        ):
            raise ChannelError(
                f"WeChat Pay query refund answered refund {refund.out_refund_no!r} "
                f"of payment {refund.out_trade_no!r}"
            )
        return refund

    # --- notifications ----------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        if len(body) > NOTIFICATION_BYTES_MAX:
            raise InvalidNotification("WeChat Pay notification: the body is too large")
        lowered = {name.lower(): value for name, value in headers.items()}
        if lowered.get("wechatpay-serial") != self.config.public_key_id:
            raise InvalidNotification("WeChat Pay notification: not signed with our platform key")
        try:
            signed_at = int(lowered.get("wechatpay-timestamp", ""))
        except ValueError:
            raise InvalidNotification("WeChat Pay notification: no valid timestamp") from None
        if abs(self._clock() - signed_at) > self.config.notification_tolerance_s:
            raise InvalidNotification("WeChat Pay notification: the timestamp is out of range")
        try:
            event = self._client.callback(lowered, body)
        except Exception as exc:  # whatever breaks while reading an untrusted body
            raise InvalidNotification(
                f"WeChat Pay notification: unreadable ({type(exc).__name__})"
            ) from None
        if not isinstance(event, dict):
            raise InvalidNotification(
                "WeChat Pay notification: the signature or the decryption failed"
            )
        try:
            return transformers.notification(event, self.config.mchid)
        except ChannelError as exc:
            raise InvalidNotification(exc.message) from None

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return ACCEPTED if accepted else REFUSED

    # --- statements -------------------------------------------------------------------------
    def download_statement(self, day: date) -> Statement:
        answer = self._json(
            "statement",
            self._client.trade_bill,
            bill_date=day.isoformat(),
            bill_type=STATEMENT_BILL_TYPE,
            tar_type=STATEMENT_TAR_TYPE,
        )
        location = transformers.statement_location(answer)
        if not location.download_url.startswith(self.config.gateway + "/"):
            raise ChannelError("WeChat Pay statement: the download_url is not on the gateway")
        status_code, body = self._call(
            "statement download", self._client.download_bill, url=location.download_url
        )
        if not 200 <= status_code < 300:
            raise wire.answer_error("statement download", status_code, body)
        plain = _gunzip(body if isinstance(body, bytes) else body.encode())
        if hashlib.sha1(plain, usedforsecurity=False).hexdigest() != location.hash_value:
            raise ChannelUnavailable("WeChat Pay statement: the file does not match its SHA1")
        return Statement(
            day=day,
            content=plain,
            file_name=f"wechatpay-tradebill-{self.config.mchid}-{day.isoformat()}.csv",
        )
