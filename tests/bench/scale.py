"""Scale check: inquire.aspx with 10^3 and with 10^6 payments stored, RSS per worker.

Two more adapter processes, each on its own SQLite database filled (through the adapter's
own tables and migration) with that many paid payments, are measured alternately like the
main comparison; the inquiries ask about payments spread over the whole table.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from adapter.model import PaymentState
from adapter.store.db import migrate
from tests.bench.adapter_config import adapter_command, write_adapter_config
from tests.bench.measure import Bench, Run, run_line
from tests.bench.processes import running
from tests.bench.scenarios import Inquire, Side
from tests.bench.stores import AdapterStore, new_payments
from tests.bench.world import AMOUNT, CURRENCY, World
from tests.support.servers import free_port

SIZES = (10**3, 10**6)
SAMPLE = 2000  # payments asked about, chosen at random from all stored
FILL_CHUNK = 50_000
P50_GOAL = 1.2
RSS_GOAL_MB = 150


def fill(store: AdapterStore, count: int) -> list[str]:
    """Store ``count`` paid payments; returns :data:`SAMPLE` of their PayIDs at random."""
    chosen: list[str] = []
    for start in range(0, count, FILL_CHUNK):
        size = min(FILL_CHUNK, count - start)
        payments = new_payments(f"SCALE{start}", size, AMOUNT, CURRENCY, PaymentState.SUCCESS)
        store.add_payments(payments)
        # Reservoir sampling keeps the choice uniform over everything stored so far.
        for n, payment in enumerate(payments, start):
            if len(chosen) < SAMPLE:
                chosen.append(payment.pay_id)
            elif (slot := random.randrange(n + 1)) < SAMPLE:
                chosen[slot] = payment.pay_id
    return chosen


def _name(size: int) -> str:
    return f"10^{len(str(size)) - 1}"


def scale_check(
    bench: Bench, work: Path, world: World, upstream_url: str, seconds: int, pairs: int
) -> None:
    print(
        f"\n## Scale: inquire.aspx (paid, no ReqId) with {' and '.join(map(_name, SIZES))}"
        " payments stored, adapter only, 8 connections",
        flush=True,
    )
    scenario = Inquire(with_req_id=False)
    with ExitStack() as stack:
        sides = []
        for size in SIZES:
            name = _name(size)
            database = work / f"scale-{size}.sqlite3"
            database_url = f"sqlite+aiosqlite:///{database}"
            asyncio.run(migrate(database_url))
            store = AdapterStore(database, world)
            started = time.monotonic()
            bench.env.inquiry_pools[name] = fill(store, size)
            megabytes = database.stat().st_size / 2**20
            print(
                f"  filled {size:,} payments in {time.monotonic() - started:.1f} s"
                f" ({megabytes:,.0f} MB)",
                flush=True,
            )
            port = free_port()
            config = write_adapter_config(work / f"scale-{size}", world, port, database_url)
            server = stack.enter_context(
                running(
                    f"adapter-{size}",
                    adapter_command(config, port),
                    f"http://127.0.0.1:{port}",
                    "/healthz",
                    work,
                )
            )
            sides.append(Side(name, server, store))
        for side in sides:
            bench.warm_up(side, scenario)
        results: list[tuple[Run, Run]] = []
        for pair in range(1, pairs + 1):
            small, large = [bench.run(scenario, side, 8, f"sc{pair}{side.name}") for side in sides]
            for run in (small, large):
                print(run_line(pair, run), flush=True)
            growth = large.load.p50_ms / small.load.p50_ms
            print(f"  pair {pair}  p50 {large.side}/{small.side}: {growth:.2f}x", flush=True)
            results.append((small, large))
    ratio = statistics.median(big.load.p50_ms / small.load.p50_ms for small, big in results)
    rss = {
        side.name: max(r.rss_mb for pair in results for r in pair if r.side == side.name)
        for side in sides
    }
    print(
        f"  median p50 at {sides[1].name} = {ratio:.2f}x the p50 at {sides[0].name}"
        f" (goal <= {P50_GOAL});"
        f" peak RSS per worker: "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items())
        + f" (goal <= {RSS_GOAL_MB} MB)",
        flush=True,
    )
    sys.stdout.flush()
