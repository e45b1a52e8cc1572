"""The contract every registered connector keeps: create, query, pay, notification (genuine
and tampered), refund and its query, close, acknowledge, statement. Each channel runs against
its simulator (Stripe against localstripe), on loopback, through the same steps.

Connectors are channel-level: one database backend is enough here (SQLite); the payment flows
on both backends are the e2e tests'.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from paydesk.channels.accounts.registry import CHANNELS, spec_of
from paydesk.channels.base import (
    ActionKind,
    ChannelPayment,
    ChannelRejected,
    InvalidNotification,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
)
from paydesk.db.engine import Database
from tests.channels.contract_harnesses import HARNESSES, Capture, Harness, environment

WAIT_S = 15.0


def test_every_registered_channel_has_a_harness() -> None:
    assert set(CHANNELS) == set(HARNESSES), "add the channel's harness to contract_harnesses"


@pytest.fixture(params=sorted(CHANNELS))
def setup(
    request: pytest.FixtureRequest, sqlite_db: Database, tmp_path: Path
) -> Iterator[tuple[Harness, Capture, str]]:
    with ExitStack() as stack:
        sandbox, capture, capture_base = stack.enter_context(environment(sqlite_db, tmp_path))
        harness = stack.enter_context(HARNESSES[request.param](sandbox, capture_base))
        yield harness, capture, capture_base


def _request(harness: Harness, capture_base: str, amount: int) -> PaymentRequest:
    number = f"C{secrets.token_hex(8)}"
    return PaymentRequest(
        out_trade_no=number,
        amount_minor=amount,
        currency=harness.currency,
        subject="Contract",
        method=harness.method,
        notify_url=f"{capture_base}/notify/{harness.channel}",
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        client_ip="127.0.0.1",
        return_url=f"{capture_base}/back",
        payment_token=harness.payment_token(),
    )


def _eventually(what: str, probe, done, timeout_s: float = WAIT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r}")
        time.sleep(0.1)


def _query(harness: Harness, number: str, trade_no: str | None) -> ChannelPayment | None:
    try:
        return harness.connector.query_payment(number, trade_no)
    except PaymentNotFound:
        return None


def _tampered(body: bytes) -> bytes:
    """The same notification with one character of its middle changed."""
    middle = len(body) // 2
    for offset in range(middle, len(body)):
        byte = body[offset : offset + 1]
        if byte.isalnum():
            swapped = b"1" if byte != b"1" else b"2"
            return body[:offset] + swapped + body[offset + 1 :]
    raise AssertionError("nothing to tamper with")


def test_pay_notify_refund(setup: tuple[Harness, Capture, str]) -> None:
    harness, capture, capture_base = setup
    connector = harness.connector
    assert connector.channel == harness.channel
    assert harness.method in spec_of(harness.channel).methods

    request = _request(harness, capture_base, 1_000)
    action = connector.create_payment(request)
    assert isinstance(action.kind, ActionKind)
    trade_no = action.channel_trade_no
    before = _query(harness, request.out_trade_no, trade_no)
    assert before is None or before.status in {PaymentStatus.PENDING, PaymentStatus.SUCCEEDED}

    harness.pay(request.out_trade_no, action)
    paid = _eventually(
        "the payment",
        lambda: _query(harness, request.out_trade_no, trade_no),
        lambda p: p is not None and p.status is PaymentStatus.SUCCEEDED,
    )
    assert (paid.out_trade_no, paid.amount_minor, paid.currency) == (
        request.out_trade_no,
        1_000,
        harness.currency,
    )

    # The channel's notification: genuine, it reads as this payment; tampered, it is refused.
    notes = _eventually("a notification", lambda: capture.of(harness.channel), bool)
    genuine = notes[0]
    read = connector.parse_notification(genuine.headers, genuine.body)
    assert read.payment is not None
    assert read.payment.out_trade_no == request.out_trade_no
    assert read.payment.status is PaymentStatus.SUCCEEDED
    with pytest.raises(InvalidNotification):
        connector.parse_notification(genuine.headers, _tampered(genuine.body))
    accepted, refused = connector.acknowledge(True), connector.acknowledge(False)
    assert 200 <= accepted.status_code < 300
    assert (refused.status_code, refused.body) != (accepted.status_code, accepted.body)

    refund_no = f"R{secrets.token_hex(8)}"
    refund = connector.refund(
        RefundRequest(
            out_trade_no=request.out_trade_no,
            out_refund_no=refund_no,
            refund_minor=400,
            total_minor=1_000,
            currency=harness.currency,
            reason="contract",
            notify_url=f"{capture_base}/notify/{harness.channel}",
            channel_trade_no=paid.channel_trade_no or trade_no,
        )
    )
    assert refund.out_refund_no == refund_no
    assert refund.refund_minor == 400 and refund.status is not RefundStatus.FAILED
    done = _eventually(
        "the refund",
        lambda: connector.query_refund(refund_no, request.out_trade_no, refund.channel_refund_no),
        lambda r: r.status is RefundStatus.SUCCEEDED,
    )
    assert (done.refund_minor, done.currency) == (400, harness.currency)

    # The day's statement, which now holds this payment.
    if not harness.statement:
        pytest.skip(f"{harness.channel}: its stand-in serves no statement for a day")
    statement = connector.download_statement(datetime.now(ZoneInfo(harness.statement_zone)).date())
    assert statement.content and statement.file_name


def test_close_unpaid(setup: tuple[Harness, Capture, str]) -> None:
    harness, _, capture_base = setup
    connector = harness.connector
    if harness.payment_token() is not None:
        pytest.skip(f"{harness.channel}: a payment made with a token is paid at create")
    request = _request(harness, capture_base, 700)
    action = connector.create_payment(request)
    if not harness.closes_unpaid:
        with pytest.raises(ChannelRejected):
            connector.close_payment(request.out_trade_no, action.channel_trade_no)
        return
    connector.close_payment(request.out_trade_no, action.channel_trade_no)
    after = _query(harness, request.out_trade_no, action.channel_trade_no)
    assert after is None or after.status in harness.closed_reads_as
