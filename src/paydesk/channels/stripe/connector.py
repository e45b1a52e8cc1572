"""``StripeConnector``: the connector protocol (base.py) for one Stripe account, cards only.

Every call goes through the unmodified ``stripe`` SDK: one ``stripe.StripeClient`` per
connector, pointed at ``StripeConfig.api_url`` by ``base_addresses={"api": ...}``, with the
SDK's own ``RequestsClient(timeout=timeout_s)`` and ``max_network_retries=0`` (a retry is the
caller's decision; it carries the same idempotency key). Nothing is patched.

Flows:

- ``create_payment`` (:attr:`Method.CARD`): a PaymentIntent (amount in Stripe's unit, currency
  lower-case, ``metadata[out_trade_no]``, cards only, ``description`` = subject; see
  ``transformers.create_params`` for the SDK's API version and localstripe's older spelling)
  under the idempotency key ``out_trade_no``, so a retried create answers the same intent
  (Stripe keeps keys 24 hours). Without ``payment_token``: SDK_PARAMS
  ``{client_secret, payment_intent[, publishable_key]}`` for Stripe.js. With one (a
  PaymentMethod id): ``confirm=true, payment_method=token`` (and ``return_url`` when given),
  answered NONE, REDIRECT for a 3-D Secure ``redirect_to_url``, or SDK_PARAMS when Stripe
  wants Stripe.js to authenticate (``use_stripe_sdk``). ``channel_trade_no`` is always the
  intent's id. A declined card is a StripeRejected naming Stripe's code and decline code.
- ``query_payment``: retrieve the intent (``expand=[latest_charge]``, to see refunds) by
  ``channel_trade_no``; without it, find it by ``metadata[out_trade_no]`` (:meth:`_find`).
- ``close_payment``: cancel the intent; one already canceled is fine, a paid one is refused.
- ``refund``: a Refund of the intent, ``metadata[out_refund_no]``, idempotency key
  ``out_refund_no``. ``query_refund``: retrieve by ``channel_refund_no``, else list the
  intent's refunds and match ``metadata[out_refund_no]``.
- ``parse_notification``: ``StripeClient.construct_event`` verifies ``Stripe-Signature`` with
  the endpoint's signing secret (HMAC-SHA256 over ``"{t}.{body}"``, 300 s tolerance);
  ``payment_intent.*`` → the payment from the event's object; ``refund.*`` and
  ``charge.refund.updated`` → the refund from the event's object; ``charge.refunded`` → the
  payment, queried afresh (the charge does not carry our number). An object without our
  number (made outside Paydesk) and any other event type → a Notification with neither.
- ``acknowledge``: 200 ``{"received": true}`` (stop), or 400 ``{"received": false}`` (retry).
- ``download_statement``: the day's (UTC) balance transactions, ``created[gte]``/``[lt]``,
  as CSV (transformers.STATEMENT_COLUMNS).

Looking a payment up by our number (:meth:`_find`) lists PaymentIntents and matches
``metadata[out_trade_no]``, at most ``lookup_scan_max`` of them (newest first at Stripe).
Not the Search API: Stripe documents it as unfit for read-after-write (new data shows up
within about a minute, up to an hour during outages), and this look-up exists for a create
whose answer was lost moments ago; localstripe does not implement search either. Paydesk
keeps ``channel_trade_no`` from every answered create, so the look-up is the exception.

Errors: see errors.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import stripe

from paydesk.channels.base import (
    Acknowledgement,
    ChannelError,
    ChannelPayment,
    ChannelRefund,
    ChannelRejected,
    Connector,
    InvalidNotification,
    Notification,
    PaymentAction,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    Statement,
)
from paydesk.channels.stripe import transformers
from paydesk.channels.stripe.config import StripeConfig
from paydesk.channels.stripe.errors import StripeRejected, from_stripe_error

CHANNEL = transformers.CHANNEL
ACK_MEDIA_TYPE = "application/json"
SIGNATURE_HEADER = "stripe-signature"
PAGE_SIZE = 100
"""Stripe's largest list page."""

T = TypeVar("T")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (frameworks differ in how they spell it)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain dicts and lists, for transformers."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    raise ChannelError(f"Stripe answered {type(obj).__name__}, not an object")


class StripeConnector:
    """One Stripe account's card connector (base.Connector)."""

    channel: str = CHANNEL

    def __init__(self, config: StripeConfig) -> None:
        self._config = config
        self._client = stripe.StripeClient(
            config.secret_key,
            base_addresses={"api": config.api_base},
            http_client=stripe.RequestsClient(timeout=config.timeout_s),
            max_network_retries=0,
        )

    def __repr__(self) -> str:
        return f"StripeConnector({self._config!r})"

    # --- calling Stripe -------------------------------------------------------------------------
    def _call(
        self,
        operation: str,
        call: Callable[[], T],
        *,
        missing: type[ChannelRejected] = ChannelRejected,
    ) -> T:
        """One SDK call; its exceptions as channel errors (errors.py)."""
        try:
            return call()
        except stripe.StripeError as error:
            raise from_stripe_error(operation, error, missing=missing) from None

    def _iterate(
        self,
        operation: str,
        first: Callable[[], Any],
        limit: int,
        *,
        missing: type[ChannelRejected],
    ) -> Iterator[dict[str, Any]]:
        """The items of a list call, page by page (the SDK's auto-paging), at most ``limit``."""
        page = self._call(operation, first, missing=missing)
        items = self._call(operation, page.auto_paging_iter)
        count = 0
        while count < limit:
            item = self._call(operation, lambda: next(items, None))
            if item is None:
                return
            count += 1
            yield _plain(item)

    # --- payments -------------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentAction:
        params = transformers.create_params(request, localstripe=self._config.localstripe)
        intent = _plain(
            self._call(
                "payment_intents.create",
                lambda: self._client.v1.payment_intents.create(
                    params, {"idempotency_key": request.out_trade_no}
                ),
            )
        )
        transformers.check_created(intent, request)
        return transformers.payment_action(intent, self._config.publishable_key)

    def _retrieve(self, intent_id: str) -> dict[str, Any]:
        return _plain(
            self._call(
                "payment_intents.retrieve",
                lambda: self._client.v1.payment_intents.retrieve(
                    intent_id, {"expand": ["latest_charge"]}
                ),
                missing=PaymentNotFound,
            )
        )

    def _find(self, out_trade_no: str) -> dict[str, Any]:
        """The intent whose ``metadata[out_trade_no]`` is ours (see the module docstring);
        PaymentNotFound when no intent has it, ChannelError when the scan was cut short."""
        limit = self._config.lookup_scan_max
        intents = self._iterate(
            "payment_intents.list",
            lambda: self._client.v1.payment_intents.list({"limit": PAGE_SIZE}),
            limit + 1,
            missing=ChannelRejected,
        )
        for scanned, intent in enumerate(intents, start=1):
            if scanned > limit:
                raise ChannelError(
                    f"Stripe: no PaymentIntent for {out_trade_no!r} among the newest {limit}"
                )
            if transformers.metadata(intent).get(transformers.OUT_TRADE_NO) == out_trade_no:
                return intent
        raise PaymentNotFound(f"Stripe has no PaymentIntent for {out_trade_no!r}")

    def _intent_id(self, out_trade_no: str, channel_trade_no: str | None) -> str:
        if channel_trade_no:
            return channel_trade_no
        return transformers.text(self._find(out_trade_no), "id", "payment_intents.list")

    def query_payment(
        self, out_trade_no: str, channel_trade_no: str | None = None
    ) -> ChannelPayment:
        intent = self._retrieve(self._intent_id(out_trade_no, channel_trade_no))
        return transformers.payment(intent, out_trade_no, "payment_intents.retrieve")

    def close_payment(self, out_trade_no: str, channel_trade_no: str | None = None) -> None:
        """Cancel the intent. Already canceled: done. Paid (or processing): StripeRejected."""
        intent_id = self._intent_id(out_trade_no, channel_trade_no)
        try:
            self._call(
                "payment_intents.cancel",
                lambda: self._client.v1.payment_intents.cancel(intent_id),
                missing=PaymentNotFound,
            )
            return
        except PaymentNotFound:
            raise
        except ChannelRejected:
            # Stripe refuses to cancel an intent past the cancelable statuses
            # (payment_intent_unexpected_state); its status says whether that is a success.
            pass
        current = transformers.payment(self._retrieve(intent_id), out_trade_no)
        if current.status is PaymentStatus.CLOSED:
            return
        raise StripeRejected(
            f"Stripe payment_intents.cancel: the intent is {current.raw_status}, "
            "it cannot be closed",
            stripe_code="payment_intent_unexpected_state",
        )

    # --- refunds --------------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> ChannelRefund:
        intent_id = self._intent_id(request.out_trade_no, request.channel_trade_no)
        params = transformers.refund_params(request, intent_id)
        answer = transformers.refund(
            _plain(
                self._call(
                    "refunds.create",
                    lambda: self._client.v1.refunds.create(
                        params, {"idempotency_key": request.out_refund_no}
                    ),
                    missing=PaymentNotFound,
                )
            ),
            request.out_refund_no,
            "refunds.create",
        )
        transformers.check_refunded(answer, request)
        return answer

    def query_refund(
        self, out_refund_no: str, out_trade_no: str, channel_refund_no: str | None = None
    ) -> ChannelRefund:
        if channel_refund_no:
            found = _plain(
                self._call(
                    "refunds.retrieve",
                    lambda: self._client.v1.refunds.retrieve(channel_refund_no),
                )
            )
            return transformers.refund(found, out_refund_no, "refunds.retrieve")
        intent_id = self._intent_id(out_trade_no, None)
        for obj in self._iterate(
            "refunds.list",
            lambda: self._client.v1.refunds.list({"payment_intent": intent_id, "limit": PAGE_SIZE}),
            self._config.lookup_scan_max,
            missing=PaymentNotFound,
        ):
            if transformers.metadata(obj).get(transformers.OUT_REFUND_NO) == out_refund_no:
                return transformers.refund(obj, out_refund_no, "refunds.list")
        raise StripeRejected(
            f"Stripe has no refund {out_refund_no!r} of {out_trade_no!r}",
            stripe_code="resource_missing",
        )

    # --- notifications --------------------------------------------------------------------------
    def _verified_event(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise InvalidNotification("Stripe event: no Stripe-Signature header")
        try:
            event = self._client.construct_event(body, signature, self._config.webhook_secret)
        except stripe.SignatureVerificationError:
            raise InvalidNotification(
                "Stripe event: the signature does not verify or is too old"
            ) from None
        except (ValueError, TypeError, AttributeError):
            raise InvalidNotification("Stripe event: the body is not an event") from None
        return event.to_dict()

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify and read one event (see the module docstring for the types acted on)."""
        try:
            view = transformers.event_view(self._verified_event(headers, body))
        except InvalidNotification:
            raise
        except ChannelError as error:
            raise InvalidNotification(error.message) from None
        if view.livemode != self._config.livemode:
            raise InvalidNotification(
                f"Stripe event {view.id}: livemode {view.livemode} does not match the key's mode"
            )
        obj, kind = view.obj, view.object_type
        has_trade_no = bool(transformers.metadata(obj).get(transformers.OUT_TRADE_NO))
        if view.type.startswith("payment_intent.") and kind == "payment_intent":
            if not has_trade_no:
                return Notification(notification_id=view.id)
            return Notification(
                payment=transformers.payment(obj, where=f"event {view.type}"),
                notification_id=view.id,
            )
        refund_event = view.type.startswith("refund.") or view.type == "charge.refund.updated"
        if refund_event and kind == "refund":
            if not transformers.metadata(obj).get(transformers.OUT_REFUND_NO):
                return Notification(notification_id=view.id)
            return Notification(
                refund=transformers.refund(obj, where=f"event {view.type}"),
                notification_id=view.id,
            )
        if view.type == "charge.refunded" and kind == "charge":
            intent_id = transformers.object_id(obj.get("payment_intent"))
            if intent_id is None:
                return Notification(notification_id=view.id)
            intent = self._retrieve(intent_id)
            if not transformers.metadata(intent).get(transformers.OUT_TRADE_NO):
                return Notification(notification_id=view.id)
            return Notification(
                payment=transformers.payment(intent, where="payment_intents.retrieve"),
                notification_id=view.id,
            )
        return Notification(notification_id=view.id)

    def acknowledge(self, accepted: bool) -> Acknowledgement:
        body = json.dumps({"received": accepted}).encode()
        return Acknowledgement(200 if accepted else 400, body, ACK_MEDIA_TYPE)

    # --- statements -----------------------------------------------------------------------------
    def download_statement(self, day: date) -> Statement:
        """The balance transactions created on ``day`` (UTC) as CSV: see
        ``transformers.STATEMENT_COLUMNS``. localstripe 1.15 refuses the ``created`` filter
        (400 "Unexpected created"), so against it this raises StripeRejected."""
        start = datetime.combine(day, time(), UTC)
        gte, lt = int(start.timestamp()), int((start + timedelta(days=1)).timestamp())
        limit = self._config.statement_rows_max
        transactions = list(
            self._iterate(
                "balance_transactions.list",
                lambda: self._client.v1.balance_transactions.list(
                    {"created": {"gte": gte, "lt": lt}, "limit": PAGE_SIZE}
                ),
                limit + 1,
                missing=ChannelRejected,
            )
        )
        if len(transactions) > limit:
            raise ChannelError(f"Stripe statement for {day}: over {limit} balance transactions")
        content = transformers.statement_csv(transformers.statement_rows(transactions))
        return Statement(
            day=day, content=content, file_name=f"stripe-balance-transactions-{day}.csv"
        )


if TYPE_CHECKING:
    _CONFORMS: type[Connector] = StripeConnector
