"""Benchmark: instructions per request, counted by callgrind, now and at another revision.

Run: ``.venv/bin/python -m tests.bench.instructions [--endpoint inquire|notify]
[--against REV] [--requests 1000]`` (needs valgrind).

On a shared 2-core machine a CPU figure varies by a quarter from run to run, more than most
single changes buy. Callgrind counts the instructions a process executes, whatever else the
machine does. Each side serves the same prepared requests in-process
(:mod:`tests.bench.inprocess`: the ASGI app called directly, eight at a time, no server for
the adapter): inquiries of paid payments (no ReqId), or notifyPayments settling open payments,
whose URLNotify deliveries to a shop process (not counted) are waited for and counted too.
Each side runs once with ``--requests`` and once with a fifth of them, each on a database of
its own; the difference over the difference in requests is the instructions per request, with
start-up and imports cancelled out. An instruction is not a unit of time (a cache miss or a
system call costs far more): this says what a change removes, :mod:`tests.bench.compare` what
it buys when served.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from adapter.model import PaymentState
from tests.bench import bodies
from tests.bench.adapter_config import write_adapter_config
from tests.bench.processes import CHECKOUT, running
from tests.bench.revisions import _git, _worktree
from tests.bench.stores import AdapterStore, NewPayment, new_payments
from tests.bench.world import AMOUNT, CURRENCY, NOTIFY_PATH, World
from tests.support.servers import free_port

PAYMENTS = 1000
LOOP = Path(__file__).with_name("inprocess.py")
_COLLECTED = re.compile(r"Collected : (\d+)")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", choices=("inquire", "notify"), default="inquire")
    parser.add_argument("--against", default=None, help="another revision to count (any git rev)")
    parser.add_argument("--requests", type=int, default=1000, help="requests (default 1000)")
    args = parser.parse_args()
    if args.requests < 5:
        parser.error("--requests must be at least 5")
    return args


def _counted(tree: Path, config: Path, path: str, requests: Path, count: int) -> int:
    """Instructions callgrind counted for serving ``count`` of the requests."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(LOOP),
            str(tree),
            str(config),
            path,
            str(requests),
            str(count),
        ],
        capture_output=True,
        text=True,
        check=False,
        # The same hash seed on every run: sets and dicts iterate alike, start-up cancels out.
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"the in-process loop failed under callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _prepare(
    tree: Path,
    directory: Path,
    world: World,
    path: str,
    requests: Path,
    payments: Sequence[NewPayment],
) -> Path:
    """The run's configuration and database, migrated by its side's code, with the payments."""
    database = directory / "adapter.sqlite3"
    config = write_adapter_config(directory, world, 8000, f"sqlite+aiosqlite:///{database}")
    starting = [sys.executable, str(LOOP), str(tree), str(config), path, str(requests), "0"]
    subprocess.run(starting, check=True, capture_output=True)
    AdapterStore(database, world).add_payments(payments)
    return config


def main() -> None:
    args = _arguments()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is missing: apt-get install -y valgrind")
    head = _git("rev-parse", "--short", "HEAD")
    notify = args.endpoint == "notify"
    with tempfile.TemporaryDirectory(prefix="paygate-instructions-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        shop_url = "http://127.0.0.1:9"
        if notify:
            port = free_port()
            shop_url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "tests.bench.shop", "--port", str(port)]
            stack.enter_context(running("shop", command, shop_url, "/received", work))
        world = World.create("http://127.0.0.1:9/", shop_url)
        count = max(PAYMENTS, args.requests)
        state = PaymentState.PENDING if notify else PaymentState.SUCCESS
        payments = new_payments("INS", count, AMOUNT, CURRENCY, state)
        pay_ids = [p.pay_id for p in payments]
        requests = work / "requests.json"
        prepared = (
            bodies.notifies(world, pay_ids[: args.requests])
            if notify
            else bodies.inquiries(world, pay_ids, args.requests, None)
        )
        requests.write_text(json.dumps(list(prepared)))
        path = NOTIFY_PATH if notify else "/inquire.aspx"
        sides = {f"now ({head})": CHECKOUT}
        if args.against:
            revision = _git("rev-parse", "--short", args.against)
            sides[f"before ({revision})"] = stack.enter_context(_worktree(revision, work / "tree"))
        print(
            f"# instructions per {args.endpoint} request (callgrind), {time.strftime('%F %T %Z')}"
        )
        print(f"command: python -m tests.bench.instructions {' '.join(sys.argv[1:])}", flush=True)
        few = args.requests // 5
        runs = [(name, count) for name in sides for count in (few, args.requests)]
        configs = {
            run: _prepare(sides[run[0]], work / f"run{n}", world, path, requests, payments)
            for n, run in enumerate(runs)
        }
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            counted = dict(
                zip(
                    runs,
                    pool.map(
                        lambda run: _counted(sides[run[0]], configs[run], path, requests, run[1]),
                        runs,
                    ),
                    strict=True,
                )
            )
        per_request = {
            name: (counted[(name, args.requests)] - counted[(name, few)]) / (args.requests - few)
            for name in sides
        }
        for name, instructions in per_request.items():
            print(f"{name}: {instructions:,.0f} instructions per {args.endpoint} request")
        if len(per_request) == 2:
            now, before = per_request.values()
            print(f"now/before: {now / before:.3f}")


if __name__ == "__main__":
    main()
