"""Who gets into the console: off unless configured, strangers get no data, logins with signed
cookies, throttling with a lockout that says when to retry, CSRF on every action, headers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapter.console.site import CONTENT_POLICY
from adapter.model import Hop
from tests.console.conftest import Served, Stores, serving
from tests.support.console import (
    OPERATOR,
    OTHER_OPERATOR,
    PASSWORD,
    console_section,
    password_hash,
)
from tests.support.models import a_payment

PAY_ID = a_payment().pay_id
PAGES = ["/", "/payments", f"/payments/{PAY_ID}", "/notifications", "/payments?q=T-1"]
ACTIONS = [f"/payments/{PAY_ID}/reconcile", "/notifications/resend", "/logout"]


def _store_payment(served: Served) -> None:
    async def work(stores: Stores) -> None:
        await stores.payments.insert(a_payment(created_at=served.clock()))

    served.with_stores(work)


def test_without_operators_the_console_does_not_exist(tmp_path: Path) -> None:
    with serving(tmp_path, console={}) as served:
        for path in ["/", "/login", "/payments", "/static/console.css"]:
            assert served.http.get(f"{served.url}{path}").status_code == 404
        assert served.http.post(f"{served.url}/login").status_code == 404


def test_a_stranger_is_sent_to_the_login_page_and_sees_no_data(served: Served) -> None:
    _store_payment(served)
    for path in PAGES:
        response = served.http.get(f"{served.url}{path}")
        assert response.status_code == 303, path
        location = response.headers["location"]
        assert location.startswith("/console/login?next=%2Fconsole%2F"), location
        assert PAY_ID not in response.text and "T-1" not in response.text
    login = served.http.get(f"{served.url}/login?next=%2Fconsole%2Fpayments")
    assert login.status_code == 200 and PAY_ID not in login.text


def test_a_stranger_s_action_is_refused_and_changes_nothing(served: Served) -> None:
    _store_payment(served)
    for path in ACTIONS:
        response = served.http.post(f"{served.url}{path}", data={"csrf": "x", "all_dead": "1"})
        assert response.status_code == 403, path
        assert "Log in first" in response.text
    assert served.alipay.requests == []


def test_a_forged_or_tampered_session_cookie_is_no_session(served: Served) -> None:
    assert served.login().status_code == 303
    cookie = served.http.cookies["paygate_console"]
    served.http.cookies.clear()
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    served.http.cookies.set("paygate_console", tampered, domain="127.0.0.1", path="/console")
    assert served.http.get(f"{served.url}/").status_code == 303


def test_an_operator_logs_in_with_a_signed_strict_http_only_cookie_and_out_again(
    served: Served,
) -> None:
    response = served.login(wanted="/console/payments?state=SUCCESS")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/payments?state=SUCCESS"
    cookie = next(
        value
        for name, value in response.headers.multi_items()
        if name == "set-cookie" and value.startswith("paygate_console=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= attributes
    assert "secure" not in attributes  # the adapter's public URL is http here
    overview = served.http.get(f"{served.url}/")
    assert overview.status_code == 200 and f'id="operator">{OPERATOR}<' in overview.text

    logout = served.http.post(f"{served.url}/logout", data={"csrf": served.csrf()})
    assert logout.status_code == 303 and logout.headers["location"] == "/console/login"
    assert served.http.get(f"{served.url}/").status_code == 303


def test_the_cookies_are_secure_when_the_adapter_is_served_over_https(tmp_path: Path) -> None:
    with serving(tmp_path, secure=True) as served:
        login_page = served.http.get(f"{served.url}/login")
        assert "secure" in login_page.headers["set-cookie"].lower()


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(served: Served) -> None:
    wrong = served.login(password="nope")
    unknown = served.login(name="mallory", password=PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong name or password." in response.text
        assert "paygate_console=" not in response.headers.get("set-cookie", "")


def test_a_login_form_not_from_the_console_is_refused(served: Served) -> None:
    response = served.http.post(
        f"{served.url}/login", data={"token": "forged", "name": OPERATOR, "password": PASSWORD}
    )
    assert response.status_code == 403 and "expired" in response.text
    assert served.http.get(f"{served.url}/").status_code == 303


@pytest.mark.parametrize(
    "wanted", ["https://evil.example/", "//evil.example/console/", "/elsewhere", "/console/\\x"]
)
def test_after_login_the_browser_stays_inside_the_console(served: Served, wanted: str) -> None:
    response = served.login(wanted=wanted)
    assert response.status_code == 303 and response.headers["location"] == "/console/"


def test_repeated_failures_for_a_name_lock_it_out_and_say_when_to_retry(tmp_path: Path) -> None:
    with serving(tmp_path, console=console_section(login_attempts=2, lockout_seconds=600)) as s:
        assert s.login(password="bad").status_code == 401
        locked = s.login(password="bad again")
        assert locked.status_code == 429
        assert "Too many failed logins." in locked.text and "Try again after" in locked.text
        assert 590 <= int(locked.headers["retry-after"]) <= 601
        refused = s.login()  # even the right password, while locked out
        assert refused.status_code == 429
        assert "paygate_console=" not in refused.headers.get("set-cookie", "")
        s.clock.ahead = timedelta(seconds=601)
        assert s.login().status_code == 303


def test_repeated_failures_from_one_address_lock_it_out_for_every_name(tmp_path: Path) -> None:
    with serving(tmp_path, console=console_section(login_attempts=3)) as served:
        for name in ("a", "b", "c"):
            served.login(name=name, password="bad")
        assert served.login().status_code == 429


def test_a_session_ends_after_its_lifetime(tmp_path: Path) -> None:
    with serving(tmp_path, console=console_section(session_hours=1)) as served:
        served.login()
        assert served.http.get(f"{served.url}/").status_code == 200
        served.clock.ahead = timedelta(minutes=61)
        assert served.http.get(f"{served.url}/").status_code == 303


def test_a_session_ends_when_the_operator_s_password_changes(tmp_path: Path) -> None:
    changed = console_section()
    changed["operators"][0]["password_hash"] = password_hash("a new password")
    with serving(tmp_path) as first:
        first.login()
        cookie = first.http.cookies["paygate_console"]
        secret = first.settings.token_secret
    with serving(tmp_path, console=changed) as second:
        assert second.settings.token_secret.reveal() == secret.reveal()  # same signing key
        second.http.cookies.set("paygate_console", cookie, domain="127.0.0.1", path="/console")
        assert second.http.get(f"{second.url}/").status_code == 303


def test_an_action_without_the_session_s_csrf_token_is_refused(served: Served) -> None:
    _store_payment(served)
    served.login()
    url = f"{served.url}/payments/{PAY_ID}/reconcile"
    with httpx.Client(timeout=30) as bob:
        alice = served.http
        served.http = bob
        served.login(name=OTHER_OPERATOR, password="bob's own password")
        bobs_token = served.csrf()
        served.http = alice
    for form in ({}, {"csrf": ""}, {"csrf": "not-the-token"}, {"csrf": bobs_token}):
        response = served.http.post(url, data=form)
        assert response.status_code == 403 and "not sent from this console" in response.text
    assert served.alipay.requests == []

    async def operator_events(stores: Stores) -> list[Hop]:
        return [e.hop for e in await stores.journal.timeline(PAY_ID) if e.hop is Hop.OPERATOR]

    assert served.with_stores(operator_events) == []
    accepted = served.http.post(url, data={"csrf": served.csrf()})
    assert accepted.status_code == 303


def test_every_console_answer_carries_a_strict_content_policy_and_is_not_cached(
    served: Served,
) -> None:
    served.login()
    for path in ["/", "/login", "/payments", "/notifications", f"/payments/{PAY_ID}"]:
        response = served.http.get(f"{served.url}{path}", follow_redirects=False)
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_POLICY, path
        assert "script-src" not in CONTENT_POLICY and "unsafe-inline" not in CONTENT_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert "<script" not in response.text and "style=" not in response.text
    css = served.http.get(f"{served.url}/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "svg.chart" in css.text


def test_the_rest_of_the_adapter_is_unchanged_by_the_console(served: Served) -> None:
    health = served.http.get(served.url.removesuffix("/console") + "/healthz")
    assert health.json() == {"status": "ok"}
    assert "content-security-policy" not in health.headers
