"""Stripe's objects and their mapping to Paydesk's channel types: pure functions.

Nothing here talks to the network; the connector hands these functions our requests and
Stripe's answers as plain dicts (``StripeObject.to_dict()``), and gets the SDK parameters or
our types back. Rules followed (CHANNELS.md "Cards through Stripe", STYLE.md, base.py):

- **Method**: only :attr:`Method.CARD`; any other is :class:`UnsupportedFlow`.
- **Money**: Stripe takes amounts in the currency's smallest unit, which is ISO 4217's minor
  unit (cents; yen, which has none; fils with three decimals) except for ISK: ISO 4217 gives
  it no decimals, Stripe keeps two for backward compatibility (100 = 1 krona, and amounts must
  be whole kronur). :data:`AMOUNT_SCALE` holds that exception; an amount coming back that does
  not divide by it is a :class:`ChannelError`. Currencies go out lower-case and come back
  upper-case.
- **PaymentIntent statuses**, exhaustively: requires_payment_method, requires_confirmation,
  requires_action, processing, requires_capture → PENDING (a declined card leaves the intent
  in requires_payment_method: the payer may try another card); succeeded → SUCCEEDED, or
  REFUNDED when its latest charge (when expanded) shows ``amount_refunded > 0``; canceled →
  CLOSED. Anything else is a ChannelError.
- **Refund statuses**, exhaustively: pending, requires_action → PENDING; succeeded →
  SUCCEEDED; failed, canceled → FAILED.
- **Our numbers** travel in ``metadata``: ``out_trade_no`` on the PaymentIntent,
  ``out_refund_no`` and ``out_trade_no`` on the Refund (our free-text refund reason goes in
  ``metadata[reason]``: Stripe's own ``reason`` is an enum). An answer naming another number
  than the one we asked about is a ChannelError.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelRejected,
    Method,
    PaymentAction,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, RefundCreateParams

CHANNEL = "stripe"
OUT_TRADE_NO = "out_trade_no"
OUT_REFUND_NO = "out_refund_no"
REASON = "reason"
METADATA_VALUE_CHARS_MAX = 500
"""Stripe's limit on one metadata value."""
DESCRIPTION_CHARS_MAX = 1_000
AMOUNT_SCALE: Mapping[str, int] = {"ISK": 100}
"""Stripe amount = ISO 4217 minor amount * scale, for the currencies where the two differ."""

PAYMENT_STATUSES: Mapping[str, PaymentStatus] = {
    "requires_payment_method": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PENDING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CLOSED,
}
"""Every PaymentIntent ``status`` Stripe documents."""

REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}
"""Every Refund ``status`` Stripe documents."""

CANCELABLE_STATUSES = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)

STATEMENT_COLUMNS = (
    "id",
    "created",
    "available_on",
    "type",
    "reporting_category",
    "status",
    "currency",
    "amount_minor",
    "fee_minor",
    "net_minor",
    "source",
    "description",
)
"""The statement CSV's header: one balance transaction a row; times in ISO 8601 UTC,
amounts in ISO 4217 minor units (signed: refunds are negative), currency upper-case."""


# --- reading fields -----------------------------------------------------------------------------
def text(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ChannelError(f"Stripe {where}: {name} is missing or not a string")
    return value


def _integer(data: Mapping[str, Any], name: str, where: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChannelError(f"Stripe {where}: {name} is not an integer: {value!r}")
    return value


def _time(value: object, name: str, where: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ChannelError(f"Stripe {where}: {name} is not a Unix time: {value!r}")
    return datetime.fromtimestamp(value, UTC)


def metadata(data: Mapping[str, Any]) -> Mapping[str, Any]:
    value = data.get("metadata")
    return value if isinstance(value, Mapping) else {}


def object_id(value: object) -> str | None:
    """An expandable field: its id whether Stripe sent the id or the expanded object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


# --- money --------------------------------------------------------------------------------------
def check_amount(amount_minor: int, param: str) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ChannelRejected(f"{param} must be a positive number of minor units", param=param)


def check_currency(currency: str) -> str:
    """The ISO code, upper-case; three ASCII letters or a ChannelRejected."""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ChannelRejected(f"{currency!r} is not an ISO 4217 currency code", param="currency")
    return currency.upper()


def stripe_amount(amount_minor: int, currency: str) -> int:
    """Our minor units as Stripe's amount for ``currency`` (upper-case)."""
    return amount_minor * AMOUNT_SCALE.get(currency, 1)


def minor_amount(data: Mapping[str, Any], name: str, currency: str, where: str) -> int:
    """Stripe's amount ``name`` as our minor units for ``currency`` (upper-case)."""
    amount = _integer(data, name, where)
    scale = AMOUNT_SCALE.get(currency, 1)
    whole, rest = divmod(amount, scale)
    if rest:
        raise ChannelError(f"Stripe {where}: {name} {amount} is not whole {currency} units")
    return whole


def answer_currency(data: Mapping[str, Any], where: str) -> str:
    return text(data, "currency", where).upper()


# --- payments -----------------------------------------------------------------------------------
def check_payment_request(request: PaymentRequest) -> str:
    """The upper-case currency of a request that can go to Stripe; checks before any call."""
    if request.method is not Method.CARD:
        raise UnsupportedFlow(f"Stripe does not offer the method {request.method.value}")
    check_amount(request.amount_minor, "amount_minor")
    if not request.subject.strip() or len(request.subject) > DESCRIPTION_CHARS_MAX:
        raise ChannelRejected(
            f"subject must be 1 to {DESCRIPTION_CHARS_MAX} characters", param="subject"
        )
    if len(request.out_trade_no) > METADATA_VALUE_CHARS_MAX or not request.out_trade_no:
        raise ChannelRejected("out_trade_no is empty or too long", param="out_trade_no")
    return check_currency(request.currency)


def create_params(request: PaymentRequest, *, localstripe: bool) -> PaymentIntentCreateParams:
    """The PaymentIntent create call: confirmed at once when the request carries a token.

    Cards only, through ``allowed_payment_method_types``: the SDK's API version
    (2026-10-28.endive) no longer takes ``payment_method_types`` on create (400
    ``payment_method_types_no_longer_supported`` since 2026-09-30.endive). localstripe 1.15
    models the older API: it takes ``payment_method_types`` and refuses every parameter it
    does not know, ``allowed_payment_method_types``, ``description`` and ``return_url``
    included, so ``localstripe=True`` sends the old spelling and leaves those out."""
    currency = check_payment_request(request)
    params: PaymentIntentCreateParams = {
        "amount": stripe_amount(request.amount_minor, currency),
        "currency": currency.lower(),
        "metadata": {OUT_TRADE_NO: request.out_trade_no},
        "allowed_payment_method_types": ["card"],
        "description": request.subject,
    }
    if request.payment_token:
        params["confirm"] = True
        params["payment_method"] = request.payment_token
        if request.return_url:
            params["return_url"] = request.return_url
    if not localstripe:
        return params
    legacy: dict[str, Any] = dict(params)
    for name in ("allowed_payment_method_types", "description", "return_url"):
        legacy.pop(name, None)
    legacy["payment_method_types"] = ["card"]
    return cast("PaymentIntentCreateParams", legacy)


def check_created(intent: Mapping[str, Any], request: PaymentRequest) -> None:
    """The intent Stripe created is the one we asked for (a replayed idempotency key returns
    the first request's intent)."""
    where = "payment_intents.create"
    currency = answer_currency(intent, where)
    amount = minor_amount(intent, "amount", currency, where)
    echoed = metadata(intent).get(OUT_TRADE_NO)
    if (echoed, amount, currency) != (
        request.out_trade_no,
        request.amount_minor,
        check_currency(request.currency),
    ):
        raise ChannelError(
            f"Stripe {where}: answered intent {intent.get('id')!r} for {echoed!r} "
            f"{amount} {currency}, not {request.out_trade_no!r} {request.amount_minor} "
            f"{request.currency}"
        )


def payment_action(intent: Mapping[str, Any], publishable_key: str | None) -> PaymentAction:
    """What the payer needs next, from the created (maybe confirmed) intent:

    - a 3-D Secure redirect (``next_action.redirect_to_url``, when we sent a ``return_url``)
      → REDIRECT to its ``url``;
    - anything else still waiting for the payer (not confirmed yet; ``use_stripe_sdk``
      authentication; a declined card's ``requires_payment_method``) → SDK_PARAMS for
      Stripe.js: ``client_secret``, ``payment_intent`` (and ``publishable_key`` when known);
    - confirmed and going through (processing, succeeded, canceled) → NONE.
    """
    where = "payment_intents.create"
    intent_id = text(intent, "id", where)
    status = text(intent, "status", where)
    if status not in PAYMENT_STATUSES:
        raise ChannelError(f"Stripe reported an unknown PaymentIntent status {status!r}")
    next_action = intent.get("next_action")
    if isinstance(next_action, Mapping) and next_action.get("type") == "redirect_to_url":
        redirect = next_action.get("redirect_to_url")
        url = redirect.get("url") if isinstance(redirect, Mapping) else None
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ChannelError(f"Stripe {where}: redirect_to_url has no https url")
        return PaymentAction(ActionKind.REDIRECT, redirect_url=url, channel_trade_no=intent_id)
    if status in ("requires_payment_method", "requires_confirmation", "requires_action"):
        params = {
            "client_secret": text(intent, "client_secret", where),
            "payment_intent": intent_id,
        }
        if publishable_key:
            params["publishable_key"] = publishable_key
        return PaymentAction(ActionKind.SDK_PARAMS, sdk_params=params, channel_trade_no=intent_id)
    return PaymentAction(ActionKind.NONE, channel_trade_no=intent_id)


def payment_status(intent: Mapping[str, Any], where: str) -> tuple[str, PaymentStatus]:
    """The intent's own status word and our status (see the module docstring)."""
    raw = text(intent, "status", where)
    try:
        status = PAYMENT_STATUSES[raw]
    except KeyError:
        raise ChannelError(f"Stripe reported an unknown PaymentIntent status {raw!r}") from None
    charge = intent.get("latest_charge")
    refunded = isinstance(charge, Mapping) and _integer(charge, "amount_refunded", where) > 0
    if status is PaymentStatus.SUCCEEDED and refunded:
        status = PaymentStatus.REFUNDED
    return raw, status


def payment(
    intent: Mapping[str, Any], out_trade_no: str | None = None, where: str = "payment_intent"
) -> ChannelPayment:
    """A PaymentIntent as our payment. ``out_trade_no``: the number we asked about (the
    intent's metadata must name it); None takes the intent's own (a webhook)."""
    echoed = metadata(intent).get(OUT_TRADE_NO)
    if not isinstance(echoed, str) or not echoed:
        raise ChannelError(f"Stripe {where}: the intent carries no metadata[{OUT_TRADE_NO}]")
    if out_trade_no is not None and echoed != out_trade_no:
        raise ChannelError(f"Stripe {where}: answered for {echoed!r}, not {out_trade_no!r}")
    raw, status = payment_status(intent, where)
    currency = answer_currency(intent, where)
    charge = intent.get("latest_charge")
    paid_at = None
    if status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED) and isinstance(charge, Mapping):
        paid_at = _time(charge.get("created"), "latest_charge.created", where)
    return ChannelPayment(
        out_trade_no=echoed,
        status=status,
        amount_minor=minor_amount(intent, "amount", currency, where),
        currency=currency,
        channel_trade_no=text(intent, "id", where),
        paid_at=paid_at,
        raw_status=raw,
    )


# --- refunds ------------------------------------------------------------------------------------
def refund_params(request: RefundRequest, payment_intent: str) -> RefundCreateParams:
    check_amount(request.refund_minor, "refund_minor")
    currency = check_currency(request.currency)
    if len(request.reason) > METADATA_VALUE_CHARS_MAX:
        raise ChannelRejected(
            f"reason is over {METADATA_VALUE_CHARS_MAX} characters", param="reason"
        )
    if not request.out_refund_no or len(request.out_refund_no) > METADATA_VALUE_CHARS_MAX:
        raise ChannelRejected("out_refund_no is empty or too long", param="out_refund_no")
    data = {OUT_REFUND_NO: request.out_refund_no, OUT_TRADE_NO: request.out_trade_no}
    if request.reason:
        data[REASON] = request.reason
    return {
        "payment_intent": payment_intent,
        "amount": stripe_amount(request.refund_minor, currency),
        "metadata": data,
    }


def refund(
    obj: Mapping[str, Any], out_refund_no: str | None = None, where: str = "refund"
) -> ChannelRefund:
    """A Refund as ours. ``out_refund_no``: the number we asked about (its metadata must name
    it); None takes the refund's own (a webhook)."""
    echoed = metadata(obj).get(OUT_REFUND_NO)
    if not isinstance(echoed, str) or not echoed:
        raise ChannelError(f"Stripe {where}: the refund carries no metadata[{OUT_REFUND_NO}]")
    if out_refund_no is not None and echoed != out_refund_no:
        raise ChannelError(f"Stripe {where}: answered for {echoed!r}, not {out_refund_no!r}")
    raw = text(obj, "status", where)
    try:
        status = REFUND_STATUSES[raw]
    except KeyError:
        raise ChannelError(f"Stripe reported an unknown Refund status {raw!r}") from None
    currency = answer_currency(obj, where)
    trade_no = metadata(obj).get(OUT_TRADE_NO)
    return ChannelRefund(
        out_refund_no=echoed,
        status=status,
        refund_minor=minor_amount(obj, "amount", currency, where),
        currency=currency,
        out_trade_no=trade_no if isinstance(trade_no, str) and trade_no else None,
        channel_refund_no=text(obj, "id", where),
        # Stripe keeps no success time of its own: creation is the nearest (refunds to cards
        # succeed at once, or leave ``pending`` within minutes).
        succeeded_at=(
            _time(obj.get("created"), "created", where)
            if status is RefundStatus.SUCCEEDED
            else None
        ),
        raw_status=raw,
    )


def check_refunded(answer: ChannelRefund, request: RefundRequest) -> None:
    """The refund Stripe made is the one we asked for (amount and currency)."""
    if (answer.refund_minor, answer.currency) != (
        request.refund_minor,
        check_currency(request.currency),
    ):
        raise ChannelError(
            f"Stripe refunds.create: refunded {answer.refund_minor} {answer.currency}, not "
            f"{request.refund_minor} {request.currency}"
        )


# --- events -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventView:
    """The parts of a verified event the connector acts on."""

    id: str
    type: str
    livemode: bool
    obj: Mapping[str, Any]
    """``data.object``: the object as it was when the event happened."""

    @property
    def object_type(self) -> str:
        value = self.obj.get("object")
        return value if isinstance(value, str) else ""


def event_view(event: Mapping[str, Any]) -> EventView:
    where = "event"
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise ChannelError("Stripe event: data.object is missing")
    livemode = event.get("livemode")
    if not isinstance(livemode, bool):
        raise ChannelError("Stripe event: livemode is not a boolean")
    return EventView(text(event, "id", where), text(event, "type", where), livemode, obj)


# --- statements ---------------------------------------------------------------------------------
def statement_rows(transactions: Iterable[Mapping[str, Any]]) -> Iterable[list[str]]:
    """Balance transactions as :data:`STATEMENT_COLUMNS` rows."""
    where = "balance_transaction"
    for txn in transactions:
        currency = answer_currency(txn, where)
        description = txn.get("description")
        yield [
            text(txn, "id", where),
            _time(txn.get("created"), "created", where).isoformat(),
            _time(txn.get("available_on"), "available_on", where).isoformat(),
            text(txn, "type", where),
            str(txn.get("reporting_category") or ""),
            str(txn.get("status") or ""),
            currency,
            str(minor_amount(txn, "amount", currency, where)),
            str(minor_amount(txn, "fee", currency, where)),
            str(minor_amount(txn, "net", currency, where)),
            object_id(txn.get("source")) or "",
            description if isinstance(description, str) else "",
        ]


def statement_csv(rows: Iterable[list[str]]) -> bytes:
    """The rows under the header, as UTF-8 CSV (RFC 4180 quoting, ``\\r\\n`` line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(STATEMENT_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode()
