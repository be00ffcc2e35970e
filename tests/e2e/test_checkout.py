"""The whole checkout chain over real HTTP: shop → adapter → Alipay+ sandbox → adapter → shop."""

from __future__ import annotations

import time
from urllib.parse import urljoin

import httpx

from adapter.paygate.fields import Fields
from tests.e2e.conftest import Stack
from tests.support.forms import form_for_button
from tests.support.shop import parse_result_form


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
    response = client.get(return_url)
    assert response.status_code == 200, response.text
    url, pairs = parse_result_form(response.text)
    return url, stack.shop.decode(pairs), dict(pairs)


def _wait_for_notifies(stack: Stack, count: int, seconds: float = 5.0) -> list[Fields]:
    deadline = time.monotonic() + seconds
    while len(stack.received.notifies) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return [stack.shop.decode(pairs) for pairs in stack.received.notifies]


def test_paid_checkout_reaches_url_success_and_one_url_notify(stack: Stack) -> None:
    with httpx.Client() as client:
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
    notifies = _wait_for_notifies(stack, 1)
    time.sleep(0.5)
    assert len(stack.received.notifies) == 1
    assert notifies[0]["PayID"] == fields["PayID"]
    assert notifies[0]["Status"] == "OK"


def test_declined_checkout_reaches_url_failure_with_failed(stack: Stack) -> None:
    with httpx.Client() as client:
        return_url = _click(client, _start(stack, client, "T-DECLINE"), "decline")
        url, fields, _ = _result(stack, client, return_url)
    assert url == f"{stack.shop_url}/failure"
    assert fields["Status"] == "FAILED"
    assert fields["Code"].startswith("2")
    (notify,) = _wait_for_notifies(stack, 1)
    assert (notify["Status"], notify["Code"]) == ("FAILED", fields["Code"])


def test_abandoned_checkout_returns_authorize_request_with_pending_code(stack: Stack) -> None:
    with httpx.Client() as client:
        checkout_url = _start(stack, client, "T-LEAVE")
        client.get(checkout_url)
        (token,) = stack.return_tokens()
        url, fields, _ = _result(stack, client, f"{stack.adapter_url}/alipayplus/return/{token}")
    assert url == f"{stack.shop_url}/success"
    assert fields["Status"] == "AUTHORIZE_REQUEST"
    assert fields["Code"].startswith("6")
    assert stack.received.notifies == []


def test_get_request_from_a_redirecting_shop_starts_the_checkout(stack: Stack) -> None:
    form = stack.shop.request(stack.payment_fields("T-GET"))
    response = httpx.get(f"{stack.adapter_url}/AlipayPlus.aspx", params=form)
    assert response.status_code == 303
    assert response.headers["location"].startswith(stack.sandbox_url)


def test_repeated_trans_id_resumes_the_pending_payment(stack: Stack) -> None:
    with httpx.Client() as client:
        first = _start(stack, client, "T-AGAIN")
        second = _start(stack, client, "T-AGAIN")
    assert first == second
    assert len(stack.stored_pay_ids()) == 1


def test_repeated_trans_id_with_another_amount_is_refused_as_duplicate(stack: Stack) -> None:
    with httpx.Client() as client:
        _start(stack, client, "T-DUP")
        response = client.post(
            f"{stack.adapter_url}/alipayplus.aspx",
            data=stack.shop.request(stack.payment_fields("T-DUP", amount="999")),
        )
    assert response.status_code == 400
    assert '<code id="code">20170005</code>' in response.text
    assert len(stack.stored_pay_ids()) == 1


def test_merchant_with_return_method_get_gets_a_303_with_len_and_data(stack: Stack) -> None:
    merchant = stack.settings.merchants[stack.shop.merchant_id]
    object.__setattr__(merchant, "return_method", "get")
    with httpx.Client() as client:
        return_url = _click(client, _start(stack, client, "T-303"), "pay")
        response = client.get(return_url)
    assert response.status_code == 303
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(f"{stack.shop_url}/success?")
    fields = stack.shop.decode(list(location.params.multi_items()))
    assert fields["Status"] == "OK"
    assert location.params["session"] == "abc"
