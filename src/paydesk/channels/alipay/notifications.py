"""Alipay's asynchronous notifications: the form, and its mapping to our types. Pure functions.

Rules (CHANNELS.md "Alipay open platform", docs/simulators-alipay.md "Notifications"):

- A notification is a form POST (``application/x-www-form-urlencoded``, UTF-8 as our requests
  ask with ``charset=utf-8``) of ``notify_type=trade_status_sync``; it is signed over every
  parameter except ``sign`` and ``sign_type`` (the connector checks the signature with the
  SDK). A body that is not such a form (bad encoding, a repeated or missing parameter, over
  ``NOTIFICATION_BYTES_MAX``) is :class:`InvalidNotification`.
- It must name our ``app_id`` (and our ``seller_id`` when the config knows it), else it is
  :class:`InvalidNotification`: a genuine notification for another app is not ours to apply.
- The payment: ``out_trade_no``, ``trade_status`` (mapped as in transformers.py: TRADE_CLOSED
  is REFUNDED when ``gmt_payment`` or refund fields show the trade had been paid),
  ``total_amount`` (the echoed amount), ``trade_no``, ``gmt_payment``, ``buyer_id``.
- A **refund notification** is recognised by ``out_biz_no`` (the refund's ``out_request_no``,
  i.e. our ``out_refund_no``) together with ``refund_fee``. ``refund_fee`` is the trade's
  cumulative refunded total, not this refund's amount, so the connector reads the refund
  itself with the refund query rather than guessing its amount from the form.
- ``notify_id`` is the notification id; retries and duplicates share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from paydesk.channels.alipay.transformers import (
    CURRENCY,
    fen_from_yuan,
    parse_time,
    payment_status,
)
from paydesk.channels.base import ChannelPayment, InvalidNotification

NOTIFY_TYPE = "trade_status_sync"
NOTIFICATION_BYTES_MAX = 64 * 1024
PARAMETERS_MAX = 100
SIGN = "sign"
SIGN_TYPE = "sign_type"


@dataclass(frozen=True, slots=True)
class SignedForm:
    """A notification form split for verification: the signed parameters and the signature."""

    params: dict[str, str]
    """Every parameter except ``sign`` (``sign_type`` stays: the SDK's ``verify`` removes and
    checks it)."""
    signature: str


def read_form(body: bytes) -> dict[str, str]:
    """The form's parameters; :class:`InvalidNotification` if the body is not one."""
    if len(body) > NOTIFICATION_BYTES_MAX:
        raise InvalidNotification(f"Alipay notification over {NOTIFICATION_BYTES_MAX} bytes")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=PARAMETERS_MAX,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidNotification("Alipay notification: the body is not a UTF-8 form") from None
    form = dict(pairs)
    if not form:
        raise InvalidNotification("Alipay notification: the body is empty")
    if len(form) != len(pairs):
        raise InvalidNotification("Alipay notification: a parameter is repeated")
    return form


def split_signature(form: Mapping[str, str]) -> SignedForm:
    """The parameters to verify (a copy) and the ``sign`` to verify them against."""
    params = dict(form)
    signature = params.pop(SIGN, "")
    if not signature:
        raise InvalidNotification("Alipay notification: no sign")
    return SignedForm(params, signature)


def check_recipient(form: Mapping[str, str], app_id: str, seller_id: str | None) -> None:
    """The notification is a trade notification for our app (and merchant)."""
    if form.get("app_id") != app_id:
        raise InvalidNotification(
            f"Alipay notification for app_id {form.get('app_id')!r}, not {app_id!r}"
        )
    if seller_id is not None and form.get("seller_id") != seller_id:
        raise InvalidNotification(
            f"Alipay notification for seller_id {form.get('seller_id')!r}, not {seller_id!r}"
        )
    if form.get("notify_type") != NOTIFY_TYPE:
        raise InvalidNotification(
            f"Alipay notification of notify_type {form.get('notify_type')!r}, not {NOTIFY_TYPE}"
        )


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise InvalidNotification(f"Alipay notification without {name}")
    return value


def refund_request_no(form: Mapping[str, str]) -> str | None:
    """``out_biz_no`` of a refund notification (both it and ``refund_fee`` present), else
    None."""
    out_biz_no = form.get("out_biz_no")
    if out_biz_no and form.get("refund_fee"):
        return out_biz_no
    return None


def payment(form: Mapping[str, str]) -> ChannelPayment:
    """The payment a verified notification reports."""
    raw_status = _required(form, "trade_status")
    paid_at = parse_time(form.get("gmt_payment"), "gmt_payment")
    refund_fee = form.get("refund_fee")
    refunded = bool(refund_fee) and fen_from_yuan(refund_fee, "refund_fee") > 0
    return ChannelPayment(
        out_trade_no=_required(form, "out_trade_no"),
        status=payment_status(raw_status, paid=paid_at is not None or refunded),
        amount_minor=fen_from_yuan(_required(form, "total_amount"), "total_amount"),
        currency=CURRENCY,
        channel_trade_no=form.get("trade_no") or None,
        paid_at=paid_at,
        payer_id=form.get("buyer_id") or form.get("buyer_open_id") or None,
        raw_status=raw_status,
    )


def notification_id(form: Mapping[str, str]) -> str | None:
    return form.get("notify_id") or None
