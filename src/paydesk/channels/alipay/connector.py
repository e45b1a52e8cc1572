"""``AlipayConnector``: the connector protocol (base.py) for one Alipay open-platform app.

Every call goes through the unmodified ``python-alipay-sdk`` client (``alipay.AliPay``, RSA2),
pointed at the configured gateway through its ``_gateway`` attribute (the SDK has no public
setting: CHANNELS.md). The SDK signs the request, sends it as one GET and checks the answer's
signature; the wire fields and their mapping are in transformers.py, notifications.py and
statement.py.

Flows:

- ``create_payment``: ALIPAY_QR calls ``alipay.trade.precreate`` → QR_CODE (``qr_code``);
  ALIPAY_PAGE / ALIPAY_WAP sign a page.pay / wap.pay request locally → REDIRECT to
  ``<gateway>?<signed query>`` (with ``return_url`` and ``notify_url``); ALIPAY_APP signs an
  app.pay request → SDK_PARAMS ``{"order_string": ...}`` for the app SDK. No call is made for
  the last three: the trade comes to exist when the payer opens the page or the app.
- ``query_payment``: ``alipay.trade.query``; ACQ.TRADE_NOT_EXIST is PENDING (not scanned yet).
- ``close_payment``: ``alipay.trade.close``; ACQ.TRADE_NOT_EXIST (never scanned: nothing to
  close, and the gateway kills the code) and ACQ.TRADE_HAS_CLOSE succeed;
  ACQ.TRADE_STATUS_ERROR is resolved by a query: already closed succeeds, paid is refused.
- ``refund``: ``alipay.trade.refund`` with ``out_request_no`` = our ``out_refund_no``;
  ``fund_change=N`` (a repeat, or a refund still under way) is read back with the refund
  query. ``RefundRequest.notify_url`` is not used: Alipay notifies the trade's notify_url.
- ``query_refund``: ``alipay.trade.fastpay.refund.query``.
- ``parse_notification``: form → SDK ``verify`` on a copy without ``sign`` (the SDK removes
  and checks ``sign_type`` itself) → our app_id (and seller_id) → the payment; a refund
  notification's refund is read with the refund query (its form carries only the cumulative
  refunded total), so parsing one needs the gateway.
- ``acknowledge``: HTTP 200 ``text/plain`` ``success`` (stop) or ``fail`` (retry).
- ``download_statement``: ``alipay.data.dataservice.bill.downloadurl.query`` (the SDK has no
  method for it: ``server_api``), then the ZIP with httpx.

Errors (base.py's hierarchy). The SDK calls ``urllib.request.urlopen(url,
timeout=AliPayConfig.timeout)``; we pass ``AliPayConfig(timeout=config.timeout_s)``, the SDK's
own setting, so nothing is patched (urllib applies it to the connect and to each read):

- the request was not delivered (connection refused or timed out, DNS: urllib raises
  ``URLError`` while connecting and sending) → ChannelUnavailable; HTTP 5xx or 429 →
  ChannelUnavailable; any other HTTP error status → ChannelError;
- no answer within ``timeout_s`` once the request went out (read time-out) → ChannelTimeout;
  the connection lost after the request went out (reset, truncated answer) → ChannelTimeout
  as well: the outcome is unknown, so the caller must query, which is what ChannelTimeout asks;
- the answer's signature does not verify (``AliPayValidationError``) or the answer cannot be
  read → ChannelError (not transient);
- a signed answer whose ``code`` is not 10000, or an unsigned one / ``error_response`` (the SDK
  raises ``AliPayException``) → by its code (transformers.py): 20000 ACQ.SYSTEM_ERROR is
  ChannelUnavailable (transient), business refusals AlipayRejected (a ChannelRejected).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.error import HTTPError, URLError

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from paydesk.channels.alipay import notifications, statement, transformers
from paydesk.channels.alipay.config import AlipayConfig
from paydesk.channels.alipay.transformers import ApiMethod
from paydesk.channels.base import (
    Acknowledgement,
    ActionKind,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelTimeout,
    ChannelUnavailable,
    Connector,
    InvalidNotification,
    Notification,
    PaymentAction,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    Statement,
)
from paydesk.core import clock

CHANNEL = "alipay"
SIGN_TYPE = "RSA2"
ACK_MEDIA_TYPE = "text/plain"


def _transport_error(api: str, error: Exception) -> ChannelError:
    """The error for a failed HTTP exchange with the gateway (see the module docstring)."""
    if isinstance(error, HTTPError):
        text = f"Alipay {api}: HTTP {error.code}"
        if error.code >= 500 or error.code == 429:
            return ChannelUnavailable(text)
        return ChannelError(text)
    if isinstance(error, URLError):  # raised while connecting and sending: nothing was asked
        return ChannelUnavailable(f"Alipay {api}: the gateway cannot be reached ({error.reason})")
    if isinstance(error, TimeoutError):
        return ChannelTimeout(f"Alipay {api}: no answer in time")
    return ChannelTimeout(f"Alipay {api}: the connection was lost before the answer ({error})")


def _unsigned_failure(api: str, error: Exception) -> ChannelError:
    """An ``AliPayException``: its message is the raw answer, read like a signed failure."""
    code = getattr(error, "_AliPayException__code", None)
    raw = getattr(error, "_AliPayException__message", None)
    inner: Mapping[str, Any] = {"code": str(code or "")}
    try:
        answer = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        response_key = api.replace(".", "_") + "_response"
        found = answer.get(response_key) or answer.get("error_response")
        if isinstance(found, dict):
            inner = found
    return transformers.failure(api, inner)


class AlipayConnector:
    """One Alipay app's connector (base.Connector)."""

    channel: str = CHANNEL

    def __init__(
        self,
        config: AlipayConfig,
        *,
        now: Callable[[], datetime] = clock.now,
        statement_transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``now``: the clock that turns ``expires_at`` into ``timeout_express``;
        ``statement_transport``: swaps the network of statement downloads (tests)."""
        self._config = config
        self._now = now
        self._statement_transport = statement_transport
        try:
            client = AliPay(
                appid=config.app_id,
                app_notify_url=None,
                app_private_key_string=config.app_private_key_pem,
                alipay_public_key_string=config.alipay_public_key_pem,
                sign_type=SIGN_TYPE,
                config=AliPayConfig(timeout=config.timeout_s),
            )
        except (ValueError, IndexError, TypeError):
            raise ValueError("AlipayConfig: a key is not a readable RSA PEM") from None
        client._gateway = config.gateway_url
        self._client = client

    def __repr__(self) -> str:
        return f"AlipayConnector({self._config!r})"

    # --- calling the gateway --------------------------------------------------------------------
    def _call(self, api: str, call: Callable[[], Any]) -> dict[str, Any]:
        """One SDK call: its verified answer (any ``code``) or a ChannelError."""
        try:
            answer = call()
        except AliPayValidationError:
            raise ChannelError(f"Alipay {api}: the answer's signature does not verify") from None
        except AliPayException as error:
            raise _unsigned_failure(api, error) from None
        except (OSError, http.client.HTTPException) as error:
            raise _transport_error(api, error) from None
        except (ValueError, KeyError, AttributeError, TypeError):
            raise ChannelError(f"Alipay {api}: the answer cannot be read") from None
        if not isinstance(answer, dict):
            raise ChannelError(f"Alipay {api}: the answer is not an object")
        return answer

    def _succeeded(self, api: str, call: Callable[[], Any]) -> dict[str, Any]:
        """One SDK call whose answer must be ``code`` 10000."""
        answer = self._call(api, call)
        if not transformers.succeeded(answer):
            raise transformers.failure(api, answer)
        return answer

    # --- payments -------------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        order = transformers.order_fields(request, self._now())
        client = self._client
        if order.api is ApiMethod.PRECREATE:
            answer = self._succeeded(
                order.api,
                lambda: client.api_alipay_trade_precreate(
                    order.subject,
                    order.out_trade_no,
                    order.total_amount,
                    notify_url=order.notify_url,
                    timeout_express=order.timeout_express,
                ),
            )
            qr_code = transformers.qr_code(answer, request.out_trade_no)
            return PaymentAction(ActionKind.QR_CODE, qr_code=qr_code)
        if order.api is ApiMethod.APP_PAY:
            order_string = client.api_alipay_trade_app_pay(
                order.subject,
                order.out_trade_no,
                order.total_amount,
                notify_url=order.notify_url,
                timeout_express=order.timeout_express,
            )
            return PaymentAction(ActionKind.SDK_PARAMS, sdk_params={"order_string": order_string})
        sign = (
            client.api_alipay_trade_page_pay
            if order.api is ApiMethod.PAGE_PAY
            else client.api_alipay_trade_wap_pay
        )
        extra = (
            {"product_code": transformers.WAP_PRODUCT_CODE}
            if order.api is ApiMethod.WAP_PAY
            else {}
        )
        signed = sign(
            order.subject,
            order.out_trade_no,
            order.total_amount,
            return_url=order.return_url,
            notify_url=order.notify_url,
            timeout_express=order.timeout_express,
            **extra,
        )
        return PaymentAction(
            ActionKind.REDIRECT, redirect_url=f"{self._config.gateway_url}?{signed}"
        )

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        api = "alipay.trade.query"
        answer = self._call(
            api, lambda: self._client.api_alipay_trade_query(out_trade_no=out_trade_no)
        )
        if transformers.succeeded(answer):
            return transformers.payment_from_query(answer, out_trade_no)
        if transformers.sub_code(answer) == transformers.TRADE_NOT_EXIST:
            return transformers.payment_not_yet_visible(out_trade_no)
        raise transformers.failure(api, answer)

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None:
        api = "alipay.trade.close"
        answer = self._call(
            api, lambda: self._client.api_alipay_trade_close(out_trade_no=out_trade_no)
        )
        sub_code = transformers.sub_code(answer)
        if transformers.succeeded(answer) or sub_code in (
            transformers.TRADE_NOT_EXIST,
            transformers.TRADE_HAS_CLOSE,
        ):
            return
        already_closed = (
            sub_code == transformers.TRADE_STATUS_ERROR
            and self.query_payment(out_trade_no).status is PaymentStatus.CLOSED
        )
        if already_closed:
            return  # closing is idempotent; a paid (or refunded) trade is refused below
        raise transformers.failure(api, answer)

    # --- refunds --------------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> ChannelRefund:
        fields = transformers.refund_fields(request)
        amount = fields.pop("refund_amount")
        answer = self._succeeded(
            "alipay.trade.refund",
            lambda: self._client.api_alipay_trade_refund(amount, **fields),
        )
        moved = transformers.refund_moved_money(answer, request)
        if moved is not None:
            return moved
        return self.query_refund(request.out_refund_no, request.out_trade_no)

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund:
        answer = self._succeeded(
            "alipay.trade.fastpay.refund.query",
            lambda: self._client.api_alipay_trade_fastpay_refund_query(
                out_refund_no, out_trade_no=out_trade_no
            ),
        )
        return transformers.refund_from_query(answer, out_refund_no, out_trade_no)

    # --- notifications --------------------------------------------------------------------------
    def _verify(self, form: Mapping[str, str]) -> None:
        signed = notifications.split_signature(form)
        try:
            genuine = self._client.verify(signed.params, signed.signature)
        except (AliPayException, ValueError, TypeError):
            genuine = False
        if not genuine:
            raise InvalidNotification("Alipay notification: the signature does not verify")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and read a ``trade_status_sync`` form (headers carry nothing Alipay signs)."""
        form = notifications.read_form(body)
        self._verify(form)
        notifications.check_recipient(form, self._config.app_id, self._config.seller_id)
        payment = notifications.payment(form)
        request_no = notifications.refund_request_no(form)
        refund = self.query_refund(request_no, payment.out_trade_no) if request_no else None
        return Notification(
            payment=payment, refund=refund, notification_id=notifications.notification_id(form)
        )

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return Acknowledgement(200, b"success" if accepted else b"fail", ACK_MEDIA_TYPE)

    # --- statements -----------------------------------------------------------------------------
    def download_statement(self, day: date) -> Statement:
        api = statement.BILL_API
        answer = self._succeeded(
            api, lambda: self._client.server_api(api, statement.bill_fields(day))
        )
        archive = self._download(statement.bill_download_url(answer))
        file_name, content = statement.detail_csv(archive, self._config.statement_bytes_max)
        return Statement(day=day, content=content, file_name=file_name)

    def _download(self, url: str) -> bytes:
        """The bill ZIP (bounded); any failure is transient: the next try gets a fresh URL."""
        limit = self._config.statement_bytes_max
        try:
            with (
                httpx.Client(
                    timeout=self._config.timeout_s,
                    transport=self._statement_transport,
                    follow_redirects=True,
                ) as http,
                http.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise ChannelUnavailable(f"Alipay bill download: HTTP {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ChannelError(f"Alipay bill download: over {limit} bytes")
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise ChannelTimeout("Alipay bill download: no answer in time") from None
        except httpx.HTTPError as error:
            raise ChannelUnavailable(f"Alipay bill download failed ({error})") from None
        return b"".join(chunks)


if TYPE_CHECKING:
    _CONFORMS: type[Connector] = AlipayConnector
