"""A real headless Chromium clicks through demo shop → Alipay+ checkout → shop result page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from adapter.demo.shop import create_shop_app
from tests.e2e.conftest import HTTP_TIMEOUT, Stack, running_stack
from tests.support.shop import Received, ShopKeys

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Generous: a wait ends as soon as the element is there, and a busy machine is slow.
BROWSER_WAIT_MS = 60_000


def _demo_shop(keys: ShopKeys, adapter_url: str, shop_url: str):  # type: ignore[no-untyped-def]
    return create_shop_app(
        merchant_id=keys.merchant_id,
        hmac_key=keys.hmac_key,
        blowfish_key=keys.blowfish_key,
        paygate_url=adapter_url,
        public_url=shop_url,
    )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, _demo_shop, Received()) as running:
        yield running


@pytest.fixture
def post_demo(tmp_path: Path) -> Iterator[Stack]:
    """The demo with a merchant that keeps the auto-submitting form (``return_method: post``)."""
    with running_stack(
        tmp_path, _demo_shop, Received(), merchant_settings={"return_method": "post"}
    ) as running:
        yield running


def _return_methods(demo: Stack) -> list[str]:
    """How the demo shop's orders came back from the adapter, as the shop recorded it."""
    orders = httpx.get(f"{demo.shop_url}/api/orders", timeout=HTTP_TIMEOUT).json()
    return [r["method"] for order in orders for r in order["returns"]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _checkout(page: Page, demo: Stack, button: str) -> None:
    page.goto(demo.shop_url)
    page.fill("#amount", "4200")
    page.click("#checkout")
    page.wait_for_selector(f"#{button}", timeout=BROWSER_WAIT_MS)
    assert page.url.startswith(demo.sandbox_url)
    page.click(f"#{button}")
    page.wait_for_selector("#status", timeout=BROWSER_WAIT_MS)


def test_shopper_pays_and_the_shop_shows_a_verified_ok(browser: Browser, demo: Stack) -> None:
    page = browser.new_page()
    _checkout(page, demo, "pay")
    assert page.url.startswith(f"{demo.shop_url}/result/success")
    assert page.inner_text("#status") == "OK"
    assert page.inner_text("#code") == "00000000"
    assert page.inner_text("#mac-ok") == "verified"
    assert _return_methods(demo) == ["GET"]  # the default: a 303 with the result in the query


def test_with_return_method_post_the_browser_submits_the_form_the_csp_lets_run(
    browser: Browser, post_demo: Stack
) -> None:
    page = browser.new_page()
    _checkout(page, post_demo, "pay")
    assert page.url == f"{post_demo.shop_url}/result/success"
    assert page.inner_text("#status") == "OK"
    assert page.inner_text("#mac-ok") == "verified"
    assert _return_methods(post_demo) == ["POST"]


def test_shopper_declines_and_the_shop_shows_a_verified_failure(
    browser: Browser, demo: Stack
) -> None:
    page = browser.new_page()
    _checkout(page, demo, "decline")
    assert page.url.startswith(f"{demo.shop_url}/result/failure")
    assert page.inner_text("#status") == "FAILED"
    assert page.inner_text("#code").startswith("2")
    assert page.inner_text("#mac-ok") == "verified"


def _field(page: Page, table: str, key: str) -> str:
    return page.inner_text(f'#{table} tr[data-key="{key}"] td')


def test_the_shop_refunds_and_looks_up_a_paid_order_from_its_back_office(
    browser: Browser, demo: Stack
) -> None:
    page = browser.new_page()
    _checkout(page, demo, "pay")
    page.click("#order-link")
    page.fill("#refund-amount", "1000")
    page.click("#credit")
    page.wait_for_selector("#call-1-fields", timeout=BROWSER_WAIT_MS)
    assert page.inner_text("#call-1-mac") == "verified"
    assert (_field(page, "call-1-fields", "Status"), _field(page, "call-1-fields", "Code")) == (
        "OK",
        "00000000",
    )
    pay_id = page.inner_text("#payid")
    assert demo.ledger(pay_id)["refunded"] == 1000
    page.click("#inquire")
    page.wait_for_selector("#call-2-fields", timeout=BROWSER_WAIT_MS)
    assert _field(page, "call-2-fields", "AmountCap") == "4200"
    assert _field(page, "call-2-fields", "AmountCred") == "1000"
    page.fill("#refund-amount", "3201")
    page.click("#credit")
    page.wait_for_selector("#call-3-fields", timeout=BROWSER_WAIT_MS)
    assert _field(page, "call-3-fields", "Status") == "FAILED"  # 1000 + 3201 > 4200
    assert demo.ledger(pay_id)["refunded"] == 1000


def test_the_shop_cancels_a_paid_order_from_its_back_office(browser: Browser, demo: Stack) -> None:
    page = browser.new_page()
    _checkout(page, demo, "pay")
    page.click("#order-link")
    page.click("#reverse")
    page.wait_for_selector("#call-1-fields", timeout=BROWSER_WAIT_MS)
    assert _field(page, "call-1-fields", "Status") == "OK"
    assert demo.ledger(page.inner_text("#payid"))["state"] == "CANCELLED"
