"""The whole checkout chain over real HTTP: shop → adapter → Alipay+ sandbox → adapter → shop."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from adapter.paygate.fields import Fields
from tests.e2e.conftest import HTTP_TIMEOUT, Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.support.forms import form_for_button
from tests.support.returns import ShopReturn, follow_return, shop_return
from tests.support.shop import Received


def _start(stack: Stack, client: httpx.Client, trans_id: str) -> str:
    """Post the shop's encrypted request; the adapter answers 303 to the Alipay+ checkout."""
    response = client.post(
        f"{stack.adapter_url}/alipayplus.aspx",
        data=stack.shop.request(stack.payment_fields(trans_id)),
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _click(client: httpx.Client, checkout_url: str, button: str) -> str:
    """Open the checkout page and press Pay or Decline; returns our return URL."""
    page = client.get(checkout_url)
    assert page.status_code == 200
    action, pairs = form_for_button(page.text, button)
    response = client.post(urljoin(checkout_url, action), data=dict(pairs))
    assert response.status_code == 303
    return response.headers["location"]


def _result(
    stack: Stack, client: httpx.Client, return_url: str
) -> tuple[str, Fields, dict[str, str]]:
    """Where the browser return goes, the decoded result and the outer pairs, by any method."""
    returned = follow_return(client, return_url)
    return returned.url, stack.shop.decode(returned.pairs), dict(returned.pairs)


def test_paid_checkout_reaches_url_success_and_one_url_notify(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-PAY"), "pay")
        url, fields, outer = _result(stack, client, return_url)
    assert url == f"{stack.shop_url}/success"
    assert (fields["Status"], fields["Code"], fields["Description"]) == (
        "OK",
        "00000000",
        "success",
    )
    assert (fields["TransID"], fields["refnr"], fields["UserData"]) == (
        "T-PAY",
        "R-T-PAY",
        "basket-7",
    )
    assert (outer["session"], outer["lang"]) == ("abc", "de")
    (notify,) = stack.settled_notifies(fields["PayID"])
    assert notify["Status"] == "OK"
    assert len(stack.received.notifies) == 1


def test_declined_checkout_reaches_url_failure_with_failed(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-DECLINE"), "decline")
        url, fields, _ = _result(stack, client, return_url)
    assert url == f"{stack.shop_url}/failure"
    assert fields["Status"] == "FAILED"
    assert fields["Code"].startswith("2")
    (notify,) = stack.settled_notifies(fields["PayID"])
    assert (notify["Status"], notify["Code"]) == ("FAILED", fields["Code"])


def test_abandoned_checkout_returns_authorize_request_with_pending_code(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        checkout_url = _start(stack, client, "T-LEAVE")
        client.get(checkout_url)
        (token,) = stack.return_tokens()
        url, fields, _ = _result(stack, client, f"{stack.adapter_url}/alipayplus/return/{token}")
    assert url == f"{stack.shop_url}/success"
    assert fields["Status"] == "AUTHORIZE_REQUEST"
    assert fields["Code"].startswith("6")
    # Still open, so no notification is queued (it would be, with the final state).
    assert stack.state_of(fields["PayID"]) == "PENDING"
    assert stack.notifications_of(fields["PayID"]) == []
    assert stack.received.notifies == []


def test_get_request_from_a_redirecting_shop_starts_the_checkout(stack: Stack) -> None:
    form = stack.shop.request(stack.payment_fields("T-GET"))
    response = httpx.get(f"{stack.adapter_url}/AlipayPlus.aspx", params=form)
    assert response.status_code == 303
    assert response.headers["location"].startswith(stack.sandbox_url)


def test_repeated_trans_id_resumes_the_pending_payment(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        first = _start(stack, client, "T-AGAIN")
        second = _start(stack, client, "T-AGAIN")
    assert first == second
    assert len(stack.stored_pay_ids()) == 1


def test_repeated_trans_id_with_another_amount_is_refused_as_duplicate(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _start(stack, client, "T-DUP")
        response = client.post(
            f"{stack.adapter_url}/alipayplus.aspx",
            data=stack.shop.request(stack.payment_fields("T-DUP", amount="999")),
        )
    assert response.status_code == 400
    assert '<code id="code">20170005</code>' in response.text
    assert len(stack.stored_pay_ids()) == 1


def test_by_default_the_browser_return_is_a_303_with_the_result_in_the_query(
    stack: Stack,
) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-303"), "pay")
        response = client.get(return_url)
    assert response.status_code == 303
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(f"{stack.shop_url}/success?")
    assert [name for name, _ in location.params.multi_items()] == ["Len", "Data", "session", "lang"]
    fields = stack.shop.decode(list(location.params.multi_items()))
    assert fields["Status"] == "OK"
    assert (location.params["session"], location.params["lang"]) == ("abc", "de")


@pytest.fixture
def post_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose merchant keeps the auto-submitting POST form (``return_method: post``)."""
    received = Received()
    with running_stack(
        tmp_path,
        shop_factory(received),
        received,
        merchant_settings={"return_method": "post"},
    ) as running:
        yield running


_SCRIPT_NONCE = re.compile(r'<script nonce="([^"]+)">')


def _assert_auto_submitting_form(response: httpx.Response, url: str) -> ShopReturn:
    """The form posts to ``url`` and only its own script, named by the CSP nonce, may run."""
    assert response.status_code == 200, response.text
    nonces = _SCRIPT_NONCE.findall(response.text)
    assert len(nonces) == 1
    csp = response.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonces[0]}';" in csp
    assert "form-action *" in csp
    returned = shop_return(response)
    assert (returned.method, returned.url) == ("post", url)
    return returned


def test_a_merchant_with_return_method_post_gets_the_auto_submitting_form(
    post_stack: Stack,
) -> None:
    stack = post_stack
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-POST"), "pay")
        first = client.get(return_url)
        again = client.get(return_url)
    returned = _assert_auto_submitting_form(first, f"{stack.shop_url}/success")
    assert [name for name, _ in returned.pairs] == ["Len", "Data", "session", "lang"]
    fields = stack.shop.decode(returned.pairs)
    assert (fields["Status"], fields["TransID"]) == ("OK", "T-POST")
    # A fresh nonce on every page: a nonce an attacker saw once is worth nothing.
    assert _SCRIPT_NONCE.findall(first.text) != _SCRIPT_NONCE.findall(again.text)


def test_a_declined_checkout_posts_the_failure_to_url_failure_for_a_post_merchant(
    post_stack: Stack,
) -> None:
    stack = post_stack
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-POST-NO"), "decline")
        response = client.get(return_url)
    returned = _assert_auto_submitting_form(response, f"{stack.shop_url}/failure")
    assert stack.shop.decode(returned.pairs)["Status"] == "FAILED"
