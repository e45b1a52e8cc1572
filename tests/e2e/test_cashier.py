"""The hosted cashier in a real browser (headless Chromium through Playwright): open the link
on a phone-sized screen, choose a method, pay in the simulator's page, see the success; page
methods go to the channel and come back; an order closed meanwhile shows it has expired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from paydesk.db.engine import Database
from tests.support.browser import chromium
from tests.support.payments import create_order, get, money
from tests.support.sandbox import SandboxServer, sandbox_server

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def sandbox(db: Database, tmp_path: Path) -> Iterator[SandboxServer]:
    with sandbox_server(db, tmp_path) as server:
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def cashier_link(sandbox: SandboxServer, order_id: str) -> str:
    link: str = get(sandbox, f"/v1/orders/{order_id}/cashier")["url"]
    assert link.startswith(f"{sandbox.base_url}/cashier/{order_id}?t=")
    return link


def test_scan_and_pay_in_the_simulator_then_see_success(sandbox: SandboxServer, page: Page) -> None:
    created = create_order(sandbox, 1234, subject="Gem pack")
    page.goto(cashier_link(sandbox, created["id"]))
    expect(page.locator(".merchant")).to_have_text("Sandbox shop")
    expect(page.locator(".subject")).to_have_text("Gem pack")
    expect(page.locator("#amount")).to_have_text("12.34 CNY")
    labels = page.locator("button.method").all_inner_texts()
    assert labels == ["WeChat Pay", "Alipay (scan)", "Alipay", "UnionPay card", "QQ Wallet"]
    # Fits a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("button", name="WeChat Pay").click()
    expect(page.locator("#qr svg")).to_be_visible()
    pay_page_url = page.locator("#qr-link").get_attribute("href")
    assert pay_page_url and pay_page_url.startswith(f"{sandbox.base_url}/sandbox/wechatpay/")

    payer = page.context.new_page()  # the phone that scanned the code
    payer.goto(pay_page_url)
    payer.get_by_role("button", name="Pay").click()
    expect(page.locator("#message")).to_have_text("Payment received. Thank you!", timeout=15_000)
    assert get(sandbox, f"/v1/orders/{created['id']}")["status"] == "succeeded"
    assert money(sandbox)["receivable"] == 1234


def test_a_page_method_goes_to_the_channel_and_comes_back_paid(
    sandbox: SandboxServer, page: Page
) -> None:
    created = create_order(sandbox, 500)
    page.goto(cashier_link(sandbox, created["id"]))
    page.get_by_role("button", name="Alipay", exact=True).click()
    page.wait_for_url(f"{sandbox.base_url}/sandbox/alipay/**")
    page.get_by_role("button", name="确认付款 Pay").click()
    # The simulator sends the browser back to the cashier, which sees the order paid.
    page.wait_for_url(f"{sandbox.base_url}/cashier/{created['id']}**")
    expect(page.locator("#message")).to_have_text("Payment received. Thank you!", timeout=15_000)


def test_an_order_closed_while_the_page_is_open_shows_it_expired(
    sandbox: SandboxServer, page: Page
) -> None:
    created = create_order(sandbox, 800)
    page.goto(cashier_link(sandbox, created["id"]))
    expect(page.locator("button.method")).to_have_count(5)
    closed = httpx.post(
        f"{sandbox.base_url}/v1/orders/{created['id']}/close", headers=sandbox.headers
    )
    assert closed.status_code == 200, closed.text
    expect(page.locator("#message")).to_have_text(
        "This order has expired and can no longer be paid.", timeout=10_000
    )
    expect(page.locator("#methods")).to_be_hidden()


def test_a_wrong_token_shows_nothing_of_the_order(sandbox: SandboxServer, page: Page) -> None:
    created = create_order(sandbox, 800, subject="Secret thing")
    response = page.goto(f"{sandbox.base_url}/cashier/{created['id']}?t=forged")
    assert response is not None and response.status == 404
    assert "Secret thing" not in page.content()
    status = httpx.get(f"{sandbox.base_url}/cashier/{created['id']}/status?t=forged")
    assert status.status_code == 404
