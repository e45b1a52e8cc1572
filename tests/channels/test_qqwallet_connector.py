"""The QQ Wallet connector against the QQ Wallet simulator on loopback.

Real HTTP both ways: the connector calls the simulator, the simulator notifies a small receiver
that answers with the connector's own ``parse_notification`` and ``acknowledge``. Payers act
through the simulator's pay page or its control API. A tiny rogue gateway (served here) stands
in for answers the simulator never gives: XML with a DTD, an oversized body, a 503.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    PaymentNotFound,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.qqwallet import (
    QQWALLET_GATEWAY_URL,
    QQWalletConfig,
    QQWalletConnector,
    QQWalletCredentials,
    QQWalletRejected,
    SignType,
)
from paydesk.channels.qqwallet import signing as qq_signing
from paydesk.simulators.qqwallet.bill import COLUMNS, TOTALS_COLUMNS
from tests.simulators.qqwallet_support import (
    WAIT_S,
    Harness,
    beijing_day,
    control,
    deliveries,
    new_number,
    parse,
    pay,
    sign,
    to_xml,
    wait_until,
)
from tests.support.server import free_port, serving

QQ_METHODS = [Method.QQ_NATIVE, Method.QQ_JSAPI, Method.QQ_APP]


def config_for(sim: Harness, **changes: Any) -> QQWalletConfig:
    creds = sim.creds
    base = QQWalletConfig(
        mch_id=creds.mch_id,
        api_key=creds.api_key,
        op_user_id=creds.op_user_id,
        op_user_password=creds.op_user_password,
        appid=creds.appid,
        app_key=creds.app_key,
        gateway_url=sim.gateway,
        timeout_s=5.0,
    )
    return replace(base, **changes)


def payment_request(
    sim: Harness, method: Method = Method.QQ_NATIVE, **changes: Any
) -> PaymentRequest:
    base = PaymentRequest(
        out_trade_no=new_number("P"),
        amount_minor=1000,
        currency="CNY",
        subject="Gems 宝石 100",
        method=method,
        notify_url=sim.notify_url,
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )
    return replace(base, **changes)


def listen_with(sim: Harness, connector: QQWalletConnector) -> None:
    """The receiver answers with ``connector``'s verdict."""

    def judge(body: bytes) -> tuple[bool, Any]:
        try:
            return True, connector.parse_notification({}, body)
        except InvalidNotification as exc:
            return False, exc

    def answer_for(accepted: bool) -> tuple[int, bytes]:
        ack = connector.acknowledge(accepted)
        return ack.status_code, ack.body

    sim.receiver.judge, sim.receiver.answer_for = judge, answer_for


@pytest.fixture(scope="module")
def sim() -> Iterator[Harness]:
    with Harness.running() as harness:
        yield harness


@pytest.fixture
def connector(sim: Harness) -> Iterator[QQWalletConnector]:
    sim.reset()
    connector = QQWalletConnector(config_for(sim))
    listen_with(sim, connector)
    yield connector
    sim.reset()


def paid_notification(sim: Harness, number: str) -> Any:
    """What the connector read from the (only) notification it accepted about ``number``."""
    accepted = wait_until(
        lambda: [a for a in sim.receiver.about(number) if a.accepted], bool, WAIT_S
    )
    assert len(accepted) == 1, sim.receiver.about(number)
    return accepted[0].result


# --- signatures ---------------------------------------------------------------------------------
def test_signatures_match_the_published_vectors() -> None:
    # WeChat Pay v2's security page (QQ Wallet's signature page repeats its example).
    fields = {
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "device_info": "1000",
        "body": "test",
        "nonce_str": "ibuaiVcKdpRxkhJA",
    }
    key = "192006250b4c09247ec02edce69f6a2d"
    assert qq_signing.sign(fields, key, SignType.MD5) == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert qq_signing.sign(fields, key, SignType.HMAC_SHA256) == (
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )
    assert qq_signing.verify(
        {**fields, "sign": "9a0a8659f005d6984697e2ca0a9cf3b7"}, key, SignType.MD5
    )
    assert not qq_signing.verify(
        {**fields, "body": "tesT", "sign": "9A0A8659F005D6984697E2CA0A9CF3B7"}, key, SignType.MD5
    )
    blank = {**fields, "attach": "  ", "sign": "ignored"}
    assert qq_signing.sign(blank, key, SignType.MD5) == "9A0A8659F005D6984697E2CA0A9CF3B7"
    # QQ Wallet's "APP调起支付" page: the app SDK's sig.
    sig = qq_signing.app_sig(
        "100619284", "1900000109", "ksjfwierwfjk", "1000000002", "d139ae6fb0175e5659dce2a7c1fe84d5"
    )
    assert sig == "c6xXw0tNABhOMc869h1bfxTp9Mk="


# --- payments -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", QQ_METHODS)
def test_each_trade_type_is_created_paid_notified_and_queried(
    connector: QQWalletConnector, sim: Harness, method: Method
) -> None:
    request = payment_request(sim, method, amount_minor=1234)
    before = int(time.time())
    action = connector.create_payment(request)
    number, creds = request.out_trade_no, sim.creds
    if method is Method.QQ_NATIVE:
        assert action.kind is ActionKind.QR_CODE and action.qr_code
        assert action.qr_code.startswith(f"{sim.gateway}/pay/")
    elif method is Method.QQ_JSAPI:
        assert action.kind is ActionKind.SDK_PARAMS
        params = dict(action.sdk_params)
        assert params["tokenId"]
        assert (
            params["appInfo"] == f"appid#{creds.appid}|bargainor_id#{creds.mch_id}|channel#wallet"
        )
    else:
        params = dict(action.sdk_params)
        assert action.kind is ActionKind.SDK_PARAMS
        assert (params["appId"], params["bargainorId"]) == (creds.appid, creds.mch_id)
        assert (params["pubAcc"], params["sigType"]) == ("", "HMAC-SHA1")
        assert len(params["nonce"]) == 32 and before <= int(params["timeStamp"]) <= time.time()
        expected = qq_signing.app_sig(
            creds.appid, creds.mch_id, params["nonce"], params["tokenId"], creds.app_key
        )
        assert params["sig"] == expected

    unpaid = connector.query_payment(number)
    assert (unpaid.status, unpaid.raw_status, unpaid.channel_trade_no) == (
        PaymentStatus.PENDING,
        "NOTPAY",
        None,
    )
    assert (unpaid.amount_minor, unpaid.currency) == (1234, "CNY")

    if method is Method.QQ_NATIVE:  # the payer scans the code and pays on the page
        assert action.qr_code is not None
        page = httpx.get(action.qr_code, trust_env=False)
        assert page.status_code == 200 and "<script" not in page.text and "12.34" in page.text
        paid_page = httpx.post(action.qr_code, data={"outcome": "SUCCESS"}, trust_env=False)
        assert paid_page.status_code == 200 and "SUCCESS" in paid_page.text
        transaction_id = control(sim.gateway, "GET", f"/simulator/trades/{number}").json()[
            "transaction_id"
        ]
    else:
        transaction_id = pay(sim.gateway, number, openid="PAYER1")["transaction_id"]

    payment = connector.query_payment(number)
    assert (payment.status, payment.raw_status) == (PaymentStatus.SUCCEEDED, "SUCCESS")
    assert (payment.amount_minor, payment.currency) == (1234, "CNY")
    assert payment.channel_trade_no == transaction_id
    assert payment.paid_at is not None and payment.paid_at.tzinfo is UTC
    assert abs((payment.paid_at - datetime.now(UTC)).total_seconds()) < 60
    if method is not Method.QQ_NATIVE:
        assert payment.payer_id == "PAYER1"

    note = paid_notification(sim, number)
    assert note.payment == payment and note.notification_id == transaction_id


def test_md5_accounts_work_end_to_end(sim: Harness) -> None:
    sim.reset()
    md5 = QQWalletConnector(config_for(sim, sign_type=SignType.MD5))
    listen_with(sim, md5)
    request = payment_request(sim)
    md5.create_payment(request)
    pay(sim.gateway, request.out_trade_no)
    note = paid_notification(sim, request.out_trade_no)
    assert note.payment.status is PaymentStatus.SUCCEEDED
    (arrival,) = sim.receiver.about(request.out_trade_no)
    fields = parse(arrival.body)
    assert fields["sign_type"] == "MD5" and len(fields["sign"]) == 32
    assert md5.query_payment(request.out_trade_no).status is PaymentStatus.SUCCEEDED
    # An HMAC account refuses what is signed for an MD5 one.
    hmac_account = QQWalletConnector(config_for(sim))
    with pytest.raises(InvalidNotification):
        hmac_account.parse_notification({}, arrival.body)


def test_payment_failure_and_unknown_orders(connector: QQWalletConnector, sim: Harness) -> None:
    with pytest.raises(PaymentNotFound, match="ORDERNOTEXIST"):
        connector.query_payment("NO_SUCH_ORDER")
    with pytest.raises(PaymentNotFound):
        connector.close_payment("NO_SUCH_ORDER")
    request = payment_request(sim, Method.QQ_JSAPI)
    connector.create_payment(request)
    failed = control(sim.gateway, "POST", f"/simulator/trades/{request.out_trade_no}/fail")
    assert failed.status_code == 200
    payment = connector.query_payment(request.out_trade_no)
    assert (payment.status, payment.raw_status) == (PaymentStatus.FAILED, "PAYERROR")
    with pytest.raises(ChannelRejected, match="OUT_TRADE_NO_USED"):
        connector.create_payment(replace(request, amount_minor=1001))


def test_close(connector: QQWalletConnector, sim: Harness) -> None:
    request = payment_request(sim)
    connector.create_payment(request)
    connector.close_payment(request.out_trade_no)
    closed = connector.query_payment(request.out_trade_no)
    assert (closed.status, closed.raw_status) == (PaymentStatus.CLOSED, "CLOSED")
    connector.close_payment(request.out_trade_no)  # ORDERCLOSED: already done
    paid = payment_request(sim)
    connector.create_payment(paid)
    pay(sim.gateway, paid.out_trade_no)
    with pytest.raises(QQWalletRejected, match="ORDERPAID") as refused:
        connector.close_payment(paid.out_trade_no)
    assert refused.value.err_code == "ORDERPAID" and not refused.value.transient


def test_requests_qq_wallet_would_refuse_fail_before_any_call(sim: Harness) -> None:
    nowhere = QQWalletConnector(config_for(sim, gateway_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ChannelRejected, match="CNY only") as foreign:
        nowhere.create_payment(payment_request(sim, currency="USD"))
    assert foreign.value.param == "currency"
    with pytest.raises(ChannelRejected, match="CNY only"):
        nowhere.refund(RefundRequest("P1", "R1", refund_minor=100, total_minor=100, currency="HKD"))
    with pytest.raises(UnsupportedFlow):
        nowhere.create_payment(payment_request(sim, Method.WECHAT_NATIVE))
    with pytest.raises(ChannelRejected) as no_ip:
        nowhere.create_payment(payment_request(sim, client_ip=None))
    assert no_ip.value.param == "client_ip"
    with pytest.raises(ChannelRejected) as zero:
        nowhere.create_payment(payment_request(sim, amount_minor=0))
    assert zero.value.param == "amount_minor"
    with pytest.raises(ChannelRejected, match="out_trade_no"):
        nowhere.query_payment("../../cgi-bin")
    without_app_key = QQWalletConnector(config_for(sim, app_key=None))
    with pytest.raises(UnsupportedFlow, match="app_key"):
        without_app_key.create_payment(payment_request(sim, Method.QQ_APP))


# --- refunds ------------------------------------------------------------------------------------
def refund_of(request: PaymentRequest, amount: int) -> RefundRequest:
    return RefundRequest(
        out_trade_no=request.out_trade_no,
        out_refund_no=new_number("R"),
        refund_minor=amount,
        total_minor=request.amount_minor,
        currency="CNY",
        reason="customer asked",
    )


def test_refund_then_refund_query(connector: QQWalletConnector, sim: Harness) -> None:
    request = payment_request(sim, amount_minor=1000)
    connector.create_payment(request)
    pay(sim.gateway, request.out_trade_no)

    partial = refund_of(request, 300)
    accepted = connector.refund(partial)
    assert (accepted.status, accepted.refund_minor, accepted.currency) == (
        RefundStatus.PENDING,
        300,
        "CNY",
    )
    assert accepted.channel_refund_no and accepted.out_trade_no == request.out_trade_no
    done = connector.query_refund(partial.out_refund_no, request.out_trade_no)
    assert (done.status, done.raw_status, done.refund_minor) == (
        RefundStatus.SUCCEEDED,
        "SUCCESS",
        300,
    )
    assert done.channel_refund_no == accepted.channel_refund_no
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.REFUNDED
    assert connector.refund(partial).channel_refund_no == accepted.channel_refund_no  # replay

    with pytest.raises(ChannelRejected, match="PARAM_ERROR"):
        connector.refund(refund_of(request, 701))
    with pytest.raises(ChannelError, match="of payment"):
        connector.query_refund(partial.out_refund_no, "ANOTHER_ORDER")

    sim.config.faults.set(hold_refunds=True)
    rest = refund_of(request, 700)
    connector.refund(rest)
    held = connector.query_refund(rest.out_refund_no, request.out_trade_no)
    assert (held.status, held.raw_status) == (RefundStatus.PENDING, "PROCESSING")
    completed = control(
        sim.gateway,
        "POST",
        f"/simulator/refunds/{rest.out_refund_no}/complete",
        {"status": "CHANGE"},
    )
    assert completed.status_code == 200
    failed = connector.query_refund(rest.out_refund_no, request.out_trade_no)
    assert (failed.status, failed.raw_status) == (RefundStatus.FAILED, "CHANGE")

    wrong_operator = QQWalletConnector(config_for(sim, op_user_password="not-the-password"))
    with pytest.raises(ChannelRejected, match="op_user"):
        wrong_operator.refund(refund_of(request, 100))
    with pytest.raises(ChannelRejected, match="REFUNDNOTEXIST"):
        connector.query_refund("NO_SUCH_REFUND", request.out_trade_no)


def self_signed(directory: Path) -> tuple[str, str]:
    """A throwaway client certificate and its key, as PEM files in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "paydesk-test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "apiclient_cert.pem", directory / "apiclient_key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_refunds_at_the_real_host_need_the_merchant_certificate(
    sim: Harness, tmp_path: Path
) -> None:
    real = QQWalletConnector(config_for(sim, gateway_url=QQWALLET_GATEWAY_URL))
    assert real.config.refund_gateway == "https://api.qpay.qq.com"
    assert real.config.refund_needs_certificate
    with pytest.raises(UnsupportedFlow, match="certificate"):
        real.refund(RefundRequest("P1", "R1", refund_minor=100, total_minor=100, currency="CNY"))
    cert_file, key_file = self_signed(tmp_path)
    with_certificate = config_for(
        sim, gateway_url=QQWALLET_GATEWAY_URL, client_cert_file=cert_file, client_key_file=key_file
    )
    assert QQWalletConnector(with_certificate)._refund_tls is not None
    with pytest.raises(ValueError, match="client certificate"):
        QQWalletConnector(replace(with_certificate, client_key_file=cert_file))
    with pytest.raises(ValueError, match="go together"):
        config_for(sim, client_cert_file=cert_file)


# --- notifications ------------------------------------------------------------------------------
def test_forged_tampered_and_foreign_notifications_are_invalid(
    connector: QQWalletConnector, sim: Harness
) -> None:
    sim.config.faults.set(forge_notification=1)
    request = payment_request(sim)
    connector.create_payment(request)
    pay(sim.gateway, request.out_trade_no)
    genuine = paid_notification(sim, request.out_trade_no)
    arrivals = sim.receiver.about(request.out_trade_no)
    (forged,) = [a for a in arrivals if not a.accepted]
    assert isinstance(forged.result, InvalidNotification)
    (entry,) = [e for e in deliveries(sim.gateway) if e["kind"] == "forged"]
    assert entry["attempts"] == [500]  # refused as acknowledge(False) says, and not retried

    (good,) = [a for a in arrivals if a.accepted]
    assert connector.parse_notification({}, good.body) == genuine
    fields = parse(good.body)
    key = sim.creds.api_key

    def resigned(**changes: str) -> bytes:
        changed = {**fields, **changes}
        changed["sign"] = sign(changed, key, "HMAC-SHA256")
        return to_xml(changed)

    assert connector.parse_notification({}, resigned()).payment == genuine.payment
    tampered = to_xml({**fields, "total_fee": "1"})
    unsigned = to_xml({k: v for k, v in fields.items() if k != "sign"})
    other_merchant = resigned(mch_id="1900000109")
    other_app = resigned(appid="1100000000")
    downgraded = to_xml({**fields, "sign_type": "MD5", "sign": sign(fields, key, "MD5")})
    entity = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY fee "1">]>' + good.body.replace(
        b"<total_fee>1000</total_fee>", b"<total_fee>&fee;</total_fee>"
    )
    doctype = b"<!DOCTYPE xml>" + good.body
    huge = good.body.replace(b"</xml>", b"<attach>" + b"x" * 70_000 + b"</attach></xml>")
    for body in (tampered, unsigned, other_merchant, other_app, downgraded, entity, doctype):
        with pytest.raises(InvalidNotification):
            connector.parse_notification({}, body)
    for body in (huge, b"not xml", b"<xml><a><b>1</b></a></xml>"):
        with pytest.raises(InvalidNotification, match="refused"):
            connector.parse_notification({}, body)


def test_acknowledgements(connector: QQWalletConnector) -> None:
    accepted, refused = connector.acknowledge(True), connector.acknowledge(False)
    assert (accepted.status_code, accepted.body) == (
        200,
        b"<xml><return_code>SUCCESS</return_code></xml>",
    )
    assert refused.status_code == 500 and b"<return_code>FAIL</return_code>" in refused.body


# --- failures -----------------------------------------------------------------------------------
def test_answers_with_a_bad_sign_are_refused(connector: QQWalletConnector, sim: Harness) -> None:
    sim.config.faults.set(forge_answer=1)
    request = payment_request(sim)
    with pytest.raises(ChannelError, match="sign") as refused:
        connector.create_payment(request)
    assert type(refused.value) is ChannelError and not refused.value.transient
    # The order was made: a query (whose answer is genuine) finds it.
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING
    # A wrong API key on our side: QQ Wallet refuses the request, unsigned.
    stranger = QQWalletConnector(config_for(sim, api_key="K" * 32))
    with pytest.raises(ChannelRejected, match="SIGNERROR"):
        stranger.query_payment(request.out_trade_no)


@pytest.fixture(scope="module")
def rogue() -> Iterator[dict[str, Any]]:
    """A gateway that answers whatever the test puts in ``answer``."""
    answer: dict[str, Any] = {"status": 200, "body": b""}
    app = FastAPI()

    @app.post("/cgi-bin/pay/{name}")
    async def any_call(name: str, request: Request) -> Response:
        return Response(answer["body"], answer["status"], media_type="text/xml")

    with serving(app) as url:
        answer["url"] = url
        yield answer


def test_untrustworthy_answers(sim: Harness, rogue: dict[str, Any]) -> None:
    connector = QQWalletConnector(config_for(sim, gateway_url=rogue["url"]))
    key = sim.creds.api_key
    fields = {"return_code": "SUCCESS", "result_code": "SUCCESS", "mch_id": sim.creds.mch_id}
    fields |= {"nonce_str": "n", "sign_type": "HMAC-SHA256", "trade_state": "SUCCESS"}
    fields |= {"out_trade_no": "P1", "total_fee": "1", "time_end": "20250101120000"}
    good = to_xml({**fields, "sign": sign(fields, key, "HMAC-SHA256")})
    rogue.update(status=200, body=good)
    assert connector.query_payment("P1").paid_at == datetime(2025, 1, 1, 4, tzinfo=UTC)
    cases: list[tuple[int, bytes, type[ChannelError], str]] = [
        (200, b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "b">]>' + good, ChannelError, "DTD"),
        (
            200,
            good.replace(b"</xml>", b"<x>" + b"y" * 70_000 + b"</x></xml>"),
            ChannelError,
            "over",
        ),
        (200, good.replace(b"<trade_state>SUCCESS", b"<trade_state>REFUND"), ChannelError, "sign"),
        (503, b"busy", ChannelUnavailable, "HTTP 503"),
        (404, b"", ChannelError, "HTTP 404"),
    ]
    for status, body, error, message in cases:
        rogue.update(status=status, body=body)
        with pytest.raises(error, match=message):
            connector.query_payment("P1")
    other = {**fields, "trade_state": "SOMETHING_NEW"}
    rogue.update(status=200, body=to_xml({**other, "sign": sign(other, key, "HMAC-SHA256")}))
    with pytest.raises(ChannelError, match="unknown trade_state"):
        connector.query_payment("P1")


def test_server_errors_and_refused_connections_are_unavailable(
    connector: QQWalletConnector, sim: Harness
) -> None:
    request = payment_request(sim)
    connector.create_payment(request)
    sim.config.faults.set(sim.creds.mch_id, fail_next_n=1)
    with pytest.raises(ChannelUnavailable, match="SYSTEMERROR") as failed:
        connector.query_payment(request.out_trade_no)
    assert failed.value.transient
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING
    nowhere = QQWalletConnector(config_for(sim, gateway_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ChannelUnavailable, match="cannot be reached") as unreachable:
        nowhere.query_payment(request.out_trade_no)
    assert unreachable.value.transient


@pytest.mark.parametrize("fault", [{"delay_s": 1.0}, {"timeout_next_n": 1}])
def test_slow_answers_time_out(
    connector: QQWalletConnector, sim: Harness, fault: dict[str, Any]
) -> None:
    sim.config.faults.set(**fault)
    impatient = QQWalletConnector(config_for(sim, timeout_s=0.3))
    request = payment_request(sim)
    with pytest.raises(ChannelTimeout) as timed_out:
        impatient.create_payment(request)
    assert timed_out.value.transient
    sim.config.faults.reset()
    # The outcome was unknown to us, but the order exists: querying tells.
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING


# --- statements ---------------------------------------------------------------------------------
def test_statement_downloads_and_parses(sim: Harness) -> None:
    frozen = time.time()  # one Beijing day for the whole test, even across midnight
    with Harness.running(sim.creds, clock=lambda: frozen) as day_sim:
        connector = QQWalletConnector(config_for(day_sim))
        day = beijing_day(frozen).date()
        with pytest.raises(ChannelRejected, match="No Bill Exist"):
            connector.download_statement(day)
        numbers = []
        for amount in (1000, 2345):
            request = payment_request(day_sim, amount_minor=amount)
            connector.create_payment(request)
            pay(day_sim.gateway, request.out_trade_no)
            numbers.append(request.out_trade_no)
        connector.refund(replace(refund_of(request, 345), total_minor=2345))

        statement = connector.download_statement(day)
        assert statement.day == day and statement.file_name.endswith(f"{day.isoformat()}.csv")
        header, *rows, totals_header, totals = csv.reader(
            io.StringIO(statement.content.decode("utf-8"))
        )
        assert tuple(header) == COLUMNS and tuple(totals_header) == TOTALS_COLUMNS
        assert all(value.startswith("`") for row in rows for value in row)
        by_state = {(row[6], row[9]): row for row in rows}
        assert set(by_state) == {
            (f"`{numbers[0]}", "`SUCCESS"),
            (f"`{numbers[1]}", "`SUCCESS"),
            (f"`{numbers[1]}", "`REFUND"),
        }
        assert by_state[(f"`{numbers[1]}", "`REFUND")][16] == "`3.45"
        assert totals[:3] == ["`3", "`33.45", "`3.45"]
        assert re.fullmatch(r"`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0][0])


# --- credentials --------------------------------------------------------------------------------
def test_credentials_build_the_connector_and_hide_their_secrets(sim: Harness) -> None:
    creds = sim.creds
    raw = {
        "mch_id": creds.mch_id,
        "appid": creds.appid,
        "api_key": creds.api_key,
        "op_user_id": creds.op_user_id,
        "op_user_password": creds.op_user_password,
    }
    credentials = QQWalletCredentials.model_validate(raw)
    assert credentials.sign_type == "HMAC-SHA256"
    for secret in (creds.api_key, creds.op_user_password):
        assert secret not in repr(credentials)
    built = credentials.connector(sim.gateway, 5.0)
    assert isinstance(built, QQWalletConnector) and built.channel == "qqwallet"
    assert creds.api_key not in repr(built) and creds.op_user_password not in repr(built)
    request = payment_request(sim)
    assert built.create_payment(request).kind is ActionKind.QR_CODE
    real = credentials.connector(None)
    assert isinstance(real, QQWalletConnector) and real.config.gateway == QQWALLET_GATEWAY_URL
    md5 = QQWalletCredentials.model_validate({**raw, "sign_type": "MD5", "app_key": "k" * 32})
    assert isinstance(md5.connector(sim.gateway), QQWalletConnector)
    assert "k" * 32 not in repr(md5)
    for bad in (
        {**raw, "api_key": "short"},
        {**raw, "mch_id": "12ab"},
        {**raw, "sign_type": "SHA1"},
        {**raw, "unknown": "x"},
        {k: v for k, v in raw.items() if k != "op_user_password"},
    ):
        with pytest.raises(ValidationError):
            QQWalletCredentials.model_validate(bad)
