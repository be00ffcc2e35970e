"""inquire.aspx requests per second on PostgreSQL with one adapter instance, then with two
(issue 10): the same prepared inquiries about paid payments, wrk at the same connections per
instance; with two, one wrk per instance at once and their rates added.

    python -m tests.bench.instances --seconds 10 --connections 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from adapter.model import PaymentState, ShopDetails
from adapter.store import tables
from adapter.store.db import migrate
from tests.bench.adapter_config import adapter_command, write_adapter_config
from tests.bench.bodies import inquiries
from tests.bench.processes import running
from tests.bench.stores import complete_row
from tests.bench.world import AMOUNT, CURRENCY, World
from tests.bench.wrk import LUA, Load, run_wrk, write_requests
from tests.support.postgres import POSTGRES_URL, create_database, drop_database
from tests.support.servers import free_port

PAYMENTS = 10_000


async def _fill(database_url: str, world: World) -> list[str]:
    """Paid payments the inquiries ask about, stored through the adapter's own tables."""
    now = datetime.now(UTC)
    details = json.dumps(
        asdict(ShopDetails(f"{world.shop_url}/ok", f"{world.shop_url}/no", "")),
        separators=(",", ":"),
    )
    pay_ids = [secrets.token_hex(16) for _ in range(PAYMENTS)]
    rows = [
        complete_row(
            tables.payments,
            {
                "pay_id": pay_id,
                "merchant_id": world.merchant_id,
                "trans_id": f"I-{n}",
                "xid": secrets.token_hex(16),
                "amount": AMOUNT,
                "currency": CURRENCY,
                "state": PaymentState.SUCCESS.value,
                "result_code": "SUCCESS",
                "details": details,
                "cancel_requested": False,
                "created_at": now,
                "updated_at": now,
                "next_check_at": now,
            },
            now,
        )
        for n, pay_id in enumerate(pay_ids)
    ]
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(tables.payments), rows)
    await engine.dispose()
    return pay_ids


def _load(work: Path, url: str, requests: Path, prepared: int, args: argparse.Namespace) -> Load:
    script = work / "inquire.lua"
    script.write_text(LUA)
    return run_wrk(
        script,
        f"{url}/inquire.aspx",
        requests,
        work / f"samples-{url.rsplit(':', 1)[1]}.tsv",
        prepared=prepared,
        seconds=args.seconds,
        connections=args.connections,
        sample_every=1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    print(f"inquire.aspx on PostgreSQL ({POSTGRES_URL}), {PAYMENTS} paid payments", flush=True)
    database_url = asyncio.run(create_database())
    try:
        with tempfile.TemporaryDirectory(prefix="paygate-instances-") as tmp, ExitStack() as stack:
            work = Path(tmp)
            world = World.create("http://127.0.0.1:9", "http://127.0.0.1:9")
            asyncio.run(migrate(database_url))
            pay_ids = asyncio.run(_fill(database_url, world))
            requests = work / "requests.tsv"
            prepared = write_requests(requests, inquiries(world, pay_ids, 200_000, None))
            urls = []
            for name in ("a", "b"):
                port = free_port()
                config = write_adapter_config(work / name, world, port, database_url)
                url = f"http://127.0.0.1:{port}"
                stack.enter_context(
                    running(name, adapter_command(config, port), url, "/healthz", work)
                )
                urls.append(url)
            one = _load(work, urls[0], requests, prepared, args)
            print(f"  one instance:  {one.rps:8.1f} req/s  p50 {one.p50_ms:.2f} ms", flush=True)
            with ThreadPoolExecutor(2) as pool:
                both = list(pool.map(lambda u: _load(work, u, requests, prepared, args), urls))
            total = sum(load.rps for load in both)
            p50s = " / ".join(f"{load.p50_ms:.2f}" for load in both)
            print(f"  two instances: {total:8.1f} req/s  p50 {p50s} ms  ({total / one.rps:.2f}x)")
    finally:
        asyncio.run(drop_database(database_url))


if __name__ == "__main__":
    main()
