"""The Alipay connector against the Alipay simulator on loopback.

Everything goes over real HTTP: the connector's SDK calls reach the simulator's gateway, the
payer's browser is played with httpx (``/qr/...``, the page.pay URL, the cashier's button,
``/simulator/pay``), and notifications reach a merchant endpoint that answers with
``parse_notification`` and ``acknowledge`` exactly as Paydesk's notification route will, so
the simulator's delivery log shows whether Alipay would stop retrying.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from paydesk.channels.alipay import AlipayConfig, AlipayConnector, AlipayRejected
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
)
from paydesk.simulators.alipay import (
    AlipaySimulator,
    FaultPlan,
    SandboxCredentials,
    SimulatorConfig,
    create_simulator,
    generate_test_credentials,
    signing,
    simulator_of,
)
from paydesk.simulators.alipay.config import beijing_now
from tests.support.server import free_port, serving

WAIT_S = 5.0


@dataclass
class Delivery:
    name: str
    body: bytes
    outcome: Notification | Exception


BROKEN_ANSWERS = {
    "unsigned": (
        '{"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments",'
        '"sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}',
        "application/json",
    ),
    "unsigned-busy": (
        '{"alipay_trade_query_response":{"code":"20000","sub_code":"isp.unknow-error"}}',
        "application/json",
    ),
    "error-response": (
        '{"error_response":{"code":"40002","sub_code":"isv.invalid-method"},"sign":"x"}',
        "application/json",
    ),
    "html": ("<html>maintenance</html>", "text/html"),
}


@dataclass
class Merchant:
    """``POST /notify/{name}``: parses each notification with the connector and answers its
    acknowledgement; ``/broken/{answer}/gateway.do`` is a gateway gone wrong: an HTTP status,
    or one of ``BROKEN_ANSWERS``."""

    connector: AlipayConnector | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notify/{name}")
        async def notify(name: str, request: Request) -> Response:
            body = await request.body()
            assert self.connector is not None
            connector = self.connector
            try:
                outcome: Notification | Exception = await run_in_threadpool(
                    connector.parse_notification, dict(request.headers), body
                )
            except ChannelError as error:
                outcome = error
            with self.cond:
                self.deliveries.append(Delivery(name, body, outcome))
                self.cond.notify_all()
            ack = connector.acknowledge(not isinstance(outcome, Exception))
            return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)

        @app.api_route("/broken/{answer}/gateway.do", methods=["GET", "POST"])
        def broken(answer: str) -> Response:
            if answer in BROKEN_ANSWERS:
                body, media_type = BROKEN_ANSWERS[answer]
                return Response(body, media_type=media_type)
            return Response(f"<html>{answer}</html>", status_code=int(answer))

        return app

    def wait_for(self, name: str, count: int = 1) -> list[Delivery]:
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while True:
                got = [d for d in self.deliveries if d.name == name]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(got)} of {count} notifications for {name}")
                self.cond.wait(remaining)


@dataclass
class Env:
    creds: SandboxCredentials
    base: str
    merchant: Merchant
    merchant_base: str
    sim: AlipaySimulator
    config: AlipayConfig
    connector: AlipayConnector

    @property
    def gateway(self) -> str:
        return self.config.gateway_url

    def connect(self, **changes: Any) -> AlipayConnector:
        """Another connector, its config changed as given."""
        return AlipayConnector(replace(self.config, **changes))

    def request(
        self, method: Method = Method.ALIPAY_QR, amount_minor: int = 1000
    ) -> PaymentRequest:
        out_trade_no = f"T_{secrets.token_hex(6)}"
        return PaymentRequest(
            out_trade_no=out_trade_no,
            amount_minor=amount_minor,
            currency="CNY",
            subject="沙箱商品",
            method=method,
            notify_url=f"{self.merchant_base}/notify/{out_trade_no}",
            expires_at=datetime.now(UTC) + timedelta(minutes=30),
            return_url=f"{self.merchant_base}/shop/return?from=alipay",
        )

    def paid_trade(self, amount_minor: int = 1000) -> PaymentRequest:
        request = self.request(amount_minor=amount_minor)
        self.connector.create_payment(request)
        paid = httpx.post(f"{self.base}/simulator/pay", json={"out_trade_no": request.out_trade_no})
        assert paid.status_code == 200, paid.text
        return request


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    creds = generate_test_credentials(app_id="2021000000000001")
    app = create_simulator(
        SimulatorConfig(
            platform_private_key_pem=creds.platform_private_key_pem,
            apps={creds.app_id: creds.registration()},
            notify_retry_schedule_s=(0.1, 0.2),  # a refused notification: 3 tries in 0.3 s
            notify_timeout_s=3.0,
        )
    )
    merchant = Merchant()
    with serving(merchant.app()) as merchant_base, serving(app) as base:
        config = AlipayConfig(
            app_id=creds.app_id,
            app_private_key_pem=creds.app_private_key_pem,
            alipay_public_key_pem=creds.platform_public_key_pem,
            gateway_url=f"{base}/gateway.do",
            timeout_s=5.0,
            seller_id=creds.seller_id,
        )
        merchant.connector = AlipayConnector(config)
        yield Env(
            creds, base, merchant, merchant_base, simulator_of(app), config, merchant.connector
        )


@pytest.fixture(autouse=True)
def _clear_faults(env: Env) -> Iterator[None]:
    yield
    env.sim.clear_faults()


def delivery_log(env: Env, out_trade_no: str) -> list[dict[str, Any]]:
    assert env.sim.notifier.wait_settled(WAIT_S)
    return [d for d in env.sim.notifier.deliveries() if d["out_trade_no"] == out_trade_no]


# --- payments -----------------------------------------------------------------------------------
def test_qr_payment_is_pending_until_paid_then_succeeds_with_the_echoed_amount(env: Env) -> None:
    request = env.request(amount_minor=1050)
    action = env.connector.create_payment(request)
    assert action.kind is ActionKind.QR_CODE and action.qr_code is not None
    assert action.qr_code.startswith(f"{env.base}/qr/")

    before_scan = env.connector.query_payment(request.out_trade_no)
    assert before_scan.status is PaymentStatus.PENDING
    assert before_scan.raw_status == "ACQ.TRADE_NOT_EXIST"
    assert "¥ 10.50" in httpx.get(action.qr_code).text
    waiting = env.connector.query_payment(request.out_trade_no)
    assert waiting.status is PaymentStatus.PENDING and waiting.raw_status == "WAIT_BUYER_PAY"
    assert waiting.amount_minor == 1050

    httpx.post(f"{env.base}/simulator/pay", json={"out_trade_no": request.out_trade_no})
    paid = env.connector.query_payment(request.out_trade_no)
    assert (paid.status, paid.amount_minor, paid.currency) == (PaymentStatus.SUCCEEDED, 1050, "CNY")
    assert paid.channel_trade_no and paid.payer_id and paid.paid_at is not None
    assert abs(paid.paid_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_payment_notification_is_verified_parsed_and_acknowledged(env: Env) -> None:
    request = env.paid_trade(amount_minor=1234)
    (delivery,) = env.merchant.wait_for(request.out_trade_no)
    notification = delivery.outcome
    assert isinstance(notification, Notification) and notification.refund is None
    payment = notification.payment
    assert payment is not None and payment.out_trade_no == request.out_trade_no
    assert payment.status is PaymentStatus.SUCCEEDED and payment.raw_status == "TRADE_SUCCESS"
    assert payment.amount_minor == 1234
    assert notification.notification_id
    (logged,) = delivery_log(env, request.out_trade_no)
    assert logged["state"] == "delivered"  # Alipay got "success" and stops


def test_forged_and_foreign_notifications_are_invalid_and_retried(env: Env) -> None:
    env.sim.set_faults(FaultPlan(forge_notification=True))
    forged = env.paid_trade()
    deliveries = env.merchant.wait_for(forged.out_trade_no, 3)
    assert all(isinstance(d.outcome, InvalidNotification) for d in deliveries)
    (logged,) = delivery_log(env, forged.out_trade_no)
    assert logged["state"] == "failed"
    assert [a["body"] for a in logged["attempts"]] == ["fail"] * 3

    env.sim.clear_faults()
    genuine = env.paid_trade(amount_minor=500)
    body = env.merchant.wait_for(genuine.out_trade_no)[0].body
    tampered = body.replace(b"total_amount=5.00", b"total_amount=0.01")
    assert tampered != body
    with pytest.raises(InvalidNotification, match="signature"):
        env.connector.parse_notification({}, tampered)
    other_app = env.connect(app_id="2021000000000002")
    with pytest.raises(InvalidNotification, match="app_id"):
        other_app.parse_notification({}, body)
    other_seller = env.connect(seller_id="2088000000000000")
    with pytest.raises(InvalidNotification, match="seller_id"):
        other_seller.parse_notification({}, body)


def open_and_pay(url: str) -> httpx.Response:
    """The payer's browser: open the pay page and press the button."""
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None, page.text
    return httpx.post(action.group(1))


def test_page_and_wap_urls_open_the_simulators_pay_page(env: Env) -> None:
    page_request = env.request(Method.ALIPAY_PAGE, amount_minor=6660)
    action = env.connector.create_payment(page_request)
    assert action.kind is ActionKind.REDIRECT and action.redirect_url is not None
    assert action.redirect_url.startswith(f"{env.gateway}?")
    params = dict(parse_qsl(urlsplit(action.redirect_url).query))
    assert params["method"] == "alipay.trade.page.pay" and params["sign_type"] == "RSA2"
    assert params["notify_url"] == page_request.notify_url
    assert params["return_url"] == page_request.return_url
    assert "¥ 66.60" in httpx.get(action.redirect_url).text
    returned = open_and_pay(action.redirect_url)
    assert returned.status_code == 303
    assert returned.headers["location"].startswith(f"{page_request.return_url}&")
    paid = env.connector.query_payment(page_request.out_trade_no)
    assert (paid.status, paid.amount_minor) == (PaymentStatus.SUCCEEDED, 6660)

    wap_request = env.request(Method.ALIPAY_WAP, amount_minor=500)
    wap = env.connector.create_payment(wap_request)
    assert wap.redirect_url is not None
    wap_params = dict(parse_qsl(urlsplit(wap.redirect_url).query))
    assert wap_params["method"] == "alipay.trade.wap.pay"
    assert json.loads(wap_params["biz_content"])["product_code"] == "QUICK_WAP_WAY"
    assert open_and_pay(wap.redirect_url).status_code == 303
    assert env.connector.query_payment(wap_request.out_trade_no).status is PaymentStatus.SUCCEEDED


def test_app_pay_gives_an_order_string_signed_by_the_app(env: Env) -> None:
    request = env.request(Method.ALIPAY_APP, amount_minor=500)
    action = env.connector.create_payment(request)
    assert action.kind is ActionKind.SDK_PARAMS and list(action.sdk_params) == ["order_string"]
    params = dict(parse_qsl(action.sdk_params["order_string"]))
    biz = json.loads(params["biz_content"])
    assert (params["method"], params["app_id"]) == ("alipay.trade.app.pay", env.creds.app_id)
    assert (biz["out_trade_no"], biz["total_amount"]) == (request.out_trade_no, "5.00")
    assert biz["timeout_express"] in ("29m", "30m")
    app_key = signing.load_public_key(env.creds.app_public_key_pem)
    assert signing.verify_request(app_key, params)


def test_close_an_unpaid_trade_and_refuse_to_close_a_paid_one(env: Env) -> None:
    unscanned = env.request()
    action = env.connector.create_payment(unscanned)
    env.connector.close_payment(unscanned.out_trade_no)  # nothing to close at Alipay yet
    assert action.qr_code is not None and "交易已关闭" in httpx.get(action.qr_code).text

    scanned = env.request()
    action = env.connector.create_payment(scanned)
    assert action.qr_code is not None
    httpx.get(action.qr_code)
    env.connector.close_payment(scanned.out_trade_no)
    closed = env.connector.query_payment(scanned.out_trade_no)
    assert (closed.status, closed.raw_status) == (PaymentStatus.CLOSED, "TRADE_CLOSED")
    env.connector.close_payment(scanned.out_trade_no)  # again: still fine

    paid = env.paid_trade()
    with pytest.raises(ChannelRejected, match=r"ACQ\.TRADE_STATUS_ERROR"):
        env.connector.close_payment(paid.out_trade_no)


# --- refunds ------------------------------------------------------------------------------------
def test_partial_repeated_over_and_full_refunds(env: Env) -> None:
    trade = env.paid_trade(amount_minor=1000)
    no = trade.out_trade_no

    def refund(out_refund_no: str, minor: int) -> RefundRequest:
        return RefundRequest(no, out_refund_no, minor, 1000, "CNY", reason="退货")

    first = env.connector.refund(refund("R1", 300))
    assert first.status is RefundStatus.SUCCEEDED and first.raw_status == "fund_change=Y"
    assert first.refund_minor == 300
    replay = env.connector.refund(refund("R1", 300))
    assert replay.status is RefundStatus.SUCCEEDED and replay.raw_status == "REFUND_SUCCESS"
    assert replay.refund_minor == 300  # read back with the refund query: fund_change=N
    with pytest.raises(ChannelRejected, match=r"ACQ\.INVALID_PARAMETER"):
        env.connector.refund(refund("R1", 400))
    with pytest.raises(AlipayRejected) as over:
        env.connector.refund(refund("R2", 701))
    assert (over.value.sub_code, over.value.transient) == ("ACQ.REASON_TRADE_REFUND_FEE_ERR", False)
    assert env.connector.query_payment(no).status is PaymentStatus.SUCCEEDED  # partly refunded

    rest = env.connector.refund(refund("R2", 700))
    assert (rest.status, rest.refund_minor) == (RefundStatus.SUCCEEDED, 700)
    refunded = env.connector.query_payment(no)
    assert (refunded.status, refunded.raw_status) == (PaymentStatus.REFUNDED, "TRADE_CLOSED")

    outcomes = [d.outcome for d in env.merchant.wait_for(no, 3)]
    assert all(isinstance(o, Notification) for o in outcomes)
    refunds = {
        o.refund.out_refund_no: o for o in outcomes if isinstance(o, Notification) and o.refund
    }
    assert refunds["R1"].refund is not None and refunds["R1"].refund.refund_minor == 300
    assert refunds["R2"].refund is not None and refunds["R2"].refund.refund_minor == 700
    assert refunds["R1"].payment is not None and refunds["R2"].payment is not None
    assert refunds["R1"].payment.status is PaymentStatus.SUCCEEDED
    assert refunds["R2"].payment.status is PaymentStatus.REFUNDED


def test_refund_query_and_a_refund_still_under_way(env: Env) -> None:
    trade = env.paid_trade(amount_minor=888)
    no = trade.out_trade_no
    env.connector.refund(RefundRequest(no, "Q1", 111, 888, "CNY"))
    found = env.connector.query_refund("Q1", no)
    assert found.status is RefundStatus.SUCCEEDED and found.refund_minor == 111
    unknown = env.connector.query_refund("Q9", no)
    assert (unknown.status, unknown.refund_minor) == (RefundStatus.PENDING, 0)
    with pytest.raises(AlipayRejected, match=r"ACQ\.TRADE_NOT_EXIST"):
        env.connector.query_refund("Q1", "T_nope")

    env.sim.set_faults(FaultPlan(refund_delay_s=0.5))
    accepted = env.connector.refund(RefundRequest(no, "Q2", 222, 888, "CNY"))
    assert accepted.status is RefundStatus.PENDING  # fund_change=N, read back: not done yet
    time.sleep(0.6)
    assert env.connector.query_refund("Q2", no).status is RefundStatus.SUCCEEDED


# --- statements ---------------------------------------------------------------------------------
def test_statement_download_is_the_detail_csv_in_utf8(env: Env) -> None:
    trade = env.paid_trade(amount_minor=4321)
    today = beijing_now().date()
    bill = env.connector.download_statement(today)
    assert bill.day == today
    assert bill.file_name == f"{env.creds.seller_id}0156_{today:%Y%m%d}_业务明细.csv"
    text = bill.content.decode("utf-8")
    assert text.startswith("#支付宝业务明细查询\r\n")
    row = next(line for line in text.split("\r\n") if f",{trade.out_trade_no}\t," in line)
    assert "43.21" in row and "交易" in row
    with pytest.raises(ChannelRejected, match=r"isp\.bill_not_exist"):
        env.connector.download_statement(today + timedelta(days=2))


def test_a_failed_or_oversized_bill_download(env: Env) -> None:
    today = beijing_now().date()
    gone = AlipayConnector(
        env.config,
        statement_transport=httpx.MockTransport(
            lambda _: httpx.Response(404, text="bill not found or download URL expired")
        ),
    )
    with pytest.raises(ChannelUnavailable, match="HTTP 404"):  # the next try gets a fresh URL
        gone.download_statement(today)
    huge = AlipayConnector(replace(env.config, statement_bytes_max=10))
    with pytest.raises(ChannelError, match="over 10 bytes"):
        huge.download_statement(today)


# --- failures -----------------------------------------------------------------------------------
def test_a_system_error_is_transient(env: Env) -> None:
    env.sim.set_faults(FaultPlan(fail_next_n=1))
    with pytest.raises(ChannelUnavailable, match=r"20000 ACQ\.SYSTEM_ERROR") as failed:
        env.connector.query_payment("T_any")
    assert failed.value.transient
    assert env.connector.query_payment("T_any").status is PaymentStatus.PENDING


def test_a_late_answer_is_a_timeout(env: Env) -> None:
    env.sim.set_faults(FaultPlan(delay_s=1.0))
    impatient = env.connect(timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(ChannelTimeout) as late:
        impatient.create_payment(env.request())
    assert late.value.transient and time.monotonic() - started < 0.9


def test_unreachable_and_failing_gateways_are_unavailable(env: Env) -> None:
    nobody = env.connect(gateway_url=f"http://127.0.0.1:{free_port()}/gateway.do")
    with pytest.raises(ChannelUnavailable, match="cannot be reached"):
        nobody.query_payment("T_any")
    broken = env.connect(gateway_url=f"{env.merchant_base}/broken/503/gateway.do")
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        broken.refund(RefundRequest("T_any", "R_any", 100, 100, "CNY"))


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        ("unsigned", AlipayRejected, r"40002 isv\.invalid-app-id"),
        ("unsigned-busy", ChannelUnavailable, r"20000 isp\.unknow-error"),
        ("error-response", AlipayRejected, r"isv\.invalid-method"),
        ("html", ChannelError, "cannot be read"),
        ("404", ChannelError, "HTTP 404"),
    ],
)
def test_answers_of_a_gateway_gone_wrong(
    env: Env, answer: str, error: type[ChannelError], match: str
) -> None:
    wrong = env.connect(gateway_url=f"{env.merchant_base}/broken/{answer}/gateway.do")
    with pytest.raises(ChannelError, match=match) as raised:
        wrong.query_payment("T_any")
    assert type(raised.value) is error


def test_a_gateway_hanging_up_after_the_request_is_a_timeout(env: Env) -> None:
    """The request went out and no answer came: its outcome is unknown, as after a time-out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def hang_up() -> None:
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:  # read the whole request, then hang up
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        rude = env.connect(gateway_url=f"http://127.0.0.1:{port}/gateway.do")
        with pytest.raises(ChannelTimeout, match="lost before the answer"):
            rude.refund(RefundRequest("T_any", "R_any", 100, 100, "CNY"))
        thread.join(WAIT_S)


def test_an_answer_signed_by_someone_else_is_a_permanent_error(env: Env) -> None:
    stranger = generate_test_credentials().platform_public_key_pem
    suspicious = env.connect(alipay_public_key_pem=stranger)
    with pytest.raises(ChannelError, match="signature does not verify") as bad:
        suspicious.query_payment("T_any")
    assert not bad.value.transient and not isinstance(bad.value, ChannelRejected)


def test_acknowledgements() -> None:
    creds = generate_test_credentials()
    connector = AlipayConnector(
        AlipayConfig(creds.app_id, creds.app_private_key_pem, creds.platform_public_key_pem)
    )
    accepted, refused = connector.acknowledge(True), connector.acknowledge(False)
    assert (accepted.status_code, accepted.body) == (200, b"success")
    assert accepted.media_type == "text/plain"
    assert (refused.status_code, refused.body) == (200, b"fail")
    assert "PRIVATE" not in repr(connector) and creds.app_id in repr(connector)
