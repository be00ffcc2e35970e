"""The shop's URLs: what may receive shoppers (URLSuccess, URLFailure, URLBack) and notifies
(URLNotify).

The MAC covers nothing but PayID, TransID, MerchantID, Amount and Currency, and Blowfish-ECB
blocks can be spliced between messages, so a URL is trusted only when the merchant's allowlist
admits it (docs/design.md#security). A URL is used exactly as it was validated: the string
checked is the string redirected or posted to.

URLNotify is the one the adapter itself connects to, so its host is also resolved, and every
address it has must be globally routable unicast (unless the merchant allows private targets).
The outbox checks it again before every delivery and connects to the address it checked.
"""

from __future__ import annotations

from adapter.config import Merchant
from adapter.net.errors import InvalidUrl, TargetRefused
from adapter.net.guard import check_host, check_without_lookup, target_policy
from adapter.net.resolver import Resolver
from adapter.net.urls import ShopUrl, parse_shop_url
from adapter.paygate.errors import Category, PaygateError


def allowed_url(merchant: Merchant, text: str, parameter: str) -> ShopUrl:
    """``text`` as a URL the merchant's allowlist admits, with no lookup; PaygateError if not."""
    try:
        url = parse_shop_url(text)
    except InvalidUrl as error:
        raise PaygateError(Category.FORMAT, parameter, f"{parameter} {error.reason}") from None
    if url.scheme == "http" and not merchant.allow_http:
        raise PaygateError(Category.NOT_ALLOWED, parameter, f"{parameter} must use https")
    if not merchant.allowlist.admits(url):
        # Before any lookup: the adapter never resolves names the shop may not use.
        raise PaygateError(
            Category.NOT_ALLOWED,
            parameter,
            f"the host of {parameter} is not on the merchant's list",
        )
    try:
        check_without_lookup(url.host, target_policy(merchant.allow_private_targets))
    except TargetRefused as error:
        raise PaygateError(Category.NOT_ALLOWED, parameter, f"{parameter} {error.reason}") from None
    return url


async def notify_target(
    merchant: Merchant, text: str, resolver: Resolver, parameter: str = "URLNotify"
) -> ShopUrl:
    """:func:`allowed_url`, and every address its host resolves to admitted right now."""
    url = allowed_url(merchant, text, parameter)
    try:
        await check_host(
            url.host, url.port, resolver, target_policy(merchant.allow_private_targets)
        )
    except TargetRefused as error:
        raise PaygateError(Category.NOT_ALLOWED, parameter, f"{parameter} {error.reason}") from None
    return url
