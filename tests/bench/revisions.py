"""Benchmark: this checkout's adapter beside the adapter of an earlier revision, in one run.

Run: ``.venv/bin/python -m tests.bench.revisions --against REV [--only inquire,credit]
[--seconds 10] [--pairs 2] [--connections 8]`` (needs ``wrk`` and git).

What a change cost or bought, measured as issue 12 measures against the floor: the same
fake Alipay+, shop, wrk script and connections for both, one uvicorn worker each, alternating
(now, before, now, before ...), answers sampled and ledgers checked. The earlier revision is
checked out into a temporary git worktree and served from there by this checkout's virtual
environment (its dependencies must be installed here, as they are for any revision of the
same dependency set). Each side gets its own SQLite database, migrated by its own code when it
starts. Figures, not assertions: the exit status is 1 only when an answer or a ledger is wrong.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import median

from tests.bench.adapter_config import adapter_command, write_adapter_config
from tests.bench.measure import Bench, Run, run_line
from tests.bench.processes import CHECKOUT, Server, running, running_peers
from tests.bench.scenarios import SCENARIOS, Env, Inquire, Scenario, Side, UpstreamLedger
from tests.bench.stores import AdapterStore
from tests.bench.world import World
from tests.support.servers import free_port


def _arguments() -> argparse.Namespace:
    keys = [s.key for s in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", required=True, help="the earlier revision (any git rev)")
    parser.add_argument("--only", default="inquire", help=f"comma-separated of {','.join(keys)}")
    parser.add_argument("--seconds", type=int, default=10, help="per timed run (default 10)")
    parser.add_argument("--pairs", type=int, default=2, help="now/before pairs (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    args = parser.parse_args()
    unknown = set(args.only.split(",")) - set(keys)
    if unknown:
        parser.error(f"unknown endpoint(s) {sorted(unknown)}; choose from {keys}")
    if args.pairs < 1 or args.seconds < 1:
        parser.error("--pairs and --seconds must be at least 1")
    return args


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=CHECKOUT, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@contextmanager
def _worktree(revision: str, directory: Path) -> Iterator[Path]:
    """The revision's files in a detached worktree, removed afterwards."""
    _git("worktree", "add", "--detach", "--quiet", str(directory), revision)
    try:
        yield directory
    finally:
        _git("worktree", "remove", "--force", str(directory))


def _served_from(tree: Path) -> list[str]:
    """``paygate-adapter`` importing the worktree's package ahead of this checkout's."""
    start = f"import sys; sys.path.insert(0, {str(tree)!r}); from adapter.cli import main; "
    return [sys.executable, "-c", start + "sys.exit(main())"]


def _report(scenario: Scenario, connections: int, pairs: list[tuple[Run, Run]]) -> str:
    now = median(n.load.rps for n, _ in pairs)
    before = median(b.load.rps for _, b in pairs)
    p50_now = median(n.load.p50_ms for n, _ in pairs)
    p50_before = median(b.load.p50_ms for _, b in pairs)
    cpu_now = median(n.cpu_ms for n, _ in pairs)
    cpu_before = median(b.cpu_ms for _, b in pairs)
    return (
        f"| {scenario.label} | {connections} | {now:,.0f} | {before:,.0f} | {now / before:.2f}"
        f" | {p50_now:.2f} / {p50_before:.2f} | {cpu_now:.2f} / {cpu_before:.2f} |"
    )


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    revision = _git("rev-parse", "--short", args.against)
    head = _git("rev-parse", "--short", "HEAD")
    selected = [s for s in SCENARIOS if s.key in args.only.split(",")]
    with tempfile.TemporaryDirectory(prefix="paygate-revisions-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        tree = stack.enter_context(_worktree(revision, work / "tree"))
        ports = {name: free_port() for name in ("upstream", "shop", "now", "before")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        world = World.create(urls["upstream"], urls["shop"])
        world.save(work / "world.json")
        upstream, shop = stack.enter_context(
            running_peers(work / "world.json", ports["upstream"], ports["shop"], work)
        )
        sides = []
        for name, program in (("now", None), ("before", _served_from(tree))):
            db = work / f"{name}.sqlite3"
            config = write_adapter_config(
                work / name, world, ports[name], f"sqlite+aiosqlite:///{db}"
            )
            command = adapter_command(config, ports[name])
            if program is not None:  # the worktree's code, not this checkout's installed script
                command = [*program, *command[command.index("serve") :]]
            server: Server = stack.enter_context(
                running(name, command, urls[name], "/healthz", work)
            )
            sides.append(Side(name, server, AdapterStore(db, world)))
        bench = Bench(
            Env(world, UpstreamLedger(urls["upstream"])), upstream, shop, work, args.seconds
        )
        print(f"# adapter at {head} (now) beside {revision} (before), {time.strftime('%F %T %Z')}")
        print(f"command: python -m tests.bench.revisions {' '.join(sys.argv[1:])}")
        print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        print(f"wrk -t1, {args.connections} connections, {args.seconds} s per run", flush=True)
        for side in sides:
            bench.warm_up(side, Inquire(with_req_id=False))
        rows = []
        for scenario in selected:
            print(f"\n{scenario.label}, {args.connections} connections", flush=True)
            pairs = []
            for pair in range(1, args.pairs + 1):
                runs = []
                for side in sides:
                    tag = f"{scenario.key[:3]}r{pair}{side.name[0]}"
                    run = bench.run(scenario, side, args.connections, tag)
                    print(run_line(pair, run), flush=True)
                    runs.append(run)
                pairs.append((runs[0], runs[1]))
            rows.append(_report(scenario, args.connections, pairs))
        print("\n## Medians of the pairs\n")
        print(
            "| endpoint | conns | now req/s | before req/s | now/before | p50 ms now / before"
            " | CPU ms/req now / before |"
        )
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        status = bench.exit_status()
    sys.exit(status)


if __name__ == "__main__":
    main()
