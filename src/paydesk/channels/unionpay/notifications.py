"""UnionPay's notifications (后台通知 to ``backUrl``, and the same form the payer's browser brings
back to ``frontUrl``): the form and its mapping to our types. Pure functions.

Rules (the online gateway's API pages and the SDK demos' ``BackRcvResponse``):

- A notification is a form POST (``application/x-www-form-urlencoded``, UTF-8) signed as every
  answer is (:mod:`.signing`: ``signPubKeyCert`` chained to the configured root, then the
  signature); the connector verifies it. A body that is not such a form (bad encoding, a
  repeated field, over ``NOTIFICATION_BYTES_MAX``) is :class:`InvalidNotification`.
- It must be ``version=5.1.0, signMethod=01`` and name our ``merId``; a genuine notification
  for another merchant is not ours to apply.
- ``txnType`` 01 (consume) reports a payment: ``orderId`` (our number, escaped as
  :mod:`.wire` says), ``respCode`` (00 and A6 paid, mapped as ``origRespCode`` is), ``txnAmt``
  and ``currencyCode`` 156, ``queryId`` (UnionPay's id of the payment), ``txnTime``.
- ``txnType`` 04 (refund) reports a refund: its own ``orderId`` (our refund number),
  ``respCode``, ``txnAmt``, ``queryId``, and ``origQryId`` (the payment's queryId). Other
  transaction types are not served: InvalidNotification.
- UnionPay has no notification id; ``queryId`` names the transaction, and retries of one
  notification carry the same, so it is the ``notification_id``.
- The receiver answers HTTP 200 to stop UnionPay (the demos print ``ok``); any other status
  makes it send the notification again.
"""

from __future__ import annotations

from collections.abc import Mapping

from paydesk.channels.base import (
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    InvalidNotification,
    Notification,
    PaymentStatus,
    RefundStatus,
)
from paydesk.channels.unionpay import transformers, wire
from paydesk.channels.unionpay.transformers import CURRENCY
from paydesk.channels.unionpay.wire import WireError

NOTIFICATION_BYTES_MAX = 64 * 1024
FIELDS_MAX = 100


def read_form(body: bytes) -> dict[str, str]:
    """The form's fields; :class:`InvalidNotification` if the body is not one."""
    if len(body) > NOTIFICATION_BYTES_MAX:
        raise InvalidNotification(f"UnionPay notification over {NOTIFICATION_BYTES_MAX} bytes")
    try:
        form = wire.read_form(body, FIELDS_MAX)
    except WireError as error:
        raise InvalidNotification(f"UnionPay notification: {error}") from None
    if not form:
        raise InvalidNotification("UnionPay notification: the body is empty")
    return form


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise InvalidNotification(f"UnionPay notification without {name}")
    return value


def check_recipient(form: Mapping[str, str], mer_id: str) -> None:
    if form.get("version") != transformers.VERSION:
        raise InvalidNotification(f"UnionPay notification of version {form.get('version')!r}")
    if form.get("signMethod") != transformers.SIGN_METHOD_RSA:
        raise InvalidNotification(
            f"UnionPay notification of signMethod {form.get('signMethod')!r}, not 01"
        )
    if form.get("merId") != mer_id:
        raise InvalidNotification(f"UnionPay notification for merId {form.get('merId')!r}")
    if form.get("currencyCode", wire.CNY_NUMERIC) != wire.CNY_NUMERIC:
        raise InvalidNotification(
            f"UnionPay notification in currencyCode {form.get('currencyCode')!r}, not 156"
        )


def _our_number(form: Mapping[str, str]) -> str:
    try:
        return wire.out_trade_no(_required(form, "orderId"))
    except WireError as error:
        raise InvalidNotification(f"UnionPay notification: {error}") from None


def _amount(form: Mapping[str, str]) -> int:
    try:
        return wire.parse_fen(_required(form, "txnAmt"), "txnAmt")
    except WireError as error:
        raise InvalidNotification(f"UnionPay notification: {error}") from None


def _raw(form: Mapping[str, str]) -> str:
    text = f"{_required(form, 'respCode')} {form.get('respMsg', '')}".strip()
    return text[: transformers.MESSAGE_CHARS_MAX]


def payment(form: Mapping[str, str]) -> ChannelPayment:
    code = _required(form, "respCode")
    status = transformers.status_of(code)
    return ChannelPayment(
        out_trade_no=_our_number(form),
        status=status,
        amount_minor=_amount(form),
        currency=CURRENCY,
        channel_trade_no=form.get("queryId") or None,
        paid_at=transformers.paid_at(form, status),
        raw_status=_raw(form),
    )


def refund(form: Mapping[str, str]) -> ChannelRefund:
    code = _required(form, "respCode")
    status = transformers.refund_status_of(code)
    succeeded = status is RefundStatus.SUCCEEDED
    return ChannelRefund(
        out_refund_no=_our_number(form),
        status=status,
        refund_minor=_amount(form),
        currency=CURRENCY,
        channel_refund_no=form.get("queryId") or None,
        succeeded_at=transformers.paid_at(form, PaymentStatus.SUCCEEDED) if succeeded else None,
        raw_status=_raw(form),
    )


def notification(form: Mapping[str, str]) -> Notification:
    """The update a verified notification of our merchant carries."""
    txn_type = form.get("txnType")
    notification_id = form.get("queryId") or None
    try:
        if txn_type == transformers.TXN_CONSUME:
            return Notification(payment=payment(form), notification_id=notification_id)
        if txn_type == transformers.TXN_REFUND:
            return Notification(refund=refund(form), notification_id=notification_id)
    except ChannelError as error:
        if isinstance(error, InvalidNotification):
            raise
        raise InvalidNotification(f"UnionPay notification: {error.message}") from None
    raise InvalidNotification(f"UnionPay notification of txnType {txn_type!r} is not served")
