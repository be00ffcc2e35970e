"""Benchmark: alipayplus.aspx up to the 303, and the signed notifyPayment endpoint.

Run: ``.venv/bin/python -m tests.bench.checkout [--requests 400] [--concurrency 8]``

Starts the sandbox and the adapter (SQLite) as uvicorn servers on loopback, then drives them
with a bounded number of requests from an httpx client in this process, printing requests
per second and p50/p99 latency. Figures, not assertions: these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from tests.e2e.conftest import running_stack, test_shop_factory
from tests.support.shop import Received
from tests.support.waiting import wait_until_async


async def _drive(
    name: str, total: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> None:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            started = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    p50 = statistics.median(latencies)
    print(
        f"{name:<34} {total / elapsed:8.1f} req/s   p50 {p50 * 1000:7.2f} ms"
        f"   p99 {p99 * 1000:7.2f} ms   ({total} requests, concurrency {concurrency})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    received = Received()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), test_shop_factory(received), received) as stack,
    ):

        async def run() -> None:
            async with httpx.AsyncClient(timeout=30) as client:

                async def checkout(n: int) -> None:
                    form = stack.shop.request(stack.payment_fields(f"B-{n}"))
                    response = await client.post(f"{stack.adapter_url}/alipayplus.aspx", data=form)
                    assert response.status_code == 303, response.text

                await _drive("alipayplus.aspx -> 303", args.requests, args.concurrency, checkout)
                pay_ids = await asyncio.to_thread(stack.stored_pay_ids)
                for pay_id in pay_ids[: args.requests]:
                    await client.post(
                        f"{stack.sandbox_url}/_sim/payments/{pay_id}/complete", json={"status": "S"}
                    )
                # The measured sends repeat notifies the adapter has already applied.
                await wait_until_async(
                    lambda: asyncio.to_thread(lambda: set(stack.stored_states()) == {"SUCCESS"}),
                    timeout=120,
                    message="the paid payments did not all become SUCCESS",
                )

                async def notify(n: int) -> None:
                    pay_id = pay_ids[n % len(pay_ids)]
                    response = await client.post(
                        f"{stack.sandbox_url}/_sim/notifications/{pay_id}/send", json={}
                    )
                    assert response.json()["acked"], response.text

                await _drive(
                    "notifyPayment (via sandbox send)", args.requests, args.concurrency, notify
                )

        asyncio.run(run())


if __name__ == "__main__":
    main()
