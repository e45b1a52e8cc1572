"""The Stripe connector against localstripe on loopback.

The connector drives the unmodified ``stripe`` SDK over real HTTP to one localstripe process
per module (tests/support/localstripe.py says what localstripe models and what it does not).
Payers act as Stripe.js would: PaymentMethods are made from test card numbers, and 3-D Secure
is played through localstripe's ``_authenticate``. localstripe's own webhooks reach a small
receiver that answers with ``parse_notification`` and ``acknowledge``. What localstripe cannot
check (Stripe's current parameter names, idempotency keys, HTTP failures) is checked against
a tiny recording server and against dead sockets.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    Notification,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.stripe import (
    STRIPE_API_URL,
    StripeConfig,
    StripeConnector,
    StripeCredentials,
    StripeRejected,
    transformers,
)
from tests.support.localstripe import (
    TEST_PUBLISHABLE_KEY,
    TEST_SECRET_KEY,
    LocalStripe,
    localstripe_server,
)
from tests.support.server import serving

WAIT_S = 10.0
WEBHOOK_SECRET = "whsec_" + "t3st" * 8
VISA = "4242 4242 4242 4242"
DECLINED_ON_CHARGE = "4000 0000 0000 0341"
THREE_D_SECURE = "4000 0025 0000 3155"


@dataclass
class Arrival:
    body: bytes
    outcome: Notification | Exception


class Receiver:
    """Paydesk's webhook endpoint (``/webhook``, answered with the connector) and a recording
    stand-in for Stripe (``/recorder/...``: keeps each request, answers a canned object) and
    broken ones (``/status/{code}/...``)."""

    def __init__(self) -> None:
        self.connector: StripeConnector | None = None
        self.arrivals: list[Arrival] = []
        self.recorded: list[tuple[str, dict[str, str], dict[str, list[str]]]] = []
        self.cond = threading.Condition()
        self.app = FastAPI()
        self.app.post("/webhook")(self._webhook)
        self.app.api_route("/recorder/{path:path}", methods=["GET", "POST"])(self._record)
        self.app.api_route("/status/{code}/{path:path}", methods=["GET", "POST"])(self._status)

    async def _webhook(self, request: Request) -> Response:
        body = await request.body()
        assert self.connector is not None
        try:
            outcome: Notification | Exception = await run_in_threadpool(
                self.connector.parse_notification, dict(request.headers), body
            )
        except ChannelError as error:
            outcome = error
        with self.cond:
            self.arrivals.append(Arrival(body, outcome))
            self.cond.notify_all()
        ack = self.connector.acknowledge(not isinstance(outcome, Exception))
        return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)

    async def _record(self, path: str, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        self.recorded.append((f"{request.method} /{path}", dict(request.headers), form))
        created = int(time.time())
        if path == "v1/refunds":
            obj: dict[str, Any] = {
                "id": "re_recorded",
                "object": "refund",
                "status": "succeeded",
                "amount": int(form["amount"][0]),
                "currency": "usd",
                "created": created,
                "metadata": {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")},
            }
        else:
            obj = {
                "id": "pi_recorded",
                "object": "payment_intent",
                "status": "requires_payment_method",
                "amount": int(form["amount"][0]),
                "currency": form["currency"][0],
                "client_secret": "pi_recorded_secret_x",
                "metadata": {"out_trade_no": form["metadata[out_trade_no]"][0]},
            }
        return Response(json.dumps(obj), media_type="application/json")

    async def _status(self, code: int) -> Response:
        body = {"error": {"type": "api_error", "message": f"status {code}"}}
        return Response(json.dumps(body), status_code=code, media_type="application/json")

    def wait_for(self, needle: str) -> Arrival:
        """The first arrival whose body mentions ``needle`` (an intent id)."""
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                for arrival in self.arrivals:
                    if needle.encode() in arrival.body:
                        return arrival
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no webhook about {needle}")
                self.cond.wait(remaining)


@dataclass
class Env:
    ls: LocalStripe
    receiver: Receiver
    receiver_base: str
    config: StripeConfig
    connector: StripeConnector

    def connect(self, **changes: Any) -> StripeConnector:
        return StripeConnector(replace(self.config, **changes))

    def request(
        self, token: str | None = None, *, amount_minor: int = 1234, currency: str = "USD"
    ) -> PaymentRequest:
        return PaymentRequest(
            out_trade_no=f"att_{secrets.token_hex(8)}",
            amount_minor=amount_minor,
            currency=currency,
            subject="Paydesk test order",
            method=Method.CARD,
            notify_url=f"{self.receiver_base}/webhook",
            expires_at=datetime.now(UTC) + timedelta(minutes=30),
            payment_token=token,
        )

    def card(self, number: str) -> str:
        return self.ls.card_payment_method(number)

    def paid(self, amount_minor: int = 1234) -> tuple[PaymentRequest, str]:
        request = self.request(self.card(VISA), amount_minor=amount_minor)
        action = self.connector.create_payment(request)
        assert action.kind is ActionKind.NONE and action.channel_trade_no
        return request, action.channel_trade_no

    def refund_request(
        self, request: PaymentRequest, intent: str | None, refund_minor: int
    ) -> RefundRequest:
        return RefundRequest(
            out_trade_no=request.out_trade_no,
            out_refund_no=f"rfd_{secrets.token_hex(8)}",
            refund_minor=refund_minor,
            total_minor=request.amount_minor,
            currency=request.currency,
            reason="customer asked",
            channel_trade_no=intent,
        )

    def signed(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """``event`` as a body and the headers Stripe would send with it, signed now."""
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
        return {"Stripe-Signature": header}, body.encode()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    receiver = Receiver()
    with localstripe_server() as ls, serving(receiver.app) as receiver_base:
        config = StripeConfig(
            secret_key=TEST_SECRET_KEY,
            webhook_secret=WEBHOOK_SECRET,
            publishable_key=TEST_PUBLISHABLE_KEY,
            api_url=ls.url,
            timeout_s=5.0,
            localstripe=True,
        )
        receiver.connector = StripeConnector(config)
        ls.configure_webhook("paydesk", f"{receiver_base}/webhook", WEBHOOK_SECRET)
        yield Env(ls, receiver, receiver_base, config, receiver.connector)


def event(kind: str, obj: dict[str, Any], *, livemode: bool = False) -> dict[str, Any]:
    return {
        "id": f"evt_{secrets.token_hex(6)}",
        "object": "event",
        "type": kind,
        "livemode": livemode,
        "created": int(time.time()),
        "data": {"object": obj},
    }


# --- payments -----------------------------------------------------------------------------------
def test_create_without_a_token_answers_stripe_js_parameters(env: Env) -> None:
    request = env.request()
    action = env.connector.create_payment(request)
    assert action.kind is ActionKind.SDK_PARAMS
    intent = action.sdk_params["payment_intent"]
    assert intent.startswith("pi_") and action.channel_trade_no == intent
    assert action.sdk_params["client_secret"].startswith(f"{intent}_secret_")
    assert action.sdk_params["publishable_key"] == TEST_PUBLISHABLE_KEY

    waiting = env.connector.query_payment(request.out_trade_no, intent)
    assert (waiting.status, waiting.raw_status) == (
        PaymentStatus.PENDING,
        "requires_payment_method",
    )
    assert (waiting.amount_minor, waiting.currency, waiting.paid_at) == (1234, "USD", None)


def test_a_card_token_confirms_at_once_and_the_payment_is_found_with_or_without_its_id(
    env: Env,
) -> None:
    request, intent = env.paid(amount_minor=2599)
    by_id = env.connector.query_payment(request.out_trade_no, intent)
    assert (by_id.status, by_id.raw_status) == (PaymentStatus.SUCCEEDED, "succeeded")
    assert (by_id.amount_minor, by_id.currency, by_id.channel_trade_no) == (2599, "USD", intent)
    assert by_id.paid_at is not None and abs(by_id.paid_at - datetime.now(UTC)) < timedelta(
        minutes=1
    )
    assert env.connector.query_payment(request.out_trade_no) == by_id


def test_a_declined_card_is_rejected_with_stripes_code(env: Env) -> None:
    request = env.request(env.card(DECLINED_ON_CHARGE))
    with pytest.raises(StripeRejected) as caught:
        env.connector.create_payment(request)
    assert isinstance(caught.value, ChannelRejected)
    assert not isinstance(caught.value, PaymentNotFound)
    assert caught.value.stripe_code == "card_declined"
    assert "card_declined" in caught.value.message and "HTTP 402" in caught.value.message
    # The intent exists, waiting for another card.
    left = env.connector.query_payment(request.out_trade_no)
    assert (left.status, left.raw_status) == (PaymentStatus.PENDING, "requires_payment_method")
    failed = env.receiver.wait_for(request.out_trade_no)
    assert isinstance(failed.outcome, Notification) and failed.outcome.payment is not None
    assert failed.outcome.payment.status is PaymentStatus.PENDING


def test_three_d_secure_asks_stripe_js_then_succeeds(env: Env) -> None:
    request = env.request(env.card(THREE_D_SECURE))
    action = env.connector.create_payment(request)
    assert action.kind is ActionKind.SDK_PARAMS and action.channel_trade_no
    pending = env.connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert (pending.status, pending.raw_status) == (PaymentStatus.PENDING, "requires_action")
    env.ls.authenticate(action.channel_trade_no, action.sdk_params["client_secret"], success=True)
    paid = env.connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert paid.status is PaymentStatus.SUCCEEDED


def test_amounts_follow_stripes_unit_for_the_currency(env: Env) -> None:
    """ISK has no minor unit in ISO 4217 but two decimals at Stripe: 500 ISK is 50000."""
    request = env.request(env.card(VISA), amount_minor=500, currency="ISK")
    action = env.connector.create_payment(request)
    assert action.channel_trade_no
    raw = stripe.StripeClient(TEST_SECRET_KEY, base_addresses={"api": env.ls.url})
    assert raw.v1.payment_intents.retrieve(action.channel_trade_no).amount == 50000
    paid = env.connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert (paid.amount_minor, paid.currency) == (500, "ISK")


def test_requests_stripe_would_refuse_fail_before_any_call(env: Env) -> None:
    with pytest.raises(UnsupportedFlow):
        env.connector.create_payment(replace(env.request(), method=Method.ALIPAY_QR))
    with pytest.raises(ChannelRejected):
        env.connector.create_payment(env.request(amount_minor=0))
    with pytest.raises(ChannelRejected):
        env.connector.create_payment(env.request(currency="US"))


def test_unknown_payments_are_not_found(env: Env) -> None:
    with pytest.raises(PaymentNotFound):
        env.connector.query_payment("att_never_created", "pi_doesnotexist")
    with pytest.raises(PaymentNotFound):
        env.connector.query_payment(f"att_{secrets.token_hex(8)}")
    with pytest.raises(PaymentNotFound):
        env.connector.close_payment(f"att_{secrets.token_hex(8)}")


def test_close_cancels_an_unpaid_intent_and_refuses_a_paid_one(env: Env) -> None:
    request = env.request()
    intent = env.connector.create_payment(request).channel_trade_no
    env.connector.close_payment(request.out_trade_no, intent)
    closed = env.connector.query_payment(request.out_trade_no, intent)
    assert (closed.status, closed.raw_status) == (PaymentStatus.CLOSED, "canceled")
    env.connector.close_payment(request.out_trade_no)  # again, found by our number: fine

    paid, paid_intent = env.paid()
    with pytest.raises(StripeRejected, match="succeeded"):
        env.connector.close_payment(paid.out_trade_no, paid_intent)


# --- refunds ------------------------------------------------------------------------------------
def test_partial_then_full_refund_and_refund_queries(env: Env) -> None:
    request, intent = env.paid(amount_minor=1000)
    first_request = env.refund_request(request, intent, 300)
    first = env.connector.refund(first_request)
    assert (first.status, first.refund_minor, first.currency) == (
        RefundStatus.SUCCEEDED,
        300,
        "USD",
    )
    assert first.out_refund_no == first_request.out_refund_no
    assert first.out_trade_no == request.out_trade_no and first.channel_refund_no
    assert first.succeeded_at is not None
    assert env.connector.query_payment(request.out_trade_no, intent).status is (
        PaymentStatus.REFUNDED
    )

    rest = env.connector.refund(env.refund_request(request, None, 700))  # intent found by number
    assert (rest.status, rest.refund_minor) == (RefundStatus.SUCCEEDED, 700)

    by_id = env.connector.query_refund(
        first.out_refund_no, request.out_trade_no, first.channel_refund_no
    )
    assert by_id == first
    by_number = env.connector.query_refund(rest.out_refund_no, request.out_trade_no)
    assert by_number == rest
    with pytest.raises(ChannelRejected):
        env.connector.query_refund("rfd_unknown", request.out_trade_no)
    with pytest.raises(ChannelError):  # a refund id answering for another of our numbers
        env.connector.query_refund("rfd_other", request.out_trade_no, first.channel_refund_no)


def test_refunding_an_unknown_payment_is_not_found(env: Env) -> None:
    request = env.request()
    with pytest.raises(PaymentNotFound):
        env.connector.refund(env.refund_request(request, "pi_doesnotexist", 100))


# --- notifications ------------------------------------------------------------------------------
def test_a_real_localstripe_webhook_is_verified_parsed_and_acknowledged(env: Env) -> None:
    request, intent = env.paid(amount_minor=4321)
    arrival = env.receiver.wait_for(intent)
    assert json.loads(arrival.body)["type"] == "payment_intent.succeeded"
    notification = arrival.outcome
    assert isinstance(notification, Notification), notification
    assert notification.notification_id and notification.notification_id.startswith("evt_")
    assert notification.refund is None and notification.payment is not None
    payment = notification.payment
    assert (payment.out_trade_no, payment.status, payment.amount_minor, payment.currency) == (
        request.out_trade_no,
        PaymentStatus.SUCCEEDED,
        4321,
        "USD",
    )
    assert payment.channel_trade_no == intent


def test_forged_tampered_stale_and_unsigned_events_are_invalid(env: Env) -> None:
    _, intent = env.paid()
    genuine = env.receiver.wait_for(intent).body
    header = json.loads(genuine)
    body = json.dumps(header)
    sign = stripe.WebhookSignature.generate_signature_header
    cases = {
        "forged": ({"Stripe-Signature": sign(body, "whsec_someoneelse")}, body.encode()),
        "tampered": (
            {"Stripe-Signature": sign(body, WEBHOOK_SECRET)},
            body.replace('"succeeded"', '"canceled"').encode(),
        ),
        "stale": (
            {"Stripe-Signature": sign(body, WEBHOOK_SECRET, int(time.time()) - 301)},
            body.encode(),
        ),
        "unsigned": ({}, body.encode()),
        "not json": ({"Stripe-Signature": sign("{", WEBHOOK_SECRET)}, b"{"),
    }
    for name, (headers, payload) in cases.items():
        with pytest.raises(InvalidNotification):
            env.connector.parse_notification(headers, payload)
            pytest.fail(name)
    live = event("payment_intent.succeeded", header["data"]["object"], livemode=True)
    with pytest.raises(InvalidNotification, match="livemode"):
        env.connector.parse_notification(*env.signed(live))
    fresh = env.connector.parse_notification(*env.signed(header))  # the same event, signed now
    assert fresh.payment is not None and fresh.payment.status is PaymentStatus.SUCCEEDED


def test_refund_events_and_events_not_acted_on(env: Env) -> None:
    request, intent = env.paid(amount_minor=800)
    made = env.connector.refund(env.refund_request(request, intent, 800))
    raw = stripe.StripeClient(TEST_SECRET_KEY, base_addresses={"api": env.ls.url})
    assert made.channel_refund_no
    refund_obj = raw.v1.refunds.retrieve(made.channel_refund_no).to_dict()
    updated = env.connector.parse_notification(*env.signed(event("refund.updated", refund_obj)))
    assert updated.payment is None and updated.refund == made

    intent_obj = raw.v1.payment_intents.retrieve(intent, {"expand": ["latest_charge"]}).to_dict()
    refunded = env.connector.parse_notification(
        *env.signed(event("charge.refunded", intent_obj["latest_charge"]))
    )
    assert refunded.payment is not None and refunded.payment.status is PaymentStatus.REFUNDED

    for kind, obj in [
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("payment_intent.succeeded", {**intent_obj, "metadata": {}}),  # made outside Paydesk
        ("refund.updated", {**refund_obj, "metadata": {}}),
    ]:
        ignored = env.connector.parse_notification(*env.signed(event(kind, obj)))
        assert (ignored.payment, ignored.refund) == (None, None) and ignored.notification_id


def test_acknowledgements(env: Env) -> None:
    yes, no = env.connector.acknowledge(True), env.connector.acknowledge(False)
    assert (yes.status_code, json.loads(yes.body), yes.media_type) == (
        200,
        {"received": True},
        "application/json",
    )
    assert (no.status_code, json.loads(no.body)) == (400, {"received": False})


# --- statements ---------------------------------------------------------------------------------
def test_statement_of_the_day(env: Env) -> None:
    request, intent = env.paid(amount_minor=1500)
    env.connector.refund(env.refund_request(request, intent, 500))
    try:
        statement = env.connector.download_statement(datetime.now(UTC).date())
    except StripeRejected as error:
        assert "Unexpected created" in error.message
        pytest.skip(
            "localstripe 1.15 refuses the created[gte]/[lt] filter of "
            "GET /v1/balance_transactions (400 'Unexpected created')"
        )
    rows = list(csv.DictReader(io.StringIO(statement.content.decode())))
    assert {(r["type"], r["amount_minor"]) for r in rows} >= {
        ("charge", "1500"),
        ("refund", "-500"),
    }


def test_balance_transactions_render_as_the_statement_csv(env: Env) -> None:
    """The rendering half of download_statement, on localstripe's real balance transactions
    (listed without the date filter it refuses)."""
    request, intent = env.paid(amount_minor=1700)
    env.connector.refund(env.refund_request(request, intent, 200))
    raw = stripe.StripeClient(TEST_SECRET_KEY, base_addresses={"api": env.ls.url})
    transactions = [t.to_dict() for t in raw.v1.balance_transactions.list({"limit": 100}).data]
    content = transformers.statement_csv(transformers.statement_rows(transactions))
    reader = csv.DictReader(io.StringIO(content.decode()))
    assert tuple(reader.fieldnames or ()) == transformers.STATEMENT_COLUMNS
    rows = list(reader)
    charge = next(r for r in rows if r["type"] == "charge" and r["amount_minor"] == "1700")
    refund = next(r for r in rows if r["type"] == "refund" and r["amount_minor"] == "-200")
    assert charge["currency"] == refund["currency"] == "USD"
    assert charge["net_minor"] == "1700" and charge["source"].startswith("ch_")
    assert refund["source"].startswith("re_")
    assert datetime.fromisoformat(charge["created"]).date() == datetime.now(UTC).date()


# --- what localstripe cannot check --------------------------------------------------------------
def test_the_wire_stripe_itself_gets(env: Env) -> None:
    """Stripe's current parameter names and our idempotency keys, recorded off the wire."""
    connector = env.connect(api_url=f"{env.receiver_base}/recorder", localstripe=False)
    request = replace(env.request("pm_card_token"), return_url="https://shop.example/done")
    connector.create_payment(request)
    line, headers, form = env.receiver.recorded[-1]
    assert line == "POST /v1/payment_intents"
    assert headers["idempotency-key"] == request.out_trade_no
    assert headers["authorization"] == f"Bearer {TEST_SECRET_KEY}"
    assert form == {
        "amount": ["1234"],
        "currency": ["usd"],
        "metadata[out_trade_no]": [request.out_trade_no],
        "allowed_payment_method_types[0]": ["card"],
        "description": ["Paydesk test order"],
        "confirm": ["true"],
        "payment_method": ["pm_card_token"],
        "return_url": ["https://shop.example/done"],
    }
    refund = env.refund_request(request, "pi_recorded", 234)
    answer = connector.refund(refund)
    line, headers, form = env.receiver.recorded[-1]
    assert (line, headers["idempotency-key"]) == ("POST /v1/refunds", refund.out_refund_no)
    assert form["metadata[reason]"] == ["customer asked"]
    assert (answer.status, answer.refund_minor) == (RefundStatus.SUCCEEDED, 234)


def test_http_failures_map_onto_channel_errors(env: Env) -> None:
    def at_status(code: int) -> StripeConnector:
        return env.connect(api_url=f"{env.receiver_base}/status/{code}")

    for code in (500, 503, 429, 409):
        with pytest.raises(ChannelUnavailable):
            at_status(code).query_payment("att_x", "pi_x")
    for code in (401, 403):
        with pytest.raises(ChannelError) as caught:
            at_status(code).query_payment("att_x", "pi_x")
        assert not caught.value.transient


def test_a_stopped_localstripe_is_unavailable_and_a_silent_one_times_out(env: Env) -> None:
    with localstripe_server() as short_lived:
        connector = env.connect(api_url=short_lived.url)
        request = env.request()
        intent = connector.create_payment(request).channel_trade_no
    with pytest.raises(ChannelUnavailable, match="cannot be reached"):
        connector.query_payment(request.out_trade_no, intent)  # refused: never sent

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        connector = env.connect(api_url=f"http://127.0.0.1:{port}", timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(ChannelTimeout, match="outcome is unknown"):
            connector.create_payment(env.request())
        assert time.monotonic() - started < 3


# --- credentials --------------------------------------------------------------------------------
def test_credentials_check_their_keys_and_build_the_connector(env: Env) -> None:
    good = {
        "secret_key": TEST_SECRET_KEY,
        "publishable_key": TEST_PUBLISHABLE_KEY,
        "webhook_secret": WEBHOOK_SECRET,
    }
    credentials = StripeCredentials.model_validate(good)
    assert TEST_SECRET_KEY not in repr(credentials) and WEBHOOK_SECRET not in repr(credentials)
    assert TEST_PUBLISHABLE_KEY in repr(credentials) and not credentials.livemode
    for bad in (
        {"secret_key": "pk_test_abc"},
        {"secret_key": "sk_live_abc"},  # another mode than the publishable key
        {"webhook_secret": "secret"},
        {"extra": "x"},
    ):
        with pytest.raises(ValueError):
            StripeCredentials.model_validate({**good, **bad})

    real = credentials.connector(None)
    assert isinstance(real, StripeConnector) and STRIPE_API_URL in repr(real)
    assert TEST_SECRET_KEY not in repr(real)
    local = credentials.connector(env.ls.url, 2.0)
    with pytest.raises(PaymentNotFound):
        local.query_payment("att_x", "pi_doesnotexist")
