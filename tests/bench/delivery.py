"""Benchmark: what one outbound POST costs the adapter's process, by the way it is sent.

notifyPayment's floor (``tests.bench.floor``) verifies, updates one row and signs the ack. The
adapter must also deliver the shop's URLNotify for the final state, one HTTP POST per payment.
This measures such POSTs alone, in this process, 8 in flight as the outbox sends them, to the
benchmark's shop: the adapter's guarded poster called as the outbox calls it (each delivery
checked, on aiohttp with a pool kept for the same checked addresses), a pooled keep-alive httpx
client (what the floor's Alipay+ calls use), and the pooled aiohttp transport under the adapter's
Alipay+ client, called through httpx's request and response as that client calls it. Figures,
not assertions.

Run: ``.venv/bin/python -m tests.bench.delivery [--posts 2000] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvloop

from adapter.net.delivery import GuardedPoster
from adapter.net.guard import target_policy
from adapter.net.pooled import PooledTransport
from adapter.net.resolver import SystemResolver
from tests.bench.processes import running

BODY = b"MerchantID=BenchShop&Len=208&Data=" + b"0A" * 208
FORM = (("content-type", "application/x-www-form-urlencoded"),)
TIMEOUT = httpx.Timeout(10.0)
IN_FLIGHT = 8


Post = Callable[[], Awaitable[int]]  # the answer's HTTP status


def _through_client(client: httpx.AsyncClient, url: str) -> Post:
    async def post() -> int:
        return (await client.post(url, content=BODY, headers=dict(FORM))).status_code

    return post


def _as_the_outbox_sends(poster: GuardedPoster, url: str) -> Post:
    async def post() -> int:
        return await poster.post(url, BODY, FORM[0][1], TIMEOUT)

    return post


def _through_transport(transport: httpx.AsyncBaseTransport, url: str) -> Post:
    """As the Alipay+ client sends: an httpx request handed to the transport itself."""

    async def post() -> int:
        request = httpx.Request(
            "POST", url, content=BODY, headers=FORM, extensions={"timeout": TIMEOUT.as_dict()}
        )
        response = await transport.handle_async_request(request)
        await response.aread()
        return response.status_code

    return post


async def _cpu_per_post(post: Post, posts: int) -> tuple[float, float]:
    """Process CPU and wall time per POST, in microseconds."""

    async def checked() -> None:
        status = await post()
        if not 200 <= status < 300:
            raise SystemExit(f"the shop answered HTTP {status}")

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(posts // IN_FLIGHT):
        await asyncio.gather(*(checked() for _ in range(IN_FLIGHT)))
    done = posts // IN_FLIGHT * IN_FLIGHT
    return (time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6


async def _measure(shop_url: str, posts: int, rounds: int) -> None:
    url = f"{shop_url}/notify"
    guarded = GuardedPoster(SystemResolver(), target_policy(True))
    pooled = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=IN_FLIGHT))
    aiohttp_pool = PooledTransport(max_connections=IN_FLIGHT)
    posts_by_name = {
        "guarded (URLNotify)": _as_the_outbox_sends(guarded, url),
        "pooled keep-alive httpx": _through_client(pooled, url),
        "pooled aiohttp (Alipay+)": _through_transport(aiohttp_pool, url),
    }
    for post in posts_by_name.values():  # warm up: imports, first connections
        await _cpu_per_post(post, IN_FLIGHT * 4)
    for round_number in range(1, rounds + 1):
        for name, post in posts_by_name.items():
            cpu, wall = await _cpu_per_post(post, posts)
            print(
                f"round {round_number}  {name:<24} CPU {cpu:7.0f} µs/POST  wall {wall:7.0f} µs/POST"
            )
    for client in (guarded, pooled):
        await client.aclose()
    await aiohttp_pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=8013)
    args = parser.parse_args()
    print(
        "command: python -m tests.bench.delivery " + f"--posts {args.posts} --rounds {args.rounds}"
    )
    with tempfile.TemporaryDirectory(prefix="paygate-delivery-") as tmp:
        command = [sys.executable, "-m", "tests.bench.shop", "--port", str(args.port)]
        url = f"http://127.0.0.1:{args.port}"
        with running("shop", command, url, "/received", Path(tmp)):
            uvloop.run(_measure(url, args.posts, args.rounds))


if __name__ == "__main__":
    main()
