"""The operators' console in a real headless Chromium, against a running adapter, sandbox and
shop: log in, find a payment, read its timeline, resend a dead URLNotify, reconcile now, and be
refused without a session or a CSRF token. Screenshots of each page go to
test-artifacts/console/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.console import OPERATOR, PASSWORD, ConsoleStack, running_console_stack
from tests.support.s2s import S2SClient
from tests.support.shop import Received
from tests.support.waiting import wait_until

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
WAIT_MS = 15000

# Every hop of checkout, notify and credit, in the order they happen (the timeline may hold
# more, such as the shopper's return).
FULL_FLOW = [
    ("shop_request", "alipayplus"),
    ("alipay_call", "pay"),
    ("payment", "PENDING"),
    ("alipay_notify", "notifyPayment"),
    ("payment", "SUCCESS"),
    ("shop_notify", "SUCCESS"),
    ("shop_request", "credit"),
    ("step", "credit PENDING"),
    ("alipay_call", "refund"),
    ("step", "credit SUCCESS"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    with running_console_stack(tmp_path_factory.mktemp("console"), Received()) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (.ci/run does it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    yield context
    context.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(context: BrowserContext, stack: ConsoleStack, *, shot: bool = False) -> Page:
    page = context.new_page()
    page.goto(f"{stack.console_url}/")
    page.wait_for_selector("#login")
    if shot:
        _shot(page, "login")
    page.fill("#name", OPERATOR)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#operator", timeout=WAIT_MS)
    assert page.inner_text("#operator") == OPERATOR
    return page


def _timeline(page: Page) -> list[tuple[str, str]]:
    rows = page.locator("#timeline tbody tr[data-hop]")
    return [
        (rows.nth(i).get_attribute("data-hop") or "", rows.nth(i).get_attribute("data-name") or "")
        for i in range(rows.count())
    ]


def _in_order(wanted: list[tuple[str, str]], seen: list[tuple[str, str]]) -> bool:
    """Whether ``wanted`` appear in ``seen`` in this order (others may come between)."""
    rest = iter(seen)
    return all(any(hop == step for hop in rest) for step in wanted)


def _open_payment_page(page: Page, stack: ConsoleStack, pay_id: str) -> None:
    page.goto(f"{stack.console_url}/payments/{pay_id}")
    page.wait_for_selector("#timeline")


def test_an_operator_finds_a_payment_by_trans_id_and_reads_every_hop_of_it(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    pay_id = stack.paid_payment("CONSOLE-1", "4200")
    # Playwright runs an event loop in this thread: wait on what the shop received, not the DB.
    wait_until(lambda: stack.notifies_for(pay_id), message="the shop was never notified")
    with httpx.Client(timeout=30) as http:
        answer = S2SClient(stack.shop, stack.adapter_url, http).credit(
            pay_id, "CONSOLE-1-R", "1200"
        )
    assert answer["Status"] == "OK"

    page = _log_in(context, stack, shot=True)
    page.wait_for_selector("#activity-chart")
    _shot(page, "overview")
    page.click("#nav-payments")
    page.wait_for_selector("#payments")
    page.fill("#q", "CONSOLE-1")
    page.click("#search")
    page.wait_for_selector(f'#payments tr[data-pay-id="{pay_id}"]')
    assert page.locator("#payments tbody tr[data-pay-id]").count() == 1
    _shot(page, "payments")
    page.click(f'#payments tr[data-pay-id="{pay_id}"] a.pay-link')
    page.wait_for_selector("#timeline")
    assert page.inner_text("#pay-id") == pay_id
    assert (page.inner_text("#paid"), page.inner_text("#credited")) == ("42.00 EUR", "12.00 EUR")
    assert page.inner_text("#url-notify") == f"{stack.shop_url}/notify"

    def every_hop() -> bool:
        page.reload()
        return _in_order(FULL_FLOW, _timeline(page))

    wait_until(every_hop, message=lambda: f"timeline lacks hops: {_timeline(page)}")
    _shot(page, "payment")


def _wait_for_dead(page: Page, stack: ConsoleStack, pay_id: str) -> None:
    def listed() -> bool:
        page.goto(f"{stack.console_url}/notifications?show=dead")
        return page.locator(f'#notifications tr[data-pay-id="{pay_id}"]').count() == 1

    wait_until(listed, message=f"the URLNotify of {pay_id} never died")


def _attempts(page: Page) -> list[str]:
    return page.locator("#notifications .attempts tbody tr").all_inner_texts()


def test_a_dead_urlnotify_is_resent_one_and_in_bulk_and_the_new_attempts_show(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    stack.received.notify_status = 500
    try:
        first = stack.paid_payment("CONSOLE-DEAD-1")
        second = stack.paid_payment("CONSOLE-DEAD-2")
        page = _log_in(context, stack)
        _wait_for_dead(page, stack, first)
        _wait_for_dead(page, stack, second)
        _shot(page, "notifications")
    finally:
        stack.received.notify_status = 200

    _open_payment_page(page, stack, first)  # one, from its payment page
    assert len(_attempts(page)) == 2  # the first and the one retry, both refused
    page.click("#notifications button.resend")
    page.wait_for_selector("#flash")
    assert "1 notification(s) queued" in page.inner_text("#flash")

    def delivered() -> bool:
        page.reload()
        return page.locator("#notifications .notify-delivered").count() == 1

    wait_until(delivered, message="the resent URLNotify was not delivered")
    attempts = _attempts(page)
    assert len(attempts) == 3 and "HTTP 200" in attempts[-1] and "HTTP 500" in attempts[0]
    assert "resend notify" in [name for _, name in _timeline(page)]
    assert page.locator("#timeline tr.hop-operator td.actor").first.inner_text() == OPERATOR
    _shot(page, "payment-resent")

    page.goto(f"{stack.console_url}/notifications?show=dead")  # and the rest, in bulk
    page.click("#resend-dead")
    page.wait_for_selector("#flash")
    assert re.search(r"[1-9]\d* notification\(s\) queued", page.inner_text("#flash"))
    # The shop saw the two refused attempts, and now the one it took.
    wait_until(
        lambda: len(stack.notifies_for(second)) == 3,
        message="the bulk resend never reached the shop",
    )


def test_reconcile_now_settles_a_payment_whose_notify_never_came(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})  # until the end: it holds back resends too
    try:
        _reconcile_a_paid_payment_with_its_notify_withheld(context, stack)
    finally:
        stack.sim("notify-policy", {"mode": "normal"})


def _reconcile_a_paid_payment_with_its_notify_withheld(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    pay_id = stack.open_payment("CONSOLE-RECON", "999")
    stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    assert stack.state_of(pay_id) == "PENDING"
    page = _log_in(context, stack)
    _open_payment_page(page, stack, pay_id)
    assert page.inner_text("#state") == "PENDING"
    page.click("#reconcile")
    page.wait_for_selector("#flash", timeout=WAIT_MS)
    assert page.inner_text("#flash") == "Reconciled: the payment is SUCCESS."
    assert page.inner_text("#state") == "SUCCESS"
    timeline = _timeline(page)
    assert _in_order(
        [("operator", "reconcile now"), ("alipay_call", "inquiryPayment"), ("payment", "SUCCESS")],
        timeline,
    )
    assert page.locator("#timeline tr.hop-operator td.actor").first.inner_text() == OPERATOR
    _shot(page, "reconciled")


def test_a_stranger_is_sent_to_the_login_page_and_cannot_act(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    pay_id = stack.open_payment("CONSOLE-STRANGER")
    page = context.new_page()
    page.goto(f"{stack.console_url}/payments/{pay_id}")
    page.wait_for_selector("#login")
    assert page.url.startswith(f"{stack.console_url}/login?next=")
    # Only the address it asked for comes back (to return there after a login): no data.
    assert "CONSOLE-STRANGER" not in page.content()
    assert page.locator("#timeline, #summary, #amounts").count() == 0
    refused = page.request.post(f"{stack.console_url}/payments/{pay_id}/reconcile", form={})
    assert refused.status == 403
    page.fill("#name", OPERATOR)
    page.fill("#password", "wrong")
    page.click("#login")
    page.wait_for_selector("#problem")
    assert page.inner_text("#problem") == "Wrong name or password."
    _shot(page, "login-refused")


def test_an_action_without_a_valid_csrf_token_is_refused(
    context: BrowserContext, stack: ConsoleStack
) -> None:
    pay_id = stack.open_payment("CONSOLE-CSRF")
    page = _log_in(context, stack)
    url = f"{stack.console_url}/payments/{pay_id}/reconcile"
    forms: list[dict[str, str | float | bool]] = [{}, {"csrf": "forged"}]
    for form in forms:
        refused = page.request.post(url, form=form)
        assert refused.status == 403
        assert "not sent from this console" in refused.text()
    _open_payment_page(page, stack, pay_id)
    assert ("operator", "reconcile now") not in _timeline(page)
