"""``UnionPayConnector``: the connector protocol (base.py) for one UnionPay online-gateway
merchant (全渠道, ACP version 5.1.0, signMethod 01).

No SDK is driven: UnionPay publishes its acp SDK as demo code to copy, not as a package. The
protocol is written here from public material, and this docstring records which says what:

- **UnionPay's API pages** on open.unionpay.com (网关支付 product): the consume
  (``frontTransReq.do``), refund (``backTransReq.do``), query (``queryTrans.do``, "orderId +
  txnTime、queryId二者必送其一"; orderId "不能含“-”或“_”") and file-transfer transactions
  (``https://filedownload.95516.com/``, ``txnType=76, txnSubType=01, bizType=000000,
  fileType, settleDate=MMDD``), with their field tables: ``version, encoding, certId,
  signature, signMethod, txnType, txnSubType, bizType, channelType, accessType, merId, orderId,
  txnTime, txnAmt, currencyCode, frontUrl, backUrl, payTimeout, origQryId``; answers
  ``respCode, respMsg, queryId, origRespCode, origRespMsg, traceNo, traceTime, settleAmt,
  settleDate, fileName, fileContent``.
- **The acp SDK** (UnionPay's Java ``SDKUtil``/``AcpService``/``CertUtil``/``SecureUtil`` as its
  demos and public ports carry them, and the PHP and Ruby editions): the 5.1.0 signature (the
  sorted ``k=v&...`` text without ``signature``, its lowercase hex SHA-256 signed with
  SHA256withRSA, base64; ``certId`` the decimal certificate serial), blank request fields left
  out (``filterBlank``), answers read by ``parseQString`` (raw ``k=v&...``, nested ``{}``/``[]``),
  ``signPubKeyCert`` verified against the configured middle and root certificates with its
  validity and the CN's third ``@`` part 中国银联股份有限公司 (``00040000:SIGN`` accepted only
  with ``ifValidateCNName`` off), ``fileContent`` = base64 of the zlib-deflated ZIP
  (``Inflater(false)``), the ZM file's 42 fixed-width fields (``parseZMFile``).
- **The response-code appendix** (《平台接入接口规范-第5部分-附录》, as the demos list it):
  00 success, A6 有缺陷的成功, 03/04/05 outcome unknown or accepted, 34 查无此交易, 11 验证签名
  失败, 12 重复交易, 37 too many queries, 98 文件不存在, and the rest.
- **The payTimeout field's note** ("超过超时时间调查询接口应答origRespCode不是A6或者00的就可以判断
  为失败"): after ``payTimeout`` UnionPay refuses the order, so an order it does not know (34),
  or whose transaction is not 00/A6, can no longer be paid.

Flows (the field sets are in transformers.py, formats in wire.py, signatures in signing.py):

- ``create_payment`` (UNIONPAY_PAGE → channelType 07, UNIONPAY_WAP → 08): the signed consume
  form, built locally (no call) → ``FORM_POST`` to ``<gateway>/gateway/api/frontTransReq.do``;
  ``channel_trade_no`` is the locator ``txnTime=...&payTimeout=...`` (UnionPay finds an order
  only with its txnTime). ``payTimeout`` is ``expires_at``.
- ``query_payment``: queryTrans by orderId + txnTime (or by queryId once known).
  ``origRespCode`` 00/A6 SUCCEEDED, 03/04/05/70/83 PENDING, any other FAILED. respCode 34
  before ``payTimeout`` is PENDING (the payer has not posted the form yet: UnionPay only knows
  an order from then on), after it :class:`PaymentNotFound`. ``channel_trade_no`` reported
  back is UnionPay's ``queryId``; ``paid_at`` is ``traceTime`` (MMDDhhmmss, the year taken
  from ``txnTime``).
- ``close_payment``: the gateway has **no close** for an unpaid order; it expires at
  ``payTimeout``. So it queries: paid → ``ChannelRejected`` (refund it instead); FAILED, or
  not found / still pending once ``payTimeout`` has passed → done (UnionPay will not accept it
  any more); before ``payTimeout`` → ``ChannelRejected`` (it can still be paid, and nothing
  can stop that).
- ``refund``: backTransReq ``txnType=04`` with ``origQryId`` = the payment's queryId
  (``RefundRequest.channel_trade_no`` when it is one, else read by a query first). Asynchronous:
  respCode 00 (and 03/04/05, outcome unknown) → PENDING, ``channel_refund_no`` = the refund's
  queryId (or its locator); the result comes by notification or ``query_refund``. respCode 12
  (重复交易: our refund number was sent before that day, a retry after a lost answer) →
  ChannelTimeout: its outcome is unknown, never "failed".
- ``query_refund``: queryTrans on the refund's own orderId (with its txnTime) or queryId; it
  needs ``channel_refund_no``.
- ``parse_notification``: the backUrl form, verified like an answer, for our merId;
  ``acknowledge``: HTTP 200 ``ok`` (stop) or HTTP 500 ``fail`` (UnionPay sends it again).
- ``download_statement``: fileTransfer ``settleDate=MMDD`` → the ZIP (statement.py).

Errors (base.py's hierarchy), over httpx with ``timeout_s`` for each connect, read and write:

- the request was not delivered (connection refused or timed out, DNS, no pool slot) →
  ChannelUnavailable; HTTP 5xx or 429 → ChannelUnavailable; any other non-200 → ChannelError;
- no answer within ``timeout_s`` once the request went out, or the connection lost after it
  (reset, truncated answer) → ChannelTimeout: the outcome is unknown, query before deciding;
- an answer that cannot be read, is not signed, or whose ``signPubKeyCert`` or signature does
  not verify → ChannelError (not transient);
- a signed answer whose respCode is not 00 → by its code (transformers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

import httpx

from paydesk.channels.base import (
    Acknowledgement,
    ActionKind,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    Connector,
    InvalidNotification,
    Notification,
    PaymentAction,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    Statement,
)
from paydesk.channels.unionpay import notifications, signing, statement, transformers, wire
from paydesk.channels.unionpay.config import (
    BACK_TRANS_PATH,
    FRONT_TRANS_PATH,
    QUERY_TRANS_PATH,
    UnionPayConfig,
)
from paydesk.channels.unionpay.signing import SignatureError
from paydesk.channels.unionpay.transformers import CURRENCY, UnionPayRejected
from paydesk.channels.unionpay.wire import Locator, WireError
from paydesk.core import clock

CHANNEL = "unionpay"
ANSWER_BYTES_MAX = 1024 * 1024
ACK_MEDIA_TYPE = "text/plain"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"


class UnionPayConnector:
    """One UnionPay merchant's connector (base.Connector)."""

    channel: str = CHANNEL

    def __init__(
        self,
        config: UnionPayConfig,
        *,
        now: Callable[[], datetime] = clock.now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``now``: the clock for ``txnTime`` and ``payTimeout`` (aware); ``transport``:
        swaps httpx's network (tests)."""
        self._config = config
        self._now = now
        self._transport = transport
        self._key = signing.load_signing_key(config.sign_private_key_pem)
        self._chain = signing.CertificateChain(
            config.root_cert_pem, config.middle_cert_pem, validate_cn_name=config.validate_cn_name
        )

    def __repr__(self) -> str:
        return f"UnionPayConnector({self._config!r})"

    # --- calling the gateway --------------------------------------------------------------------
    def _signed(self, fields: Mapping[str, str]) -> dict[str, str]:
        """``fields`` without blank values (``filterBlank``), signed."""
        signed = {name: value for name, value in fields.items() if value.strip()}
        signed[signing.SIGNATURE] = signing.sign(self._key, signed)
        return signed

    def _exchange(self, api: str, url: str, form: Mapping[str, str], limit: int) -> str:
        """POSTs ``form``; the answer's text, or the error the module docstring names."""
        try:
            with (
                httpx.Client(
                    timeout=httpx.Timeout(self._config.timeout_s), transport=self._transport
                ) as http,
                http.stream(
                    "POST", url, data=dict(form), headers={"Content-Type": FORM_CONTENT_TYPE}
                ) as response,
            ):
                status = response.status_code
                if status >= 500 or status == 429:
                    raise ChannelUnavailable(f"UnionPay {api}: HTTP {status}")
                if status != 200:
                    raise ChannelError(f"UnionPay {api}: HTTP {status}")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise ChannelError(f"UnionPay {api}: the answer is over {limit} bytes")
                    chunks.append(chunk)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise ChannelUnavailable(
                f"UnionPay {api}: the gateway cannot be reached ({type(error).__name__})"
            ) from None
        except httpx.TimeoutException:
            raise ChannelTimeout(f"UnionPay {api}: no answer in time") from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
            raise ChannelError(f"UnionPay {api}: {type(error).__name__}") from None
        except httpx.TransportError as error:
            raise ChannelTimeout(
                f"UnionPay {api}: the connection was lost before the answer "
                f"({type(error).__name__})"
            ) from None
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise ChannelError(f"UnionPay {api}: the answer is not UTF-8") from None

    def _call(
        self, api: str, url: str, fields: Mapping[str, str], limit: int = ANSWER_BYTES_MAX
    ) -> dict[str, str]:
        """One signed request: its verified answer (any respCode)."""
        text = self._exchange(api, url, self._signed(fields), limit)
        try:
            answer = wire.parse_answer(text)
        except WireError as error:
            raise ChannelError(f"UnionPay {api}: the answer cannot be read ({error})") from None
        try:
            self._chain.verify(answer, self._now())
        except SignatureError as error:
            raise ChannelError(f"UnionPay {api}: the answer does not verify: {error}") from None
        transformers.check_echo(answer, "merId", self._config.mer_id, api)
        return answer

    def _query(self, order: str, locator: Locator) -> dict[str, str]:
        fields = transformers.query_fields(
            mer_id=self._config.mer_id,
            cert_id=self._config.sign_cert_id,
            order=order,
            locator=locator,
        )
        return self._call("queryTrans", self._config.url(QUERY_TRANS_PATH), fields)

    @staticmethod
    def _locator(text: str | None, param: str) -> Locator:
        if not text:
            raise ChannelRejected(
                f"UnionPay finds a transaction by its txnTime or queryId: {param} is required",
                param=param,
            )
        try:
            return wire.parse_locator(text)
        except WireError as error:
            raise ChannelRejected(str(error), param=param) from None

    # --- payments -------------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        fields, locator = transformers.consume_fields(
            request,
            mer_id=self._config.mer_id,
            cert_id=self._config.sign_cert_id,
            now=self._now(),
        )
        return PaymentAction(
            ActionKind.FORM_POST,
            redirect_url=self._config.url(FRONT_TRANS_PATH),
            form_fields=self._signed(fields),
            channel_trade_no=str(locator),
        )

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        order = transformers.checked_order_id(out_trade_no, "out_trade_no")
        locator = self._locator(channel_trade_no, "channel_trade_no")
        answer = self._query(order, locator)
        code = transformers.resp_code(answer)
        if code == transformers.SUCCESS:
            return transformers.payment_from_query(answer, out_trade_no, order)
        if code == transformers.NOT_FOUND:
            pay_timeout = locator.pay_timeout_at()
            if pay_timeout is not None and self._now() < pay_timeout:
                return transformers.payment_not_yet_at_unionpay(out_trade_no)
            raise PaymentNotFound(f"UnionPay has no payment {out_trade_no} (respCode 34)")
        raise transformers.failure("queryTrans", answer, query=True)

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None:
        """UnionPay cannot close an order: this succeeds once it can no longer be paid."""
        locator = self._locator(channel_trade_no, "channel_trade_no")
        try:
            payment = self.query_payment(out_trade_no, channel_trade_no)
        except PaymentNotFound:
            return  # past payTimeout and never reached UnionPay: it never will be paid
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            raise ChannelRejected(f"UnionPay: {out_trade_no} is paid; refund it instead")
        if payment.status in (PaymentStatus.FAILED, PaymentStatus.CLOSED):
            return
        pay_timeout = locator.pay_timeout_at()
        if pay_timeout is not None and self._now() >= pay_timeout:
            return  # UnionPay: past payTimeout, anything but 00/A6 has failed
        raise ChannelRejected(
            f"UnionPay has no close: {out_trade_no} can be paid until its payTimeout "
            f"({locator.pay_timeout or 'unknown'}, Beijing time)"
        )

    # --- refunds --------------------------------------------------------------------------------
    def _orig_query_id(self, request: RefundRequest) -> str:
        locator = self._locator(request.channel_trade_no, "channel_trade_no")
        if locator.query_id is not None:
            return locator.query_id
        payment = self.query_payment(request.out_trade_no, request.channel_trade_no)
        if payment.status is not PaymentStatus.SUCCEEDED or not payment.channel_trade_no:
            raise ChannelRejected(
                f"UnionPay: {request.out_trade_no} is not paid ({payment.raw_status})"
            )
        return payment.channel_trade_no

    def refund(self, request: RefundRequest) -> ChannelRefund:
        transformers.check_refund(request)
        orig_query_id = self._orig_query_id(request)
        fields = transformers.refund_fields(
            request,
            mer_id=self._config.mer_id,
            cert_id=self._config.sign_cert_id,
            orig_query_id=orig_query_id,
            now=self._now(),
        )
        api = "backTransReq"
        answer = self._call(api, self._config.url(BACK_TRANS_PATH), fields)
        code = transformers.resp_code(answer)
        if code == transformers.DUPLICATE:
            # Our refund numbers are unique: this one was sent before (a retry after a lost
            # answer), and what became of it is unknown here. Transient, so it is not taken
            # as failed; an operator settles it if the retries run out.
            raise ChannelTimeout(
                f"UnionPay {api}: respCode 12, refund {request.out_refund_no} was sent before "
                "today; its outcome is unknown"
            )
        if code != transformers.SUCCESS and code not in transformers.UNKNOWN_OUTCOME_CODES:
            raise transformers.failure(api, answer)
        transformers.check_echo(answer, "orderId", fields["orderId"], api)
        query_id = answer.get("queryId") or None
        locator = Locator(query_id=query_id, txn_time=None if query_id else fields["txnTime"])
        return ChannelRefund(
            out_refund_no=request.out_refund_no,
            status=RefundStatus.PENDING,
            refund_minor=request.refund_minor,
            currency=CURRENCY,
            out_trade_no=request.out_trade_no,
            channel_refund_no=str(locator),
            raw_status=f"{code} {answer.get('respMsg', '')}".strip(),
        )

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund:
        order = transformers.checked_order_id(out_refund_no, "out_refund_no")
        locator = self._locator(channel_refund_no, "channel_refund_no")
        answer = self._query(order, locator)
        if transformers.resp_code(answer) == transformers.SUCCESS:
            return transformers.refund_from_query(answer, out_refund_no, out_trade_no, order)
        raise transformers.failure("queryTrans (refund)", answer, query=True)

    # --- notifications --------------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and read a backUrl (or frontUrl) form; headers carry nothing UnionPay signs."""
        form = notifications.read_form(body)
        try:
            self._chain.verify(form, self._now())
        except SignatureError as error:
            raise InvalidNotification(f"UnionPay notification: {error}") from None
        notifications.check_recipient(form, self._config.mer_id)
        return notifications.notification(form)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        if accepted:
            return Acknowledgement(200, b"ok", ACK_MEDIA_TYPE)
        return Acknowledgement(500, b"fail", ACK_MEDIA_TYPE)

    # --- statements -----------------------------------------------------------------------------
    def download_statement(self, day: date) -> Statement:
        fields = transformers.statement_fields(
            mer_id=self._config.mer_id,
            cert_id=self._config.sign_cert_id,
            settle_date=f"{day:%m%d}",
            now=self._now(),
        )
        api = "fileTransfer"
        limit = self._config.statement_bytes_max * 2 + ANSWER_BYTES_MAX
        answer = self._call(api, self._config.statement_url, fields, limit)
        if transformers.resp_code(answer) != transformers.SUCCESS:
            raise transformers.failure(api, answer, query=True)
        file_name, archive = statement.zip_bytes(answer, self._config.statement_bytes_max)
        return Statement(day=day, content=archive, file_name=file_name)


__all__ = ["UnionPayConnector", "UnionPayRejected"]

if TYPE_CHECKING:
    _CONFORMS: type[Connector] = UnionPayConnector
