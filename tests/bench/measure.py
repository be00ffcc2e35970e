"""One timed run of one side, and the comparison of both sides over alternating pairs.

A run: prepare fresh requests (untimed), run wrk, wait until the side's background work for
those requests is done (the adapter's URLNotify deliveries), then read CPU from /proc, check
the sampled answers and compare the side's database with the fake Alipay+'s ledger. CPU per
request is the process's CPU over that whole window divided by the answered requests.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.bench.processes import PeakRss, Server
from tests.bench.scenarios import Env, Scenario, Side
from tests.bench.wrk import LUA, Load, read_samples, run_wrk, write_requests

SAMPLE_EVERY = 50
SETTLE_SECONDS = 600.0


@dataclass(frozen=True)
class Run:
    side: str
    load: Load
    cpu_ms: float  # the side's server, per answered request
    upstream_ms: float
    shop_ms: float
    rss_mb: float  # peak during the run
    settle_s: float  # after wrk stopped, until the side was idle (inside the CPU window)
    checked: int
    ledger: str
    problems: tuple[str, ...]


def _problems_of(found: Sequence[str]) -> list[str]:
    """Distinct problems with their counts, so one broken run does not print thousands of lines."""
    return [f"{text} (x{count})" if count > 1 else text for text, count in Counter(found).items()]


class Bench:
    def __init__(
        self, env: Env, upstream: Server, shop: Server, work_dir: Path, seconds: int
    ) -> None:
        self.env = env
        self.upstream = upstream
        self.shop = shop
        self.work_dir = work_dir
        self.seconds = seconds
        self.script = work_dir / "bench.lua"
        self.script.write_text(LUA)
        self.problems: list[str] = []
        self.peak_rps: dict[str, float] = {}

    def _settle(self, side: Side) -> float:
        """Wait until the side is idle: requests still in flight when wrk stopped are done,
        and so is their background work (the adapter's URLNotify deliveries)."""
        started = time.monotonic()
        cpu = side.server.cpu_seconds()
        while time.monotonic() - started < SETTLE_SECONDS:
            time.sleep(0.25)
            now = side.server.cpu_seconds()
            if now == cpu and not side.store.notifications_pending():
                break
            cpu = now
        return time.monotonic() - started

    def run(self, scenario: Scenario, side: Side, connections: int, tag: str) -> Run:
        # Enough distinct requests for the fastest run seen so far, with room to spare.
        rate = max(scenario.rate_cap, 1.5 * self.peak_rps.get(scenario.key, 0.0))
        count = int(rate * self.seconds) if scenario.distinct else 0
        prepared = scenario.prepare(self.env, side, tag, count)
        requests_file = self.work_dir / f"{tag}.requests"
        samples_file = self.work_dir / f"{tag}.samples"
        written = write_requests(requests_file, prepared.requests)
        watched = (side.server, self.upstream, self.shop)
        before = [server.cpu_seconds() for server in watched]
        with PeakRss(side.server) as rss:
            load = run_wrk(
                self.script,
                side.server.url + scenario.path,
                requests_file,
                samples_file,
                prepared=written,
                seconds=self.seconds,
                connections=connections,
                sample_every=SAMPLE_EVERY,
            )
            settle = self._settle(side)
        self.peak_rps[scenario.key] = max(self.peak_rps.get(scenario.key, 0.0), load.rps)
        answered = max(load.requests, 1)
        cpu_ms = [
            (server.cpu_seconds() - start) * 1000 / answered
            for server, start in zip(watched, before, strict=True)
        ]
        requests_file.unlink()
        check = scenario.answer_check(self.env.world)
        samples = read_samples(samples_file)
        found = [f"answer: {problem}" for problem in map(check, samples) if problem]
        ledger, ledger_problems = prepared.check_ledger(load)
        found += [f"ledger: {problem}" for problem in ledger_problems]
        if load.errors:
            found.append(f"wrk: {load.errors}")
        if load.wrapped and scenario.distinct:
            found.append(
                f"ran out of prepared requests ({written}): raise {scenario.key}'s rate_cap"
            )
        if side.store.notifications_pending():
            found.append(f"URLNotify deliveries still pending after {SETTLE_SECONDS:.0f} s")
        problems = _problems_of(found)
        self.problems += [f"{scenario.key} {tag} {side.name}: {p}" for p in problems]
        return Run(
            side=side.name,
            load=load,
            cpu_ms=cpu_ms[0],
            upstream_ms=cpu_ms[1],
            shop_ms=cpu_ms[2],
            rss_mb=rss.peak_mb,
            settle_s=settle,
            checked=len(samples),
            ledger=ledger,
            problems=tuple(problems),
        )

    def exit_status(self) -> int:
        """Print what was wrong, if anything: 1 when an answer or a ledger was wrong."""
        if not self.problems:
            return 0
        print(f"\n{len(self.problems)} wrong answers or ledgers:")
        print("\n".join(f"  {problem}" for problem in self.problems))
        return 1

    def warm_up(self, side: Side, scenario: Scenario) -> None:
        """A short unreported run, so the first timed run does not pay for first calls."""
        requests_file = self.work_dir / f"warm-{side.name}.requests"
        prepared = scenario.prepare(self.env, side, f"warm-{side.name}", 0)
        written = write_requests(requests_file, prepared.requests)
        run_wrk(
            self.script,
            side.server.url + scenario.path,
            requests_file,
            self.work_dir / f"warm-{side.name}.samples",
            prepared=written,
            seconds=2,
            connections=8,
            sample_every=1000,
        )


def run_line(pair: int, run: Run) -> str:
    load = run.load
    settle = f"  settled after {run.settle_s:.1f} s" if run.settle_s >= 1 else ""
    state = "; ".join(run.problems) if run.problems else "ok"
    return (
        f"  pair {pair}  {run.side:<7} {load.rps:8.1f} req/s  p50 {load.p50_ms:7.2f} ms"
        f"  p99 {load.p99_ms:8.2f} ms  cpu/req {run.cpu_ms:5.2f} ms"
        f" (upstream {run.upstream_ms:4.2f}, shop {run.shop_ms:4.2f})  rss {run.rss_mb:5.1f} MB"
        f"{settle}  | {run.checked} answers, {run.ledger}: {state}"
    )


def ratio_line(pair: int, adapter: Run, floor: Run) -> str:
    a, f = adapter.load, floor.load
    return (
        f"  pair {pair}  adapter/floor: req/s {a.rps / f.rps:5.2f}"
        f"   p50 {a.p50_ms / f.p50_ms:5.2f}x   p99 {a.p99_ms / f.p99_ms:5.2f}x"
        f"   cpu/req {adapter.cpu_ms / floor.cpu_ms:5.2f}x"
    )


@dataclass(frozen=True)
class Summary:
    label: str
    connections: int
    pairs: int
    adapter_rps: float
    floor_rps: float
    ratio: float
    goal: float
    adapter_p50: float
    floor_p50: float
    adapter_p99: float
    floor_p99: float
    p99_ratio: float
    p99_goal: float | None
    adapter_cpu: float
    floor_cpu: float
    adapter_upstream_cpu: float
    floor_upstream_cpu: float
    adapter_rss: float
    floor_rss: float

    @classmethod
    def of(cls, scenario: Scenario, connections: int, pairs: list[tuple[Run, Run]]) -> Summary:
        def median(values: list[float]) -> float:
            return statistics.median(values)

        adapters = [a for a, _ in pairs]
        floors = [f for _, f in pairs]
        return cls(
            label=scenario.label,
            connections=connections,
            pairs=len(pairs),
            adapter_rps=median([r.load.rps for r in adapters]),
            floor_rps=median([r.load.rps for r in floors]),
            ratio=median([a.load.rps / f.load.rps for a, f in pairs]),
            goal=scenario.goal,
            adapter_p50=median([r.load.p50_ms for r in adapters]),
            floor_p50=median([r.load.p50_ms for r in floors]),
            adapter_p99=median([r.load.p99_ms for r in adapters]),
            floor_p99=median([r.load.p99_ms for r in floors]),
            p99_ratio=median([a.load.p99_ms / f.load.p99_ms for a, f in pairs]),
            p99_goal=scenario.p99_goal,
            adapter_cpu=median([r.cpu_ms for r in adapters]),
            floor_cpu=median([r.cpu_ms for r in floors]),
            adapter_upstream_cpu=median([r.upstream_ms for r in adapters]),
            floor_upstream_cpu=median([r.upstream_ms for r in floors]),
            adapter_rss=max(r.rss_mb for r in adapters),
            floor_rss=max(r.rss_mb for r in floors),
        )

    def line(self) -> str:
        return (
            f"  median of {self.pairs}: adapter/floor req/s {self.ratio:.2f}"
            f" (goal >= {self.goal:.2f}),"
            f" p99 {self.p99_ratio:.2f}x"
            + (f" (goal <= {self.p99_goal:.0f}x)" if self.p99_goal else "")
        )


TABLE_HEADER = (
    "| endpoint | conns | adapter req/s | floor req/s | ratio (goal) | p50 ms a / f"
    " | p99 ms a / f | p99 ratio (goal) | CPU ms/req a / f | upstream CPU ms/req a / f"
    " | peak RSS MB a / f |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(s: Summary) -> str:
    meets = "" if s.ratio >= s.goal else " **below**"
    p99_goal = "—"
    if s.p99_goal is not None:
        p99_goal = f"≤ {s.p99_goal:.0f}" + ("" if s.p99_ratio <= s.p99_goal else " **above**")
    return (
        f"| {s.label} | {s.connections} | {s.adapter_rps:,.0f} | {s.floor_rps:,.0f}"
        f" | {s.ratio:.2f} (≥ {s.goal:.2f}){meets} | {s.adapter_p50:.2f} / {s.floor_p50:.2f}"
        f" | {s.adapter_p99:.1f} / {s.floor_p99:.1f} | {s.p99_ratio:.2f} ({p99_goal})"
        f" | {s.adapter_cpu:.2f} / {s.floor_cpu:.2f}"
        f" | {s.adapter_upstream_cpu:.2f} / {s.floor_upstream_cpu:.2f}"
        f" | {s.adapter_rss:.0f} / {s.floor_rss:.0f} |"
    )
