"""The merchant allowlist: the only thing that vouches for URLSuccess/URLFailure/URLNotify.

The MAC covers neither the URLs nor anything but PayID, TransID, MerchantID, Amount and
Currency, and Blowfish-ECB blocks can be spliced between messages, so a URL is trusted only
when its host is on the merchant's list (DESIGN §3 Security).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from adapter.config import Merchant
from adapter.paygate.errors import Category, PaygateError


def _is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
    return address.is_private or address.is_loopback or address.is_link_local


def check_shop_url(merchant: Merchant, url: str, parameter: str) -> None:
    """Raise PaygateError(NOT_ALLOWED) unless ``url`` may receive shoppers or notifies."""
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if merchant.allow_http else ("https",)
    if parts.scheme.lower() not in allowed_schemes:
        raise PaygateError(
            Category.NOT_ALLOWED, parameter, f"{parameter} must use {' or '.join(allowed_schemes)}"
        )
    if parts.username or parts.password:
        raise PaygateError(
            Category.NOT_ALLOWED, parameter, f"{parameter} must not carry credentials"
        )
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise PaygateError(Category.FORMAT, parameter, f"{parameter} has an invalid port") from None
    if not host or not merchant.host_allowed(host, port):
        raise PaygateError(
            Category.NOT_ALLOWED,
            parameter,
            f"the host of {parameter} is not on the merchant's list",
        )
    if _is_private(host) and not merchant.allow_private_targets:
        raise PaygateError(
            Category.NOT_ALLOWED, parameter, f"{parameter} points to a private address"
        )
