"""Adapter instances as real ``serve`` processes behind a proxy, with the sandbox and a shop.

The proxy stands for the load balancer in front of several instances: it sends each request to
the next instance that answers, and can strip a path prefix as a reverse proxy does.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import Select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from adapter.store.db import Database
from tests.support.processes import ServeProcess
from tests.support.sandbox import fast_sandbox
from tests.support.servers import free_port, reserve_port, serve
from tests.support.shop import Received, ShopKeys, create_test_shop

CLIENT_ID = "SANDBOX_INSTANCES"
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})


def create_proxy(upstreams: Sequence[str], strip_prefix: str = "") -> Starlette:
    """Forward every request to the next upstream that takes it, ``strip_prefix`` removed."""
    turn = itertools.cycle(range(len(upstreams)))
    client = httpx.AsyncClient(timeout=60, follow_redirects=False, trust_env=False)

    async def forward(request: Request) -> Response:
        path = request.url.path.removeprefix(strip_prefix) or "/"
        target = path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
        body = await request.body()
        first = next(turn)
        for n in range(len(upstreams)):
            upstream = upstreams[(first + n) % len(upstreams)]
            try:
                answer = await client.request(
                    request.method, upstream + target, headers=headers, content=body
                )
            except httpx.ConnectError:
                continue  # that instance is down: the next one
            except httpx.TransportError:
                return Response("the instance went away", 502)  # a POST is not re-sent
            kept = {k: v for k, v in answer.headers.items() if k not in _HOP_HEADERS}
            return Response(answer.content, answer.status_code, headers=kept)
        return Response("no instance answered", 502)

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


@dataclass
class Instances:
    config: Path
    database_url: str
    sandbox_url: str
    shop_url: str
    public_url: str  # the proxy, as shops, browsers and Alipay+ reach the adapter
    shop: ShopKeys
    received: Received
    adapters: list[ServeProcess]

    def sim(self, path: str, payload: object | None = None) -> Any:
        url = f"{self.sandbox_url}/_sim/{path}"
        response = httpx.get(url) if payload is None else httpx.post(url, json=payload)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def replace_faults(self, *faults: Mapping[str, object]) -> None:
        httpx.put(f"{self.sandbox_url}/_sim/faults", json=list(faults)).raise_for_status()

    def rows(self, query: Select[Any]) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            db = Database(self.database_url)
            try:
                return await db.read(
                    lambda conn: [dict(row) for row in conn.execute(query).mappings()]
                )
            finally:
                await db.dispose()

        return asyncio.run(read())

    def payment_fields(self, trans_id: str, amount: str = "1000") -> dict[str, str]:
        return {
            "MerchantID": self.shop.merchant_id,
            "TransID": trans_id,
            "Amount": amount,
            "Currency": "EUR",
            "OrderDesc": "Instances",
            "URLSuccess": f"{self.shop_url}/success",
            "URLFailure": f"{self.shop_url}/failure",
            "URLNotify": f"{self.shop_url}/notify",
            "Response": "encrypt",
        }


def _config(
    directory: Path,
    shop: ShopKeys,
    *,
    public_url: str,
    sandbox_url: str,
    shop_port: int,
    database_url: str,
    adapter_settings: Mapping[str, object],
) -> Path:
    data = {
        "adapter": {
            "public_url": public_url,
            "database_url": database_url,
            "token_secret": secrets.token_hex(16),
            **adapter_settings,
        },
        "alipayplus": {
            "gateway_url": sandbox_url,
            "client_id": CLIENT_ID,
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pub.pem"},
        },
        "merchants": [
            {
                "merchant_id": shop.merchant_id,
                "hmac_keys": [shop.hmac_key],
                "blowfish_key": shop.blowfish_key,
                "allowed_hosts": [f"127.0.0.1:{shop_port}"],
                "allow_http": True,
                "allow_private_targets": True,
                "alipay": {
                    "reference_merchant_id": "M-I",
                    "mcc": "5732",
                    "name": "Instances Shop",
                    "region": "DE",
                },
            }
        ],
    }
    path = directory / "adapter.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@contextmanager
def running_instances(
    directory: Path,
    database_url: str,
    *,
    count: int = 2,
    workers: int = 1,
    adapter_settings: Mapping[str, object] | None = None,
    public_prefix: str = "",
) -> Iterator[Instances]:
    """``count`` adapter processes (of ``workers`` each) on ``database_url`` behind one proxy
    (at ``public_prefix``)."""
    acqp, alipay = generate_private_key(), generate_private_key()
    (directory / "acqp.pem").write_text(private_key_pem(acqp))
    (directory / "alipay.pub.pem").write_text(public_key_pem(alipay.public_key()))
    shop = ShopKeys("InstShop", secrets.token_hex(16), secrets.token_hex(8))
    received = Received()
    sandbox_port, shop_port, proxy_port = reserve_port(), reserve_port(), reserve_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    public_url = f"http://127.0.0.1:{proxy_port}{public_prefix}"
    config = _config(
        directory,
        shop,
        public_url=public_url,
        sandbox_url=sandbox_url,
        shop_port=shop_port,
        database_url=database_url,
        adapter_settings=adapter_settings or {},
    )
    sandbox = fast_sandbox(CLIENT_ID, acqp.public_key(), alipay, sandbox_url, acquirer_id="ACQ-I")
    adapters = [ServeProcess(config, free_port(), workers) for _ in range(count)]
    with ExitStack() as stack:
        stack.enter_context(serve(sandbox, sandbox_port))
        shop_url = stack.enter_context(serve(create_test_shop(received), shop_port))
        for adapter in adapters:
            stack.callback(adapter.stop)
            stack.callback(adapter.print_output)
        for adapter in adapters:
            adapter.start()
        proxy = create_proxy([a.url for a in adapters], public_prefix)
        stack.enter_context(serve(proxy, proxy_port))
        yield Instances(
            config, database_url, sandbox_url, shop_url, public_url, shop, received, adapters
        )
