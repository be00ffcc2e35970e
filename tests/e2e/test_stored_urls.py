"""A shop URL stored with a payment is used only while the merchant's allowlist still admits it."""

from __future__ import annotations

import httpx

from adapter.config import Merchant
from tests.e2e.conftest import Stack


def _allow_only(stack: Stack, hosts: tuple[str, ...]) -> None:
    """Change the running adapter's allowlist (its settings object is the stack's)."""
    merchants = stack.settings.merchants
    shop: Merchant = merchants[stack.shop.merchant_id]
    assert isinstance(merchants, dict)
    changed = shop.model_copy(update={"allowed_hosts": hosts})
    changed.__dict__.pop("allowlist", None)  # the copy would keep the cached old one
    merchants[shop.merchant_id] = changed


def test_a_return_to_a_url_taken_off_the_allowlist_shows_the_error_page(stack: Stack) -> None:
    pay_id = stack.paid_payment("T-OFF")
    (token,) = stack.return_tokens()
    _allow_only(stack, ("shop.example",))
    answer = httpx.get(f"{stack.adapter_url}/alipayplus/return/{token}")
    assert answer.status_code == 404
    assert "not on the merchant" in answer.text
    assert stack.state_of(pay_id) == "SUCCESS"  # the payment itself is untouched


def test_a_repeated_checkout_of_a_final_payment_rechecks_the_stored_url(stack: Stack) -> None:
    stack.paid_payment("T-AGAIN")
    request = stack.shop.request(stack.payment_fields("T-AGAIN", "10000"))
    _allow_only(stack, (stack.shop_url.removeprefix("http://"), "shop.example"))
    again = httpx.post(f"{stack.adapter_url}/alipayplus.aspx", data=request)
    assert again.status_code in (200, 303)  # still admitted: the result is delivered
    _allow_only(stack, ("shop.example",))
    refused = httpx.post(f"{stack.adapter_url}/alipayplus.aspx", data=request)
    assert refused.status_code == 400
    assert "not on the merchant" in refused.text
