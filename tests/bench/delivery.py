"""Benchmark: what one URLNotify POST costs the adapter's process, next to notifyPayment's floor.

notifyPayment's floor (``tests.bench.floor``) verifies, updates one row and signs the ack. The
adapter must also deliver the shop's URLNotify for the final state, one HTTP POST per payment.
This measures that POST alone, in this process: the adapter's guarded client (a checked, pinned
connection per delivery) and, for comparison, a pooled keep-alive httpx client, both posting a
URLNotify-sized body to the benchmark's shop with 8 deliveries in flight, as the outbox sends
them. Figures, not assertions.

Run: ``.venv/bin/python -m tests.bench.delivery [--posts 2000] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpcore
import httpx
import uvloop

from adapter.net.guard import target_policy
from adapter.net.resolver import SystemResolver
from adapter.net.transport import guarded_client
from tests.bench.processes import running

BODY = b"MerchantID=BenchShop&Len=208&Data=" + b"0A" * 208
IN_FLIGHT = 8


async def _cpu_per_post(client: httpx.AsyncClient, url: str, posts: int) -> tuple[float, float]:
    """Process CPU and wall time per POST, in microseconds."""

    async def post() -> None:
        response = await client.post(
            url, content=BODY, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        response.raise_for_status()

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(posts // IN_FLIGHT):
        await asyncio.gather(*(post() for _ in range(IN_FLIGHT)))
    done = posts // IN_FLIGHT * IN_FLIGHT
    return (time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6


async def _measure(shop_url: str, posts: int, rounds: int) -> None:
    clients = {
        "guarded (the adapter's)": guarded_client(
            SystemResolver(), target_policy(True), timeout=httpx.Timeout(10.0)
        ),
        "guarded on anyio": guarded_client(
            SystemResolver(),
            target_policy(True),
            timeout=httpx.Timeout(10.0),
            network_backend=httpcore.AnyIOBackend(),
        ),
        "pooled keep-alive httpx": httpx.AsyncClient(
            trust_env=False, limits=httpx.Limits(max_connections=IN_FLIGHT)
        ),
    }
    url = f"{shop_url}/notify"
    for client in clients.values():  # warm up: imports, first connections
        await _cpu_per_post(client, url, IN_FLIGHT * 4)
    for round_number in range(1, rounds + 1):
        for name, client in clients.items():
            cpu, wall = await _cpu_per_post(client, url, posts)
            print(
                f"round {round_number}  {name:<24} CPU {cpu:7.0f} µs/POST  wall {wall:7.0f} µs/POST"
            )
    for client in clients.values():
        await client.aclose()


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
