"""The QQ Wallet (QQ钱包, "QPay") merchant API connector: :class:`QQWalletConnector`.

QQ Wallet's merchant API is WeChat Pay v2's shape (signed flat XML over HTTPS POST), spoken
here directly with httpx; there is no maintained Python SDK for it. Wire rules are in
:mod:`.wire`, signatures in :mod:`.signing`, the mapping onto ``paydesk.channels.base`` in
:mod:`.transformers`.

Where each rule comes from (public documentation, read in its stored copies):

- Paths, hosts, request fields and their sizes: QQ Wallet's merchant documentation
  (``mp.qpay.tenpay.cn/buss/wiki/38/1203`` unified order: ``appid`` optional, ``mch_id``,
  ``nonce_str``, ``sign``, ``body`` String(128), ``attach``, ``out_trade_no`` String(32),
  ``fee_type`` CNY, ``total_fee`` Int fen, ``spbill_create_ip``, ``time_start`` /
  ``time_expire`` ``yyyyMMddHHmmss`` GMT+8, ``trade_type``, ``notify_url``; ``.../99/1180``
  order query: ``transaction_id`` or ``out_trade_no``; ``.../1/1126`` and ``.../99/1182``
  refund: host ``api.qpay.qq.com``, certificate required, ``op_user_id`` and
  ``op_user_passwd``; ``.../43/1162`` refund query: ``refund_id`` > ``out_refund_no`` >
  ``transaction_id`` > ``out_trade_no``). Answer and notification fields (``return_code``,
  ``return_msg``, ``retcode``, ``retmsg``, ``result_code``, ``err_code``, ``err_code_des``,
  ``prepay_id``, ``code_url``, ``trade_state``, ``total_fee``, ``fee_type``, ``cash_fee``,
  ``transaction_id``, ``time_end``, ``openid``, ``refund_id``, ``refund_fee``, the refund
  query's ``out_refund_no_$n``, ``refund_fee_$n``, ``refund_status_$n``...), the statement
  path ``/cgi-bin/sp_download/qpay_mch_statement_down.cgi`` with ``bill_date``
  (``yyyyMMdd``), ``bill_type`` (ALL, SUCCESS, REFUND, RECHARGE_REFUND) and ``tar_type``, and
  the notification acknowledgement ``<xml><return_code>SUCCESS</return_code></xml>``: the
  published QQ Wallet SDKs that follow those pages (go-pay/gopay ``qq``,
  netcccyun/qqpay-sdk-php, the Essensoft QPay models), where the stored documentation pages
  were cut short.
- ``sign``: QQ Wallet's signature page (``qpaywiki ... docid=57``, quoted in the cordova QPay
  plugin's notes) and WeChat Pay v2's security page, whose published vectors both algorithms
  are checked against in the tests; HMAC-SHA256 over the same text as in gopay ``qq``
  (``getReleaseSign``). ``sign_type`` is sent as a field, as gopay does.
- JS bridge (QQ_JSAPI): ``mqq.tenpay.pay({tokenId, appInfo})`` as QQ Wallet's PHP demo
  (``QpayMchConf``/``QpayMchAPI``) and netcccyun/qqpay-sdk-php's JSAPI example call it, with
  ``open.mobile.qq.com/sdk/qqapi.js``; app SDK (QQ_APP): the ``PayApi`` fields and the ``sig``
  rule of QQ Wallet's "APP调起支付" pages (``.../38/1196``, formerly ``qpaywiki ...
  docid=165``, quoted with its test vector in the cordova QPay plugin's notes).
- Refund statuses (PROCESSING, SUCCESS, FAIL, NOTSURE, CHANGE) and the ``err_code`` names
  beyond ORDERNOTEXIST: WeChat Pay v2's lists, which QQ Wallet's API mirrors; the stored QQ
  pages were cut before their status and error tables, so these are taken from the v2
  documentation alone.

Transport failures, as in the Alipay connector: the request was not delivered (connection
refused or timed out, DNS, a write that failed) → :class:`ChannelUnavailable`; delivered and
no answer within ``timeout_s``, or the connection lost before the whole answer →
:class:`ChannelTimeout` (the outcome is unknown: query before deciding); HTTP 5xx or 429 →
:class:`ChannelUnavailable`; any other non-200 → :class:`ChannelError`. An answer over 64 KiB,
that is not flat XML (a DTD or an entity included), has no valid ``sign`` or names another
merchant or ``sign_type`` → :class:`ChannelError`, not transient.

Refunds at the real host need the merchant API certificate (mutual TLS): give
``QQWalletConfig(client_cert_file=..., client_key_file=...)``; without it a refund there is
:class:`UnsupportedFlow` before any call. A simulator's refunds (the same host as its other
calls) need none.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

import certifi
import httpx

from paydesk.channels.base import (
    Acknowledgement,
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
    RefundRequest,
    Statement,
    UnsupportedFlow,
)
from paydesk.channels.qqwallet import signing, transformers, wire
from paydesk.channels.qqwallet.config import QQWalletConfig
from paydesk.core import clock

CHANNEL = "qqwallet"
UNIFIED_ORDER_PATH = "/cgi-bin/pay/qpay_unified_order.cgi"
ORDER_QUERY_PATH = "/cgi-bin/pay/qpay_order_query.cgi"
CLOSE_ORDER_PATH = "/cgi-bin/pay/qpay_close_order.cgi"
REFUND_PATH = "/cgi-bin/pay/qpay_refund.cgi"
REFUND_QUERY_PATH = "/cgi-bin/pay/qpay_refund_query.cgi"
STATEMENT_PATH = "/cgi-bin/sp_download/qpay_mch_statement_down.cgi"
STATEMENT_BILL_TYPE = "ALL"
STATEMENT_DATE_FORMAT = "%Y%m%d"
ORDER_CLOSED = "ORDERCLOSED"
XML_MEDIA_TYPE = "text/xml"
ACCEPTED = Acknowledgement(200, b"<xml><return_code>SUCCESS</return_code></xml>", XML_MEDIA_TYPE)
REFUSED = Acknowledgement(
    500,
    b"<xml><return_code>FAIL</return_code><return_msg>REFUSED</return_msg></xml>",
    XML_MEDIA_TYPE,
)


def new_nonce() -> str:
    """32 random characters, QQ Wallet's ``nonce_str`` size."""
    return secrets.token_hex(16)


class QQWalletConnector:
    """One QQ Wallet merchant account (``paydesk.channels.base.Connector``)."""

    channel = CHANNEL

    def __init__(
        self,
        config: QQWalletConfig,
        *,
        now: Callable[[], datetime] = clock.now,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        """``now``: the clock of ``time_start`` and the app SDK's ``timeStamp``; ``nonce``:
        makes ``nonce_str`` (tests)."""
        self.config = config
        self._now = now
        self._nonce = nonce
        self._refund_tls: ssl.SSLContext | None = None
        if config.client_cert_file is not None:
            context = ssl.create_default_context(cafile=certifi.where())
            try:
                context.load_cert_chain(config.client_cert_file, config.client_key_file)
            except (OSError, ssl.SSLError):
                raise ValueError("QQ Wallet: the client certificate cannot be loaded") from None
            self._refund_tls = context

    def __repr__(self) -> str:
        return f"QQWalletConnector({self.config!r})"

    # --- the wire -------------------------------------------------------------------------------
    def _signed_request(self, fields: Mapping[str, str]) -> bytes:
        config = self.config
        common = {"mch_id": config.mch_id, "nonce_str": self._nonce()}
        if config.appid:
            common["appid"] = config.appid
        common["sign_type"] = config.sign_type.value
        return wire.to_xml(
            signing.with_sign({**common, **fields}, config.api_key, config.sign_type)
        )

    def _post(
        self, operation: str, url: str, body: bytes, limit: int, tls: ssl.SSLContext | None
    ) -> bytes:
        """One POST; the answer's bytes (at most ``limit``) or the transport error."""
        where = f"QQ Wallet {operation}"
        verify: ssl.SSLContext | bool = tls if tls is not None else True
        try:
            with (
                httpx.Client(timeout=self.config.timeout_s, verify=verify) as http,
                http.stream(
                    "POST", url, content=body, headers={"Content-Type": XML_MEDIA_TYPE}
                ) as response,
            ):
                status = response.status_code
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ChannelError(f"{where}: the answer is over {limit} bytes")
                    chunks.append(chunk)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ChannelUnavailable(f"{where}: the gateway cannot be reached ({exc})") from None
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            raise ChannelUnavailable(f"{where}: the request could not be sent ({exc})") from None
        except httpx.ReadTimeout:
            raise ChannelTimeout(f"{where}: no answer within {self.config.timeout_s}s") from None
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise ChannelTimeout(
                f"{where}: the connection was lost before the answer ({exc})"
            ) from None
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"{where}: {type(exc).__name__} ({exc})") from None
        if status >= 500 or status == 429:
            raise ChannelUnavailable(f"{where}: HTTP {status}")
        if status != 200:
            raise ChannelError(f"{where}: HTTP {status}")
        return b"".join(chunks)

    def _verified(self, operation: str, raw: bytes) -> dict[str, str]:
        """A received, signed, checked answer (any ``result_code``)."""
        where = f"QQ Wallet {operation}"
        try:
            answer = wire.from_xml(raw)
        except wire.XmlRefused as exc:
            raise ChannelError(f"{where}: the answer is refused: {exc}") from None
        if not wire.received(answer):
            raise wire.communication_failure(operation, answer)
        config = self.config
        if not signing.verify(answer, config.api_key, config.sign_type):
            raise ChannelError(f"{where}: the answer's sign is missing or does not verify")
        if answer.get("sign_type", config.sign_type.value) != config.sign_type.value:
            raise ChannelError(f"{where}: the answer is signed with another sign_type")
        if answer.get("mch_id", config.mch_id) != config.mch_id:
            raise ChannelError(f"{where}: the answer is for another merchant")
        return answer

    def _call(self, operation: str, path: str, fields: Mapping[str, str]) -> dict[str, str]:
        """One API call whose ``result_code`` must be SUCCESS."""
        tls = None
        gateway = self.config.gateway
        if path == REFUND_PATH:
            gateway, tls = self.config.refund_gateway, self._refund_tls
        raw = self._post(
            operation, gateway + path, self._signed_request(fields), wire.XML_BYTES_MAX, tls
        )
        answer = self._verified(operation, raw)
        failure = wire.business_failure(operation, answer)
        if failure is not None:
            raise failure
        return answer

    # --- payments -------------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        config = self.config
        now = self._now()
        trade_type, fields = transformers.order_fields(
            request, now, appid=config.appid, app_key=config.app_key
        )
        answer = self._call("unified order", UNIFIED_ORDER_PATH, fields)
        return transformers.payment_action(
            trade_type,
            answer,
            mch_id=config.mch_id,
            appid=config.appid,
            app_key=config.app_key,
            nonce=self._nonce(),
            timestamp=str(int(now.timestamp())),
        )

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        wire.checked_number(out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        answer = self._call("order query", ORDER_QUERY_PATH, {"out_trade_no": out_trade_no})
        payment = transformers.channel_payment(answer, "order query")
        if payment.out_trade_no != out_trade_no:
            raise ChannelError("QQ Wallet order query: answered another out_trade_no")
        return payment

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None:
        """Closing is idempotent: an order already closed (ORDERCLOSED) counts as closed."""
        wire.checked_number(out_trade_no, wire.OUT_TRADE_NO, "out_trade_no")
        try:
            self._call("close order", CLOSE_ORDER_PATH, {"out_trade_no": out_trade_no})
        except wire.QQWalletRejected as exc:
            if exc.err_code != ORDER_CLOSED:
                raise

    # --- refunds --------------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> ChannelRefund:
        """``RefundRequest.notify_url`` is not used: QQ Wallet notifies payments only."""
        fields = transformers.refund_fields(request)
        if self.config.refund_needs_certificate and self._refund_tls is None:
            raise UnsupportedFlow(
                "QQ Wallet refunds need the merchant API certificate (mutual TLS): configure "
                "client_cert_file and client_key_file"
            )
        fields["op_user_id"] = self.config.op_user_id
        fields["op_user_passwd"] = signing.operator_password_md5(self.config.op_user_password)
        answer = self._call("refund", REFUND_PATH, fields)
        return transformers.accepted_refund(answer, request)

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund:
        wire.checked_number(out_refund_no, wire.OUT_REFUND_NO, "out_refund_no")
        answer = self._call("refund query", REFUND_QUERY_PATH, {"out_refund_no": out_refund_no})
        return transformers.queried_refund(answer, out_refund_no, out_trade_no)

    # --- notifications --------------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and read a payment notification (QQ Wallet signs the body; headers carry
        nothing it signs)."""
        config = self.config
        try:
            fields = wire.from_xml(body)
        except wire.XmlRefused as exc:
            raise InvalidNotification(f"QQ Wallet notification: refused: {exc}") from None
        if not signing.verify(fields, config.api_key, config.sign_type):
            raise InvalidNotification("QQ Wallet notification: the sign is missing or wrong")
        if fields.get("sign_type", config.sign_type.value) != config.sign_type.value:
            raise InvalidNotification("QQ Wallet notification: signed with another sign_type")
        try:
            return transformers.notification(fields, config.mch_id, config.appid)
        except ChannelError as exc:
            raise InvalidNotification(exc.message) from None

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        return ACCEPTED if accepted else REFUSED

    # --- statements -----------------------------------------------------------------------------
    def download_statement(self, day: date) -> Statement:
        """The day's trade statement (``bill_type=ALL``) as QQ Wallet serves it: UTF-8 text.
        The file is not signed (an error answer is XML instead); it is checked to be text."""
        operation = "statement"
        fields = {
            "bill_date": day.strftime(STATEMENT_DATE_FORMAT),
            "bill_type": STATEMENT_BILL_TYPE,
        }
        raw = self._post(
            operation,
            self.config.gateway + STATEMENT_PATH,
            self._signed_request(fields),
            self.config.statement_bytes_max,
            None,
        )
        if raw.lstrip().startswith(b"<xml"):
            answer = self._verified(operation, raw)
            failure = wire.business_failure(operation, answer)
            raise failure or ChannelError("QQ Wallet statement: an XML answer instead of the file")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ChannelError("QQ Wallet statement: the file is not UTF-8 text") from None
        return Statement(
            day=day,
            content=raw,
            file_name=f"qqwallet-statement-{self.config.mch_id}-{day.isoformat()}.csv",
        )


if TYPE_CHECKING:
    _CONFORMS: type[Connector] = QQWalletConnector
