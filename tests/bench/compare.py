"""Benchmark: the adapter beside its floor, measured in the same run (issue 12).

Run: ``.venv/bin/python -m tests.bench.compare [--seconds 10] [--pairs 2] [--connections 8,32]
[--only inquire,credit,...] [--scale]`` (needs ``wrk``).

Five processes on loopback, one uvicorn worker each: the adapter (``paygate-adapter serve``,
SQLite, its operator config format), the floor (``tests.bench.floor``: minimal apps doing only
each endpoint's unavoidable work, on the adapter's SQLite settings), one fake Alipay+ both
call (``tests.bench.fake_alipay``), and a shop receiving the adapter's URLNotify. wrk sends
the same kind of prepared, distinct, valid requests to both, at the same connections,
alternating adapter and floor (A B A B ...). Each run prints req/s, p50, p99, CPU per
request of each process and peak RSS; each pair the ratio adapter/floor; each endpoint the
medians of the pairs. Sampled answers are decrypted and MAC-checked, and after every run the
side's database is compared with the fake Alipay+'s ledger. Figures, not assertions: the exit
status is 1 only when an answer or a ledger is wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from adapter.store.db import migrate
from tests.bench.adapter_config import adapter_command, write_adapter_config
from tests.bench.measure import TABLE_HEADER, Bench, Summary, ratio_line, run_line, table_row
from tests.bench.processes import Server, running, running_peers
from tests.bench.scale import scale_check
from tests.bench.scenarios import SCENARIOS, Env, Inquire, Scenario, Side, UpstreamLedger
from tests.bench.stores import AdapterStore, FloorStore, adapter_pragmas
from tests.bench.world import World
from tests.support.servers import free_port

PACKAGES = ("starlette", "uvicorn", "uvloop", "httptools", "httpx", "cryptography", "sqlalchemy")


def _module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", name, *args]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per timed run (default 10)")
    parser.add_argument("--pairs", type=int, default=2, help="adapter/floor pairs (default 2)")
    parser.add_argument(
        "--connections",
        default=None,
        help="comma-separated; default 8, and 8,32 for endpoints that call Alipay+",
    )
    keys = [s.key for s in SCENARIOS]
    parser.add_argument("--only", default=None, help=f"comma-separated of {','.join(keys)}")
    parser.add_argument(
        "--scale", action="store_true", help="also inquire.aspx at 10^3 and 10^6 payments (slow)"
    )
    args = parser.parse_args()
    if args.only:
        unknown = set(args.only.split(",")) - set(keys)
        if unknown:
            parser.error(f"unknown endpoint(s) {sorted(unknown)}; choose from {keys}")
    if args.pairs < 1 or args.seconds < 1:
        parser.error("--pairs and --seconds must be at least 1")
    return args


def _connections(scenario: Scenario, given: str | None) -> list[int]:
    if given:
        return [int(c) for c in given.split(",")]
    return [8, 32] if scenario.calls_upstream else [8]


def _header(args: argparse.Namespace, pragmas: dict[str, object]) -> None:
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in PACKAGES)
    print(f"# adapter vs floor, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    command = [Path(sys.executable).name, "-m", "tests.bench.compare", *sys.argv[1:]]
    print(f"command: {' '.join(command)}")
    print(f"Python {platform.python_version()}, {versions}")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"SQLite settings of the adapter, used by the floor too: {pragmas}")
    print(
        f"wrk -t1 --timeout 60s, {args.seconds} s per run, {args.pairs} pairs (adapter then floor);"
        " CPU ms/req = the process's user+system CPU over the run / answered requests",
        flush=True,
    )


def compare(
    bench: Bench, sides: tuple[Side, Side], scenario: Scenario, connections: int, pairs: int
) -> Summary:
    print(f"\n{scenario.label}, {connections} connections", flush=True)
    results = []
    for pair in range(1, pairs + 1):
        runs = []
        for side in sides:
            tag = f"{scenario.key[:3]}{connections}p{pair}{side.name[0]}"
            run = bench.run(scenario, side, connections, tag)
            print(run_line(pair, run), flush=True)
            runs.append(run)
        adapter, floor = runs
        print(ratio_line(pair, adapter, floor), flush=True)
        results.append((adapter, floor))
    summary = Summary.of(scenario, connections, results)
    print(summary.line(), flush=True)
    return summary


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    selected = [s for s in SCENARIOS if args.only is None or s.key in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="paygate-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        ports = {name: free_port() for name in ("upstream", "shop", "adapter", "floor")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        world = World.create(urls["upstream"], urls["shop"])
        world.save(work / "world.json")
        world_arg = ("--world", str(work / "world.json"))
        upstream, shop = stack.enter_context(
            running_peers(work / "world.json", ports["upstream"], ports["shop"], work)
        )
        adapter_db = work / "adapter.sqlite3"
        database_url = f"sqlite+aiosqlite:///{adapter_db}"
        asyncio.run(migrate(database_url))
        pragmas = adapter_pragmas(database_url)
        config = write_adapter_config(work / "adapter", world, ports["adapter"], database_url)
        adapter: Server = stack.enter_context(
            running(
                "adapter",
                adapter_command(config, ports["adapter"]),
                urls["adapter"],
                "/healthz",
                work,
            )
        )
        floor_db = work / "floor.sqlite3"
        floor: Server = stack.enter_context(
            running(
                "floor",
                _module(
                    "tests.bench.floor",
                    *world_arg,
                    "--database",
                    str(floor_db),
                    "--pragmas",
                    json.dumps(pragmas),
                    "--port",
                    str(ports["floor"]),
                ),
                urls["floor"],
                "/healthz",
                work,
            )
        )
        sides = (
            Side("adapter", adapter, AdapterStore(adapter_db, world)),
            Side("floor", floor, FloorStore(floor_db, world, pragmas)),
        )
        env = Env(world, UpstreamLedger(urls["upstream"]))
        bench = Bench(env, upstream, shop, work, args.seconds)
        _header(args, pragmas)
        for side in sides:
            bench.warm_up(side, Inquire(with_req_id=False))
        summaries = [
            compare(bench, sides, scenario, connections, args.pairs)
            for scenario in selected
            for connections in _connections(scenario, args.connections)
        ]
        print("\n## Medians of the pairs\n")
        print(TABLE_HEADER)
        for summary in summaries:
            print(table_row(summary))
        if args.scale:
            scale_check(bench, work, world, urls["upstream"], args.seconds, args.pairs)
        status = bench.exit_status()
    sys.exit(status)


if __name__ == "__main__":
    main()
