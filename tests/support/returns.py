"""Reading a browser return the way the shop's browser gets it, whichever method the merchant
uses: a 303 GET to URLSuccess/URLFailure with the result in the query (``return_method: get``,
the default), or the auto-submitting POST form (``return_method: post``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from tests.support.shop import parse_result_form


@dataclass(frozen=True)
class ShopReturn:
    method: Literal["get", "post"]
    url: str  # URLSuccess or URLFailure, without the query the result travels in
    pairs: list[tuple[str, str]]  # Len, Data, the Custom pairs, Plain


def shop_return(response: httpx.Response) -> ShopReturn:
    """The result an adapter response sends the browser on to the shop with."""
    if response.status_code == 303:
        location = httpx.URL(response.headers["location"])
        url = str(location.copy_with(query=None))
        return ShopReturn("get", url, list(location.params.multi_items()))
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    url, pairs = parse_result_form(response.text)
    return ShopReturn("post", url, pairs)


def follow_return(client: httpx.Client, return_url: str) -> ShopReturn:
    """Open the adapter's return URL (where Alipay+ sends the shopper back) like a browser."""
    return shop_return(client.get(return_url))
