"""The shopper's side: the checkout page behind normalUrl, Pay and Decline.

As docs/alipayplus.md#state-machine describes it.
"""

from __future__ import annotations

from typing import Any

from tests.sandbox.harness import REDIRECT_URL, Acqp, Receiver, Sim, pay_body


async def open_checkout(acqp: Acqp, payment_request_id: str, **pay: Any) -> str:
    answer = await acqp.call("pay", pay_body(payment_request_id, **pay))
    url: str = answer.get("normalUrl") or answer["paymentData"]
    return url


async def test_the_page_shows_merchant_amount_and_description_with_stable_buttons(
    acqp: Acqp,
) -> None:
    url = await open_checkout(acqp, "p1", value="123456")
    page = await acqp.http.get(url)
    assert page.status_code == 200
    assert "Coffee &amp; Co" in page.text
    assert '<span id="amount">1,234.56</span> <span id="currency">EUR</span>' in page.text
    assert "2 cups of coffee" in page.text
    assert 'id="pay"' in page.text
    assert 'id="decline"' in page.text


async def test_zero_decimal_currencies_are_shown_without_decimals(acqp: Acqp) -> None:
    page = await acqp.http.get(await open_checkout(acqp, "p1", value="1500", currency="JPY"))
    assert '<span id="amount">1,500</span>' in page.text


async def test_the_merchant_name_is_html_escaped(acqp: Acqp) -> None:
    body = pay_body("p1")
    body["order"]["merchant"]["merchantName"] = "<script>x</script>"
    answer = await acqp.call("pay", body)
    page = await acqp.http.get(answer["normalUrl"])
    assert "<script>x" not in page.text
    assert "&lt;script&gt;x" in page.text


async def test_opening_the_page_moves_the_payment_to_processing(acqp: Acqp, sim: Sim) -> None:
    await acqp.http.get(await open_checkout(acqp, "p1"))
    assert (await sim.payment("p1"))["state"] == "PROCESSING"


async def test_pay_succeeds_and_redirects_to_the_payment_redirect_url(acqp: Acqp, sim: Sim) -> None:
    url = await open_checkout(acqp, "p1")
    response = await acqp.http.post(url, data={"action": "pay"})
    assert response.status_code == 303
    assert response.headers["location"] == REDIRECT_URL
    ledger = await sim.payment("p1")
    assert ledger["state"] == "SUCCESS"
    assert ledger["paymentTime"] is not None


async def test_decline_fails_with_the_decline_code_and_redirects(acqp: Acqp, sim: Sim) -> None:
    url = await open_checkout(acqp, "p1")
    response = await acqp.http.post(url, data={"action": "decline"})
    assert (response.status_code, response.headers["location"]) == (303, REDIRECT_URL)
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["resultCode"]) == ("FAIL", "USER_PAYMENT_VERIFICATION_FAILED")


async def test_the_app_flow_can_be_paid_through_payment_data(acqp: Acqp, sim: Sim) -> None:
    url = await open_checkout(acqp, "p1", terminal="APP")
    await acqp.http.post(url, data={"action": "pay"})
    assert (await sim.payment("p1"))["state"] == "SUCCESS"


async def test_pay_sends_a_signed_success_notification(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    url = await open_checkout(acqp, "p1")
    await acqp.http.post(url, data={"action": "pay"})
    await sim.acked("p1")
    (delivery,) = receiver.deliveries
    assert delivery.verified
    assert delivery.body["paymentResult"]["resultStatus"] == "S"


async def test_without_a_redirect_url_the_shopper_lands_on_the_final_page(
    acqp: Acqp, sim: Sim
) -> None:
    url = await open_checkout(acqp, "p1", paymentRedirectUrl=None)
    response = await acqp.http.post(url, data={"action": "decline"})
    assert response.headers["location"] == url.removeprefix(acqp.base_url)
    page = await acqp.http.get(url)
    assert 'data-state="FAIL"' in page.text
    assert 'id="pay"' not in page.text


async def test_a_post_on_a_decided_payment_only_redirects(acqp: Acqp, sim: Sim) -> None:
    url = await open_checkout(acqp, "p1")
    await acqp.http.post(url, data={"action": "decline"})
    response = await acqp.http.post(url, data={"action": "pay"})
    assert (response.status_code, response.headers["location"]) == (303, REDIRECT_URL)
    assert (await sim.payment("p1"))["state"] == "FAIL"


async def test_a_post_on_a_cancelled_payment_leaves_it_cancelled(acqp: Acqp, sim: Sim) -> None:
    url = await open_checkout(acqp, "p1")
    await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    response = await acqp.http.post(url, data={"action": "pay"})
    assert response.status_code == 303
    assert (await sim.payment("p1"))["state"] == "CANCELLED"


async def test_an_unknown_checkout_token_is_404(acqp: Acqp) -> None:
    assert (await acqp.http.get(f"{acqp.base_url}/checkout/nope")).status_code == 404
    response = await acqp.http.post(f"{acqp.base_url}/checkout/nope", data={"action": "pay"})
    assert response.status_code == 404


async def test_a_post_without_a_valid_action_is_400_and_changes_nothing(
    acqp: Acqp, sim: Sim
) -> None:
    url = await open_checkout(acqp, "p1")
    assert (await acqp.http.post(url, data={"action": "steal"})).status_code == 400
    assert (await sim.payment("p1"))["state"] == "INIT"
