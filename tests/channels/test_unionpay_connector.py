"""The UnionPay connector against the UnionPay simulator on loopback.

Everything goes over real HTTP: the connector's queries, refunds and statement downloads reach
the simulator's gateway; the payer's browser is played with httpx (the signed consume form
posted to ``frontTransReq.do``, the Pay and Cancel buttons, the return form to ``frontUrl``);
and notifications reach a merchant endpoint that answers with ``parse_notification`` and
``acknowledge`` exactly as Paydesk's notification route does, so the simulator's delivery log
shows whether UnionPay would stop sending.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import ValidationError

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    Notification,
    PaymentAction,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.unionpay import (
    UNIONPAY_GATEWAY_URL,
    UnionPayConnector,
    UnionPayCredentials,
    UnionPayRejected,
    statement,
    wire,
)
from paydesk.simulators.unionpay import FaultPlan, SandboxCredentials, generate_test_credentials
from paydesk.simulators.unionpay.config import beijing_now
from paydesk.simulators.unionpay.notifications import payment_form
from tests.simulators.unionpay_support import (
    REFUND_DELAY_S,
    Env,
    hidden_fields,
    open_pay_page,
    press,
    running_env,
)
from tests.support.server import free_port


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with running_env() as running:
        running.merchant.connector = running.connector()
        yield running


@pytest.fixture(scope="module")
def other() -> SandboxCredentials:
    """Another PKI: its root and middle are not the simulator's."""
    return generate_test_credentials()


@pytest.fixture(autouse=True)
def _reset(env: Env) -> Iterator[None]:
    yield
    env.reset()


@pytest.fixture
def connector(env: Env) -> UnionPayConnector:
    return env.connector()


def new_request(
    env: Env,
    method: Method = Method.UNIONPAY_PAGE,
    amount_minor: int = 1050,
    currency: str = "CNY",
    expires_in: timedelta = timedelta(minutes=30),
) -> PaymentRequest:
    number = f"pat_{secrets.token_hex(8)}"
    return PaymentRequest(
        out_trade_no=number,
        amount_minor=amount_minor,
        currency=currency,
        subject="沙箱商品 {test} & more",
        method=method,
        notify_url=f"{env.merchant_base}/notify/{number}",
        expires_at=env.clock.utc() + expires_in,
        return_url=f"{env.merchant_base}/return/{number}",
    )


def opened(
    env: Env, connector: UnionPayConnector, **options: Any
) -> tuple[PaymentRequest, PaymentAction]:
    """A payment created by the connector and posted by the payer's browser."""
    request = new_request(env, **options)
    action = connector.create_payment(request)
    assert action.redirect_url is not None
    page = open_pay_page(action.redirect_url, action.form_fields)
    assert page.status_code == 200 and "确认付款 Pay" in page.text, page.text
    return request, action


def pay(env: Env, action: PaymentAction) -> None:
    order_id = action.form_fields["orderId"]
    paid = httpx.post(f"{env.base}/simulator/trades/{order_id}/pay")
    assert paid.status_code == 200, paid.text


def paid(
    env: Env, connector: UnionPayConnector, amount_minor: int = 1050
) -> tuple[PaymentRequest, PaymentAction]:
    request, action = opened(env, connector, amount_minor=amount_minor)
    pay(env, action)
    env.merchant.wait_for(request.out_trade_no)
    return request, action


def refund_request(
    env: Env, request: PaymentRequest, amount: int, channel_trade_no: str | None
) -> RefundRequest:
    number = f"rfd_{secrets.token_hex(8)}"
    return RefundRequest(
        out_trade_no=request.out_trade_no,
        out_refund_no=number,
        refund_minor=amount,
        total_minor=request.amount_minor,
        currency="CNY",
        notify_url=f"{env.merchant_base}/notify/{number}",
        channel_trade_no=channel_trade_no,
    )


# --- payments -----------------------------------------------------------------------------------
def test_page_payment_through_the_pay_page_notifies_returns_and_queries(
    env: Env, connector: UnionPayConnector
) -> None:
    request = new_request(env)
    action = connector.create_payment(request)
    fields = action.form_fields
    assert action.kind is ActionKind.FORM_POST
    assert action.redirect_url == f"{env.base}/gateway/api/frontTransReq.do"
    assert (fields["version"], fields["signMethod"], fields["txnType"]) == ("5.1.0", "01", "01")
    assert (fields["bizType"], fields["channelType"], fields["accessType"]) == ("000201", "07", "0")
    assert (fields["txnAmt"], fields["currencyCode"]) == ("1050", "156")
    assert fields["certId"] == env.creds.sign_cert_id and fields["signature"]
    assert fields["orderId"] == wire.order_id(request.out_trade_no)
    assert fields["riskRateInfo"] == "{commodityName=沙箱商品 test  more}"
    assert fields["payTimeout"] == wire.format_time(request.expires_at)
    assert action.channel_trade_no == (
        f"txnTime={fields['txnTime']}&payTimeout={fields['payTimeout']}"
    )

    waiting = connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert (waiting.status, waiting.amount_minor) == (PaymentStatus.PENDING, 0)
    assert waiting.raw_status.startswith("34")

    page = open_pay_page(action.redirect_url or "", fields)
    assert "¥ 10.50" in page.text and "<script" not in page.text
    back = press(page, "pay")
    assert back.status_code == 200
    front_form = hidden_fields(back.text)
    front = connector.parse_notification({}, urlencode(front_form).encode())
    assert front.payment is not None and front.payment.status is PaymentStatus.SUCCEEDED

    (delivery,) = env.merchant.wait_for(request.out_trade_no)
    assert isinstance(delivery.outcome, Notification)
    payment = delivery.outcome.payment
    assert payment is not None
    assert (payment.out_trade_no, payment.status, payment.amount_minor, payment.currency) == (
        request.out_trade_no,
        PaymentStatus.SUCCEEDED,
        1050,
        "CNY",
    )
    assert delivery.outcome.notification_id == payment.channel_trade_no
    (logged,) = env.log(fields["orderId"])
    assert logged["state"] == "delivered" and len(logged["attempts"]) == 1

    reported = connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert reported.status is PaymentStatus.SUCCEEDED and reported.amount_minor == 1050
    assert reported.channel_trade_no == payment.channel_trade_no
    assert reported.paid_at is not None
    assert abs(reported.paid_at - datetime.now(UTC)) < timedelta(minutes=1)
    by_query_id = connector.query_payment(request.out_trade_no, reported.channel_trade_no)
    assert by_query_id.status is PaymentStatus.SUCCEEDED


def test_wap_payment_paid_through_the_control_api(env: Env, connector: UnionPayConnector) -> None:
    request, action = opened(env, connector, method=Method.UNIONPAY_WAP, amount_minor=1)
    assert action.form_fields["channelType"] == "08"
    pay(env, action)
    (delivery,) = env.merchant.wait_for(request.out_trade_no)
    assert isinstance(delivery.outcome, Notification) and delivery.outcome.payment is not None
    assert delivery.outcome.payment.amount_minor == 1
    reported = connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert reported.status is PaymentStatus.SUCCEEDED


def test_a_declined_payment_is_failed(env: Env, connector: UnionPayConnector) -> None:
    request, action = opened(env, connector)
    order_id = action.form_fields["orderId"]
    httpx.post(f"{env.base}/simulator/trades/{order_id}/fail", json={"resp_code": "64"})
    failed = connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert failed.status is PaymentStatus.FAILED and failed.raw_status.startswith("64")
    connector.close_payment(request.out_trade_no, action.channel_trade_no)


def test_not_found(env: Env, connector: UnionPayConnector) -> None:
    past = (beijing_now() - timedelta(minutes=1)).strftime("%Y%m%d%H%M%S")
    expired = f"txnTime={past}&payTimeout={past}"
    with pytest.raises(PaymentNotFound):
        connector.query_payment("pat_neverseen01", expired)
    with pytest.raises(PaymentNotFound):
        connector.query_payment("pat_neverseen01", "202401010000001234567")
    with pytest.raises(ChannelRejected, match="channel_trade_no is required"):
        connector.query_payment("pat_neverseen01", None)


# --- close ---------------------------------------------------------------------------------------
def test_close_unpaid_succeeds_once_the_pay_timeout_has_passed(
    env: Env, connector: UnionPayConnector
) -> None:
    request, action = opened(env, connector)
    never_opened = connector.create_payment(new_request(env))
    with pytest.raises(ChannelRejected, match="no close"):
        connector.close_payment(request.out_trade_no, action.channel_trade_no)
    env.clock.offset = timedelta(minutes=31)
    connector.close_payment(request.out_trade_no, action.channel_trade_no)
    late = httpx.post(f"{env.base}/simulator/trades/{action.form_fields['orderId']}/pay")
    assert late.status_code == 409
    with pytest.raises(PaymentNotFound):
        connector.query_payment(request.out_trade_no, action.channel_trade_no)
    connector.close_payment("pat_neveropened", never_opened.channel_trade_no)


def test_close_paid_is_refused(env: Env, connector: UnionPayConnector) -> None:
    request, action = opened(env, connector)
    pay(env, action)
    with pytest.raises(ChannelRejected, match="is paid"):
        connector.close_payment(request.out_trade_no, action.channel_trade_no)


# --- refunds -------------------------------------------------------------------------------------
def test_refund_is_pending_then_succeeds_by_notification_and_query(
    env: Env, connector: UnionPayConnector
) -> None:
    request, action = opened(env, connector)
    pay(env, action)
    (delivery,) = env.merchant.wait_for(request.out_trade_no)
    assert isinstance(delivery.outcome, Notification) and delivery.outcome.payment is not None
    query_id = delivery.outcome.payment.channel_trade_no

    first = refund_request(env, request, 300, action.channel_trade_no)  # queried for queryId
    accepted = connector.refund(first)
    assert (accepted.status, accepted.refund_minor) == (RefundStatus.PENDING, 300)
    assert accepted.channel_refund_no
    in_progress = connector.query_refund(
        first.out_refund_no, request.out_trade_no, accepted.channel_refund_no
    )
    assert in_progress.status is RefundStatus.PENDING and in_progress.raw_status.startswith("05")

    (note,) = env.merchant.wait_for(first.out_refund_no, timeout_s=REFUND_DELAY_S + 5)
    assert isinstance(note.outcome, Notification) and note.outcome.payment is None
    refund = note.outcome.refund
    assert refund is not None
    assert (refund.out_refund_no, refund.status, refund.refund_minor) == (
        first.out_refund_no,
        RefundStatus.SUCCEEDED,
        300,
    )
    done = connector.query_refund(
        first.out_refund_no, request.out_trade_no, accepted.channel_refund_no
    )
    assert (done.status, done.refund_minor) == (RefundStatus.SUCCEEDED, 300)
    assert done.channel_refund_no == refund.channel_refund_no

    with pytest.raises(ChannelTimeout, match="respCode 12"):
        connector.refund(first)  # sent again: the first one's outcome is not known here
    rest = connector.refund(refund_request(env, request, 750, query_id))
    assert rest.status is RefundStatus.PENDING
    with pytest.raises(UnionPayRejected) as over:
        connector.refund(refund_request(env, request, 1, query_id))
    assert over.value.resp_code == "33"


def test_refund_of_an_unpaid_payment_is_refused(env: Env, connector: UnionPayConnector) -> None:
    request, action = opened(env, connector)
    with pytest.raises(ChannelRejected, match="not paid"):
        connector.refund(refund_request(env, request, 100, action.channel_trade_no))
    with pytest.raises(ChannelRejected, match="channel_trade_no"):
        connector.refund(refund_request(env, request, 100, None))
    with pytest.raises(ChannelRejected, match="channel_refund_no"):
        connector.query_refund("rfd_1234567890", request.out_trade_no, None)


# --- notifications -------------------------------------------------------------------------------
def test_tampered_foreign_and_forged_notifications_are_invalid(
    env: Env, connector: UnionPayConnector
) -> None:
    request, action = opened(env, connector)
    pay(env, action)
    (genuine,) = env.merchant.wait_for(request.out_trade_no)
    form = dict(wire.read_form(genuine.body))
    connector.parse_notification({}, genuine.body)

    tampered = form | {"txnAmt": "1"}
    with pytest.raises(InvalidNotification, match="does not verify"):
        connector.parse_notification({}, urlencode(tampered).encode())
    unsigned = {k: v for k, v in form.items() if k != "signature"}
    with pytest.raises(InvalidNotification, match="missing"):
        connector.parse_notification({}, urlencode(unsigned).encode())
    with pytest.raises(InvalidNotification):
        connector.parse_notification({}, b"\xff\xfe not a form")

    trade = env.sim.store.locate(action.form_fields["orderId"], None, None)
    foreign = env.sim.signer.sign(payment_form(trade) | {"merId": "777000000000009"})
    with pytest.raises(InvalidNotification, match="merId"):
        connector.parse_notification({}, urlencode(foreign).encode())

    env.sim.set_faults(FaultPlan(forge_notification=True))
    forged_request, forged_action = opened(env, connector)
    pay(env, forged_action)
    deliveries = env.merchant.wait_for(forged_request.out_trade_no, 3)
    assert all(isinstance(d.outcome, InvalidNotification) for d in deliveries)
    assert "not issued by the configured middle" in str(deliveries[0].outcome)
    (logged,) = env.log(forged_action.form_fields["orderId"])
    assert logged["state"] == "failed"
    assert [a["status_code"] for a in logged["attempts"]] == [500, 500, 500]


def test_duplicated_notifications_carry_one_id(env: Env, connector: UnionPayConnector) -> None:
    env.sim.set_faults(FaultPlan(duplicate_notifications=True))
    request, action = opened(env, connector)
    pay(env, action)
    first, second = env.merchant.wait_for(request.out_trade_no, 2)
    assert isinstance(first.outcome, Notification) and isinstance(second.outcome, Notification)
    assert first.outcome.notification_id == second.outcome.notification_id
    assert connector.acknowledge(True).status_code == 200
    assert connector.acknowledge(False).status_code != 200


# --- transport and answers -----------------------------------------------------------------------
def test_an_answer_with_a_bad_signature_is_a_channel_error(
    env: Env, connector: UnionPayConnector
) -> None:
    request, action = opened(env, connector)
    env.sim.set_faults(FaultPlan(corrupt_signature=True))
    with pytest.raises(ChannelError, match="does not verify") as caught:
        connector.query_payment(request.out_trade_no, action.channel_trade_no)
    assert not caught.value.transient and not isinstance(caught.value, ChannelRejected)


def test_an_answer_signed_under_another_root_is_a_channel_error(
    env: Env, other: SandboxCredentials
) -> None:
    stranger = env.connector(
        root_cert_pem=other.root_cert_pem, middle_cert_pem=other.middle_cert_pem
    )
    with pytest.raises(ChannelError, match="middle certificate"):
        stranger.query_payment("pat_anything1", "202401010000001234567")


def test_no_answer_in_time_is_a_timeout(env: Env) -> None:
    impatient = env.connector(timeout_s=0.3)
    request, action = opened(env, impatient)
    env.sim.set_faults(FaultPlan(timeout_next_n=1))
    with pytest.raises(ChannelTimeout):
        impatient.query_payment(request.out_trade_no, action.channel_trade_no)
    env.sim.set_faults(FaultPlan(delay_s=0.6))
    with pytest.raises(ChannelTimeout) as caught:
        impatient.query_payment(request.out_trade_no, action.channel_trade_no)
    assert caught.value.transient


def test_unreachable_gateway_and_failing_gateway_are_unavailable(env: Env) -> None:
    down = env.connector(gateway_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChannelUnavailable):
        down.query_payment("pat_anything1", "202401010000001234567")
    connector = env.connector()
    env.sim.set_faults(FaultPlan(fail_next_n=1, fail_status=503))
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        connector.query_payment("pat_anything1", "202401010000001234567")
    env.sim.set_faults(FaultPlan(fail_next_n=1))
    with pytest.raises(ChannelUnavailable, match="respCode 06"):
        connector.query_payment("pat_anything1", "202401010000001234567")


# --- statements ----------------------------------------------------------------------------------
def test_statement_download_parses(env: Env, connector: UnionPayConnector) -> None:
    first, first_action = paid(env, connector, 1200)
    paid(env, connector, 800)
    first_query_id = connector.query_payment(
        first.out_trade_no, first_action.channel_trade_no
    ).channel_trade_no
    refunding = refund_request(env, first, 200, first_query_id)
    connector.refund(refunding)
    env.merchant.wait_for(refunding.out_refund_no, timeout_s=REFUND_DELAY_S + 5)

    today = beijing_now().date()
    got = connector.download_statement(today)
    assert got.day == today
    assert got.file_name == f"{env.creds.mer_id}_{today:%Y%m%d}.zip"
    records = statement.zm_records(got.content)
    by_order = {wire.out_trade_no(r["orderId"]): r for r in records}
    assert by_order[first.out_trade_no]["txnAmt"] == "000000001200"
    assert by_order[first.out_trade_no]["txnType"] == "01"
    assert statement.signed_fen(by_order[first.out_trade_no]["settleAmt"]) == 1200
    refund_row = by_order[refunding.out_refund_no]
    assert (refund_row["txnType"], refund_row["origQryId"]) == ("04", first_query_id)
    assert statement.signed_fen(refund_row["settleAmt"]) == -200
    assert all(r["merId"] == env.creds.mer_id for r in records)

    with pytest.raises(UnionPayRejected) as none:
        connector.download_statement(today - timedelta(days=3))
    assert none.value.resp_code == "98"


# --- validation before any call ------------------------------------------------------------------
def test_other_currencies_and_methods_are_refused_before_any_call(env: Env) -> None:
    down = env.connector(gateway_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChannelRejected, match="CNY only") as caught:
        down.create_payment(new_request(env, currency="USD"))
    assert caught.value.param == "currency"
    usd = refund_request(env, new_request(env), 100, "202401010000001234567")
    with pytest.raises(ChannelRejected, match="CNY only"):
        down.refund(replace(usd, currency="USD"))
    with pytest.raises(UnsupportedFlow):
        down.create_payment(new_request(env, method=Method.ALIPAY_PAGE))
    with pytest.raises(ChannelRejected, match="expire"):
        down.create_payment(new_request(env, expires_in=timedelta(seconds=30)))
    with pytest.raises(ChannelRejected, match="positive"):
        down.create_payment(new_request(env, amount_minor=0))
    long_number = replace(new_request(env), out_trade_no="p" * 41)
    with pytest.raises(ChannelRejected, match="orderId"):
        down.create_payment(long_number)


def test_order_numbers_round_trip() -> None:
    for number in ("pat_01jf3abcdefghjkmnpqrstvwxyz", "ORDER-Z_9z", "ZZZZ_ZZZ"):
        encoded = wire.order_id(number)
        assert encoded.isalnum() and wire.out_trade_no(encoded) == number
    with pytest.raises(wire.WireError):
        wire.out_trade_no("abcdefgZ2")


def test_credentials(env: Env, other: SandboxCredentials) -> None:
    fields = env.creds.credential_fields()
    creds = UnionPayCredentials(**fields)
    assert "PRIVATE" not in repr(creds) and "CERTIFICATE" not in repr(creds)
    built = creds.connector(None)
    assert isinstance(built, UnionPayConnector) and UNIONPAY_GATEWAY_URL in repr(built)
    assert "PRIVATE" not in repr(built)
    for name, value in (
        ("sign_private_key_pem", "not a key"),
        ("root_cert_pem", "not a certificate"),
        ("mer_id", "12345"),
        ("sign_cert_id", "0x12"),
    ):
        with pytest.raises(ValidationError):
            UnionPayCredentials(**(fields | {name: value}))
    with pytest.raises(ValidationError, match="not issued by the root"):
        UnionPayCredentials(**(fields | {"middle_cert_pem": other.middle_cert_pem}))
    with pytest.raises(ValidationError):
        UnionPayCredentials(**(fields | {"extra": "x"}))
