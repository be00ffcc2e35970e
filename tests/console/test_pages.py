"""What the console's pages show, and what its actions do, over HTTP with a real database."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from adapter.model import (
    OPEN_STATES,
    Event,
    Hop,
    OperationState,
    PaymentState,
    ShopDetails,
    ShopNotice,
)
from tests.alipayplus.fake import Answer, result_body
from tests.console.conftest import Served, Stores
from tests.support.models import a_failed_attempt, a_payment, a_step
from tests.support.waiting import wait_until

URLS = ShopDetails(
    url_success="https://shop.example/ok",
    url_failure="https://shop.example/no",
    url_notify="https://shop.example/notify",
    ref_nr="R-7",
)


def _pay_id(number: int) -> str:
    return f"{number:032x}"


def _seed(served: Served, count: int, first: int = 1, **changes: object) -> list[str]:
    """``count`` payments numbered from ``first``, one second apart, the newest first."""
    now = served.clock()
    numbers = range(first, first + count)

    async def work(stores: Stores) -> None:
        for n in numbers:
            created = now - timedelta(seconds=n)
            values: dict[str, object] = {
                "pay_id": _pay_id(n),
                "trans_id": f"T-{n}",
                "created_at": created,
                "updated_at": created,
                "details": dataclasses.replace(URLS, ref_nr=f"R-{n}"),
                **changes,
            }
            await stores.payments.insert(a_payment(**values))

    served.with_stores(work)
    return [_pay_id(n) for n in numbers]


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-pay-id="([0-9a-f]+)">', html)


def _dead_notification(served: Served, pay_id: str) -> None:
    async def work(stores: Stores) -> None:
        now = served.clock()
        notice = ShopNotice("https://shop.example/notify", "Len=1&Data=00")
        journalled = Event(now, Hop.PAYMENT, "SUCCESS", "SUCCESS", pay_id=pay_id)
        await stores.payments.finalize(
            pay_id,
            PaymentState.SUCCESS,
            now=now,
            from_states=OPEN_STATES,
            notice=notice,
            events=[journalled],
        )
        (notification,) = await stores.payments.notifications_for(pay_id)
        for status in (500, 502):
            await stores.payments.record_attempts(
                [
                    a_failed_attempt(
                        notification.id, now, status, None if status == 502 else now, duration_ms=12
                    )
                ]
            )

    served.with_stores(work)


def test_the_payments_list_pages_newest_first_with_a_link_to_older_ones(served: Served) -> None:
    stored = _seed(served, 63)
    served.login()
    first = served.http.get(f"{served.url}/payments")
    assert _rows(first.text) == stored[:50]
    older = re.search(r'id="next" href="([^"]+)"', first.text)
    assert older is not None and 'id="first"' not in first.text
    second = served.http.get(
        served.url.removesuffix("/console") + older.group(1).replace("&amp;", "&")
    )
    assert _rows(second.text) == stored[50:]
    assert 'id="next"' not in second.text and 'id="first"' in second.text


def test_the_payments_list_searches_and_filters(served: Served) -> None:
    stored = _seed(served, 5)
    (other,) = _seed(served, 1, first=9, merchant_id="OtherShop", state=PaymentState.FAILED)
    served.login()

    def shown(query: str) -> list[str]:
        return _rows(served.http.get(f"{served.url}/payments?{query}").text)

    assert shown("q=T-3") == [stored[2]]
    assert shown("q=R-4") == [stored[3]]
    assert shown(f"q={stored[1]}") == [stored[1]]
    assert shown("q=T-") == []
    assert shown("merchant=Shop") == stored
    assert shown("merchant=OtherShop") == [other]
    assert shown("state=FAILED") == [other]
    assert shown("merchant=Shop&state=FAILED") == []
    today = served.clock().date()
    assert shown(f"from={today}&to={today}") == [*stored, other]
    assert shown(f"to={today - timedelta(days=1)}") == []
    page = served.http.get(f"{served.url}/payments?from=yesterday&state=SOLD")
    assert page.status_code == 200
    assert "unknown state" in page.text and "YYYY-MM-DD" in page.text


def test_the_payment_page_shows_amounts_urls_steps_attempts_and_the_timeline(
    served: Served,
) -> None:
    (pay_id,) = _seed(served, 1)
    _dead_notification(served, pay_id)

    async def credit(stores: Stores) -> None:
        step = a_step(pay_id=pay_id, amount=250, created_at=served.clock())
        await stores.operations.reserve_credit(step, paid=1000)
        await stores.operations.finish(
            step.xid, OperationState.SUCCESS, now=served.clock(), result_code="SUCCESS"
        )

    served.with_stores(credit)
    served.login()
    page = served.http.get(f"{served.url}/payments/{pay_id}").text
    assert 'id="paid">10.00 EUR<' in page and 'id="credited">2.50 EUR<' in page
    assert 'id="state">SUCCESS<' in page and 'id="ref-nr" class="mono">R-1<' in page
    assert 'id="url-notify">https://shop.example/notify<' in page
    assert "https://shop.example/ok" in page and "https://shop.example/no" in page
    assert f'data-xid="{a_step().xid}"' in page
    assert "HTTP 500" in page and "HTTP 502" in page and "notify-dead" in page
    assert 'class="resend"' in page  # not delivered: it can be sent again
    assert 'data-hop="payment" data-name="SUCCESS"' in page


def test_an_unknown_payment_is_a_404_page(served: Served) -> None:
    served.login()
    response = served.http.get(f"{served.url}/payments/{'0' * 32}")
    assert response.status_code == 404 and "No such payment" in response.text


def test_the_overview_shows_activity_amounts_backlog_ages_and_attention(served: Served) -> None:
    paid, open_one = _seed(served, 2)
    _dead_notification(served, paid)

    async def make_open(stores: Stores) -> None:
        await stores.payments.mark_open(
            open_one, PaymentState.PENDING, now=served.clock(), from_states=OPEN_STATES
        )

    served.with_stores(make_open)
    served.login()
    for window in ("24h", "7d", "30d", "nonsense"):
        page = served.http.get(f"{served.url}/?window={window}")
        assert page.status_code == 200
        assert 'id="total-created">2<' in page.text and 'id="total-paid">1<' in page.text
        assert 'id="success-rate">100.0 %<' in page.text
        assert 'data-currency="EUR"><td>EUR</td><td class="num">2</td>' in page.text
        assert 'id="notify-dead">1<' in page.text
        assert '<svg id="activity-chart"' in page.text and '<rect class="paid"' in page.text
        assert '<svg id="age-chart"' in page.text and "under 60 s: 1" in page.text
        assert "dead URLNotify deliveries" in page.text


def _operator_events(served: Served, pay_id: str) -> list[tuple[str, str, str | None]]:
    async def work(stores: Stores) -> list[tuple[str, str, str | None]]:
        return [
            (e.name, e.actor, e.outcome)
            for e in await stores.journal.timeline(pay_id)
            if e.hop is Hop.OPERATOR
        ]

    return served.with_stores(work)


def test_resend_all_dead_requeues_them_journalled_with_the_operator_and_they_are_tried_again(
    served: Served,
) -> None:
    (pay_id,) = _seed(served, 1)
    _dead_notification(served, pay_id)
    served.login()
    page = served.http.get(f"{served.url}/notifications?show=dead")
    assert f'data-pay-id="{pay_id}"' in page.text
    response = served.http.post(
        f"{served.url}/notifications/resend",
        data={"csrf": served.csrf(), "all_dead": "1", "back": "/console/notifications?show=dead"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/notifications?show=dead&requeued=1"
    assert _operator_events(served, pay_id) == [("resend notify", "alice", "SUCCESS")]

    def attempts() -> str | None:
        page = served.http.get(f"{served.url}/payments/{pay_id}").text
        found = re.search(r'class="attempt-count">(\d+)<', page)
        return found.group(1) if found and found.group(1) == "3" else None

    # The shop's host does not resolve here, so the new attempt fails: and it is dead again.
    wait_until(attempts, message="the requeued notification was never tried again")


def test_resend_of_ticked_notifications_goes_back_where_it_came_from(served: Served) -> None:
    (pay_id,) = _seed(served, 1)
    _dead_notification(served, pay_id)
    served.login()
    page = served.http.get(f"{served.url}/notifications").text
    (notification_id,) = re.findall(r'name="ids" value="(\d+)"', page)
    response = served.http.post(
        f"{served.url}/notifications/resend",
        data={"csrf": served.csrf(), "ids": notification_id, "back": "https://evil.example/"},
    )
    assert response.headers["location"] == "/console/?requeued=1"


def test_reconcile_now_settles_the_payment_and_the_page_says_so(served: Served) -> None:
    (pay_id,) = _seed(served, 1, state=PaymentState.PENDING)
    served.alipay.answer = Answer(
        body=result_body(
            "S",
            "SUCCESS",
            paymentRequestId=pay_id,
            paymentId="A-9",
            paymentResult={"resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "ok"},
            paymentAmount={"value": "1000", "currency": "EUR"},
        )
    )
    served.login()
    response = served.http.post(
        f"{served.url}/payments/{pay_id}/reconcile",
        data={"csrf": served.csrf(f"/payments/{pay_id}")},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Reconciled: the payment is SUCCESS." in response.text
    assert 'id="state">SUCCESS<' in response.text
    assert 'data-hop="operator" data-name="reconcile now"' in response.text
    assert _operator_events(served, pay_id) == [("reconcile now", "alice", "SUCCESS")]
