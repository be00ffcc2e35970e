"""How long the reconciler takes to settle a backlog of open payments (after an Alipay+ outage).

The adapter's database is filled with ``--payments`` PENDING payments, all due for a look, that
the fake Alipay+ knows as paid; the script then times how long ``paygate-adapter serve`` takes
until none is open, and prints the figure. ``--adapter-bin`` runs another checkout's adapter
(e.g. an older commit, to compare before and after); the rows are written through the table
definitions that database actually has, so any schema version works.

    python -m tests.bench.reconcile --payments 10000
    python -m tests.bench.reconcile --payments 10000 --adapter-bin OLD/.venv/bin/paygate-adapter
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import MetaData, Table, create_engine, func, insert, select

from adapter.model import ShopDetails
from tests.bench.adapter_config import write_adapter_config
from tests.bench.processes import running
from tests.bench.world import AMOUNT, CURRENCY, World
from tests.support.servers import free_port

CHUNK = 1000


def _module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", name, *args]


def _fill(database: Path, world: World, count: int) -> list[str]:
    """``count`` PENDING payments, due for the reconciler, in whatever schema the file has."""
    engine = create_engine(f"sqlite:///{database}")
    table = Table("payments", MetaData(), autoload_with=engine)
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    details = ShopDetails(
        url_success=f"{world.shop_url}/ok",
        url_failure=f"{world.shop_url}/no",
        url_notify=world.shop_notify_url,
        order_desc="backlog",
    )
    pay_ids = [secrets.token_hex(16) for _ in range(count)]
    rows = []
    for n, pay_id in enumerate(pay_ids):
        row: dict[str, object] = {
            "pay_id": pay_id,
            "merchant_id": world.merchant_id,
            "trans_id": f"B-{n}",
            "xid": secrets.token_hex(16),
            "amount": AMOUNT,
            "currency": CURRENCY,
            "state": "PENDING",
            "details": json.dumps(asdict(details), separators=(",", ":")),
            "cancel_requested": False,
            "created_at": long_ago.replace(tzinfo=None),
            "updated_at": long_ago.replace(tzinfo=None),
        }
        if "next_check_at" in table.c:
            row["next_check_at"] = long_ago.replace(tzinfo=None)
        if "checks" in table.c:
            row["checks"] = 0
        rows.append(row)
    with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[start : start + CHUNK])
    engine.dispose()
    return pay_ids


def _open(database: Path) -> int:
    engine = create_engine(f"sqlite:///{database}")
    table = Table("payments", MetaData(), autoload_with=engine)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(table.c.state.in_(["PENDING", "UNKNOWN"]))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--adapter-bin", default=None, help="paygate-adapter of another checkout")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paygate-backlog-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        ports = {name: free_port() for name in ("upstream", "shop", "adapter")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        world = World.create(urls["upstream"], urls["shop"])
        world.save(work / "world.json")
        world_arg = ("--world", str(work / "world.json"))
        stack.enter_context(
            running(
                "upstream",
                _module("tests.bench.fake_alipay", *world_arg, "--port", str(ports["upstream"])),
                urls["upstream"],
                "/_fake/counts",
                work,
            )
        )
        stack.enter_context(
            running(
                "shop",
                _module("tests.bench.shop", "--port", str(ports["shop"])),
                urls["shop"],
                "/received",
                work,
            )
        )
        database = work / "adapter.sqlite3"
        config = write_adapter_config(
            work / "adapter", world, ports["adapter"], f"sqlite+aiosqlite:///{database}"
        )
        data = yaml.safe_load(config.read_text())
        data["adapter"].update(
            reconcile_after_seconds=30,
            reconcile_interval_seconds=1,
            cancel_open_after_seconds=86_400,
        )
        config.write_text(yaml.safe_dump(data))
        program = [args.adapter_bin] if args.adapter_bin else _module("adapter.cli")
        command = [*program, "serve", "--config", str(config), "--port", str(ports["adapter"])]
        stack.enter_context(running("adapter", command, urls["adapter"], "/healthz", work))
        pay_ids = _fill(database, world, args.payments)
        seed = [
            {"id": pay_id, "amount": AMOUNT, "currency": CURRENCY, "state": "SUCCESS"}
            for pay_id in pay_ids
        ]
        httpx.post(f"{urls['upstream']}/_fake/seed", json=seed, timeout=60).raise_for_status()
        started = time.monotonic()
        print(f"{args.payments} open payments due, adapter: {' '.join(program)}", flush=True)
        left = args.payments
        while left and time.monotonic() - started < args.timeout:
            time.sleep(1)
            left = _open(database)
            print(f"  {time.monotonic() - started:7.1f} s  {left} open", flush=True)
        took = time.monotonic() - started
        print(
            f"settled {args.payments - left} of {args.payments} in {took:.1f} s "
            f"({(args.payments - left) / took:.0f} payments/s)"
        )


if __name__ == "__main__":
    main()
