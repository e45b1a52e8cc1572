"""The WeChat Pay connector against the WeChat Pay simulator on loopback.

The connector drives the unmodified ``wechatpayv3`` SDK, so every answer used here passed the
SDK's signature check; notifications go to a small receiver that answers with the connector's
own ``parse_notification`` and ``acknowledge``. Payers act through the simulator's test API.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, Request, Response

from paydesk.channels.base import (
    ActionKind,
    ChannelError,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    InvalidNotification,
    Method,
    Notification,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedFlow,
)
from paydesk.channels.wechatpay import WeChatPayConfig, WeChatPayConnector
from paydesk.simulators.wechatpay import (
    FaultBook,
    TestCredentials,
    create_simulator,
    generate_test_credentials,
)
from paydesk.simulators.wechatpay.bill import COLUMNS
from tests.simulators.wechatpay_support import (
    RETRIES_S,
    beijing_day,
    control,
    new_number,
    pay,
    wait_until,
)
from tests.support.server import free_port, serving

WAIT_S = 5.0


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    parsed: Notification | None
    error: InvalidNotification | None


class Receiver:
    """The merchant's notify endpoint, answering as the connector says."""

    def __init__(self) -> None:
        self.connector: WeChatPayConnector | None = None
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.post("/notify")(self._notify)

    async def _notify(self, request: Request) -> Response:
        assert self.connector is not None
        headers, body = dict(request.headers), await request.body()
        parsed, error = None, None
        try:
            parsed = self.connector.parse_notification(headers, body)
        except InvalidNotification as exc:
            error = exc
        with self._lock:
            self._arrivals.append(Arrival(headers, body, parsed, error))
        answer = self.connector.acknowledge(parsed is not None)
        return Response(answer.body, answer.status_code, media_type=answer.media_type)

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def about(self, number: str) -> list[Arrival]:
        def names(arrival: Arrival) -> bool:
            note = arrival.parsed
            payment, refund = (note.payment, note.refund) if note else (None, None)
            return (payment is not None and payment.out_trade_no == number) or (
                refund is not None and refund.out_refund_no == number
            )

        return [arrival for arrival in self.arrivals() if names(arrival)]

    def wait_for(self, number: str) -> Arrival:
        found = wait_until(lambda: self.about(number), bool, WAIT_S)
        assert found, f"no notification about {number}"
        return found[0]


@dataclass
class Sim:
    creds: TestCredentials
    gateway: str
    notify_url: str
    receiver: Receiver
    faults: FaultBook

    def config(self, **changes: Any) -> WeChatPayConfig:
        return connector_config(self.creds, self.gateway, **changes)

    def connector(self, **changes: Any) -> WeChatPayConnector:
        return WeChatPayConnector(self.config(**changes))

    def request(self, method: Method = Method.WECHAT_NATIVE, **changes: Any) -> PaymentRequest:
        base = PaymentRequest(
            out_trade_no=new_number("P"),
            amount_minor=1000,
            currency="CNY",
            subject="Gems 宝石 100",
            method=method,
            notify_url=self.notify_url,
            expires_at=datetime.now(UTC) + timedelta(minutes=30),
            payer_id="o_payer_1" if method is Method.WECHAT_JSAPI else None,
            client_ip="127.0.0.1",
        )
        return replace(base, **changes)


def connector_config(creds: TestCredentials, gateway: str, **changes: Any) -> WeChatPayConfig:
    config = WeChatPayConfig(
        mchid=creds.mchid,
        appid=creds.appid,
        merchant_private_key_pem=creds.merchant_private_key_pem,
        merchant_cert_serial_no=creds.merchant_cert_serial_no,
        platform_public_key_pem=creds.platform_public_key_pem,
        public_key_id=creds.public_key_id,
        apiv3_key=creds.apiv3_key,
        gateway_url=gateway,
        timeout_s=5.0,
    )
    return replace(config, **changes)


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    creds = generate_test_credentials()
    config = creds.simulator_config(retry_schedule_s=RETRIES_S, notify_timeout_s=2.0)
    receiver = Receiver()
    with serving(receiver.app) as receiver_url, serving(create_simulator(config)) as gateway:
        harness = Sim(creds, gateway, f"{receiver_url}/notify", receiver, config.faults)
        receiver.connector = harness.connector()
        yield harness


@pytest.fixture
def connector(sim: Sim) -> Iterator[WeChatPayConnector]:
    sim.faults.reset()
    yield sim.connector()
    sim.faults.reset()


def verify_rsa(public_pem: str, lines: list[str], signature: str) -> None:
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    message = "".join(f"{line}\n" for line in lines).encode()
    key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())


# --- payments -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", [m for m in Method if m.name.startswith("WECHAT_")])
def test_each_method_is_created_paid_notified_and_queried(
    connector: WeChatPayConnector, sim: Sim, method: Method
) -> None:
    request = sim.request(method, amount_minor=1234)
    action = connector.create_payment(request)
    number, creds = request.out_trade_no, sim.creds
    if method is Method.WECHAT_NATIVE:
        assert action.kind is ActionKind.QR_CODE and action.qr_code
        assert action.qr_code.startswith(f"{sim.gateway}/pay/wx")
    elif method is Method.WECHAT_H5:
        assert action.kind is ActionKind.REDIRECT and action.redirect_url
        assert action.redirect_url.startswith(f"{sim.gateway}/pay/wx")
    elif method is Method.WECHAT_JSAPI:
        params = dict(action.sdk_params)
        assert action.kind is ActionKind.SDK_PARAMS and params["appId"] == creds.appid
        assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
        assert abs(int(params["timeStamp"]) - time.time()) < 60 and len(params["nonceStr"]) == 32
        signed = [params[k] for k in ("appId", "timeStamp", "nonceStr", "package")]
        verify_rsa(creds.merchant_public_key_pem, signed, params["paySign"])
    else:
        params = dict(action.sdk_params)
        assert action.kind is ActionKind.SDK_PARAMS and params["package"] == "Sign=WXPay"
        assert (params["appid"], params["partnerid"]) == (creds.appid, creds.mchid)
        assert params["prepayid"].startswith("wx")
        signed = [params[k] for k in ("appid", "timestamp", "noncestr", "prepayid")]
        verify_rsa(creds.merchant_public_key_pem, signed, params["sign"])

    unpaid = connector.query_payment(number)
    assert (unpaid.status, unpaid.raw_status, unpaid.channel_trade_no) == (
        PaymentStatus.PENDING,
        "NOTPAY",
        None,
    )
    paid = pay(sim.gateway, number, openid="o_payer_1")
    payment = connector.query_payment(number)
    assert (payment.status, payment.raw_status) == (PaymentStatus.SUCCEEDED, "SUCCESS")
    assert (payment.amount_minor, payment.currency) == (1234, "CNY")
    assert payment.channel_trade_no == paid["transaction_id"]
    assert payment.payer_id == "o_payer_1"
    assert payment.paid_at is not None and payment.paid_at.tzinfo is UTC
    assert abs((payment.paid_at - datetime.now(UTC)).total_seconds()) < 60

    arrival = sim.receiver.wait_for(number)
    assert arrival.parsed is not None and arrival.parsed.notification_id
    assert arrival.parsed.payment == payment


def test_h5_return_url_becomes_the_redirect_url(connector: WeChatPayConnector, sim: Sim) -> None:
    request = sim.request(Method.WECHAT_H5, return_url="https://shop.example/done?o=1")
    action = connector.create_payment(request)
    assert action.redirect_url is not None
    page, _, query = action.redirect_url.partition("?")  # WeChat's own h5_url has a query
    assert page.startswith(f"{sim.gateway}/pay/wx")
    assert query == "redirect_url=https%3A%2F%2Fshop.example%2Fdone%3Fo%3D1"
    assert httpx.get(action.redirect_url, trust_env=False).status_code == 200


def test_requests_wechat_would_refuse_fail_locally(connector: WeChatPayConnector, sim: Sim) -> None:
    with pytest.raises(UnsupportedFlow):
        connector.create_payment(sim.request(Method.ALIPAY_QR))
    with pytest.raises(UnsupportedFlow, match="CNY only"):
        connector.create_payment(sim.request(currency="USD"))
    with pytest.raises(ChannelRejected) as missing:
        connector.create_payment(sim.request(Method.WECHAT_JSAPI, payer_id=None))
    assert missing.value.param == "payer_id"
    with pytest.raises(ChannelRejected, match="out_trade_no"):
        connector.query_payment("../../v3/refund")


def test_channel_refusals_carry_its_code(connector: WeChatPayConnector, sim: Sim) -> None:
    with pytest.raises(ChannelRejected, match="HTTP 404 ORDER_NOT_EXIST"):
        connector.query_payment("NO_SUCH_ORDER")
    request = sim.request()
    connector.create_payment(request)
    with pytest.raises(ChannelRejected, match="INVALID_REQUEST"):
        connector.create_payment(replace(request, amount_minor=1001))


def test_close(connector: WeChatPayConnector, sim: Sim) -> None:
    request = sim.request()
    connector.create_payment(request)
    connector.close_payment(request.out_trade_no)
    closed = connector.query_payment(request.out_trade_no)
    assert (closed.status, closed.raw_status) == (PaymentStatus.CLOSED, "CLOSED")
    connector.close_payment(request.out_trade_no)  # closing twice is fine

    paid = sim.request()
    connector.create_payment(paid)
    pay(sim.gateway, paid.out_trade_no)
    with pytest.raises(ChannelRejected, match="ORDERPAID"):
        connector.close_payment(paid.out_trade_no)


# --- notifications ------------------------------------------------------------------------------
def test_forged_and_tampered_notifications_are_invalid(
    connector: WeChatPayConnector, sim: Sim
) -> None:
    sim.faults.set(forge_notification=1)
    request = sim.request()
    connector.create_payment(request)
    pay(sim.gateway, request.out_trade_no)
    genuine = sim.receiver.wait_for(request.out_trade_no)
    (forged,) = [a for a in sim.receiver.arrivals() if a.body == genuine.body and a.error]
    assert forged.parsed is None and forged.headers != genuine.headers
    with pytest.raises(InvalidNotification):
        connector.parse_notification(forged.headers, forged.body)
    entries = control(sim.gateway, "GET", "/simulator/notifications").json()["deliveries"]
    (entry,) = [e for e in entries if e["kind"] == "forged"]
    assert entry["attempts"] == [500]  # the receiver refused it, as acknowledge(False) says

    assert connector.parse_notification(genuine.headers, genuine.body) == genuine.parsed
    tampered = genuine.body.replace(b'"ciphertext":"', b'"ciphertext":"A')
    for headers, body in [
        (genuine.headers, tampered),
        ({**genuine.headers, "wechatpay-serial": "PUB_KEY_ID_OTHER"}, genuine.body),
        ({k: v for k, v in genuine.headers.items() if k != "wechatpay-signature"}, genuine.body),
        (genuine.headers, b"not json"),
    ]:
        with pytest.raises(InvalidNotification):
            connector.parse_notification(headers, body)
    late = WeChatPayConnector(sim.config(), clock=lambda: time.time() + 301)
    with pytest.raises(InvalidNotification, match="timestamp"):
        late.parse_notification(genuine.headers, genuine.body)


def test_acknowledgements(connector: WeChatPayConnector) -> None:
    accepted, refused = connector.acknowledge(True), connector.acknowledge(False)
    assert (accepted.status_code, accepted.body) == (204, b"")
    assert refused.status_code == 500 and b'"code":"FAIL"' in refused.body


# --- refunds ------------------------------------------------------------------------------------
def test_partial_then_full_refund(connector: WeChatPayConnector, sim: Sim) -> None:
    request = sim.request(amount_minor=1000)
    connector.create_payment(request)
    pay(sim.gateway, request.out_trade_no)
    number = request.out_trade_no

    def refund_of(amount: int) -> RefundRequest:
        return RefundRequest(
            out_trade_no=number,
            out_refund_no=new_number("R"),
            refund_minor=amount,
            total_minor=1000,
            currency="CNY",
            reason="customer asked",
            notify_url=sim.notify_url,
        )

    partial = refund_of(300)
    answered = connector.refund(partial)
    assert (answered.status, answered.raw_status) == (RefundStatus.PENDING, "PROCESSING")
    assert (answered.refund_minor, answered.currency, answered.out_trade_no) == (300, "CNY", number)
    assert answered.channel_refund_no
    queried = connector.query_refund(partial.out_refund_no, number)
    assert (queried.status, queried.refund_minor) == (RefundStatus.SUCCEEDED, 300)
    assert queried.succeeded_at is not None
    assert connector.query_payment(number).status is PaymentStatus.REFUNDED
    note = sim.receiver.wait_for(partial.out_refund_no).parsed
    assert note is not None and note.refund is not None and note.payment is None
    assert (note.refund.status, note.refund.refund_minor) == (RefundStatus.SUCCEEDED, 300)
    assert note.refund.currency == "CNY" and note.refund.out_trade_no == number

    with pytest.raises(ChannelRejected, match="INVALID_REQUEST"):
        connector.refund(refund_of(701))
    rest = refund_of(700)
    connector.refund(rest)
    assert connector.query_refund(rest.out_refund_no, number).status is RefundStatus.SUCCEEDED
    with pytest.raises(ChannelError, match="of payment"):
        connector.query_refund(rest.out_refund_no, "ANOTHER_ORDER")

    whole = sim.request(amount_minor=880)
    connector.create_payment(whole)
    pay(sim.gateway, whole.out_trade_no)
    full = replace(refund_of(880), out_trade_no=whole.out_trade_no, total_minor=880)
    assert connector.refund(full).refund_minor == 880
    done = connector.query_refund(full.out_refund_no, whole.out_trade_no)
    assert (done.status, done.refund_minor) == (RefundStatus.SUCCEEDED, 880)


# --- statements ---------------------------------------------------------------------------------
def test_statement(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = time.time()  # one Beijing day for the whole test, even across midnight
    config = sim.creds.simulator_config(clock=lambda: frozen, retry_schedule_s=RETRIES_S)
    with serving(create_simulator(config)) as gateway:
        connector = WeChatPayConnector(connector_config(sim.creds, gateway))
        day = date.fromisoformat(beijing_day(frozen))
        with pytest.raises(ChannelRejected, match="NO_STATEMENT_EXIST"):
            connector.download_statement(day)
        numbers = []
        for amount in (1000, 2345):
            request = sim.request(amount_minor=amount)
            connector.create_payment(request)
            pay(gateway, request.out_trade_no)
            numbers.append(request.out_trade_no)

        statement = connector.download_statement(day)
        assert statement.day == day and statement.file_name.endswith(f"{day.isoformat()}.csv")
        header, *rows = csv.reader(io.StringIO(statement.content.decode("utf-8")))
        assert tuple(header) == COLUMNS and len(header) == 27
        paid = [row for row in rows if len(row) == 27]
        assert sorted(row[6] for row in paid) == sorted(f"`{n}" for n in numbers)
        assert sorted(row[12] for row in paid) == ["`10.00", "`23.45"]

        tampered = gzip.compress(statement.content + b"x")
        monkeypatch.setattr(connector._client, "download_bill", lambda url: (200, tampered))
        with pytest.raises(ChannelUnavailable, match="SHA1"):
            connector.download_statement(day)


# --- failures -----------------------------------------------------------------------------------
def test_server_errors_and_refused_connections_are_unavailable(
    connector: WeChatPayConnector, sim: Sim
) -> None:
    request = sim.request()
    connector.create_payment(request)
    sim.faults.set(sim.creds.mchid, fail_next_n=1)
    with pytest.raises(ChannelUnavailable, match="HTTP 500 SYSTEM_ERROR") as failed:
        connector.query_payment(request.out_trade_no)
    assert failed.value.transient
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING

    nowhere = sim.connector(gateway_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChannelUnavailable, match="connection failed"):
        nowhere.query_payment(request.out_trade_no)


def test_a_slow_answer_times_out(connector: WeChatPayConnector, sim: Sim) -> None:
    sim.faults.set(delay_s=1.0)
    impatient = sim.connector(timeout_s=0.3)
    request = sim.request()
    with pytest.raises(ChannelTimeout) as timed_out:
        impatient.create_payment(request)
    assert timed_out.value.transient
    sim.faults.set(delay_s=0)
    # The outcome was unknown to us, but the order exists: querying tells.
    assert connector.query_payment(request.out_trade_no).status is PaymentStatus.PENDING


def test_answers_not_signed_by_the_platform_are_refused(sim: Sim) -> None:
    other = generate_test_credentials()
    sceptic = sim.connector(platform_public_key_pem=other.platform_public_key_pem)
    with pytest.raises(ChannelError, match="signature did not verify") as refused:
        sceptic.create_payment(sim.request())
    assert type(refused.value) is ChannelError and not refused.value.transient
