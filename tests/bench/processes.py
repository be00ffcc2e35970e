"""The benchmark's server processes: started, waited for, measured from /proc, stopped.

CPU is each process's own user + system time (``/proc/<pid>/stat``), so a figure per request
covers everything the process did for it, background tasks included; RSS is ``VmRSS`` from
``/proc/<pid>/status``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# The checkout's root: ``python -m tests.bench...`` must find the ``tests`` package.
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time so far (fields 14 and 15 of /proc/<pid>/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # The command name (field 2) may hold spaces; the fields after it are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"{self.name}: no VmRSS")


@contextmanager
def running(
    name: str, command: list[str], url: str, ready_path: str, logs: Path
) -> Iterator[Server]:
    """Start ``command`` and yield once ``url + ready_path`` answers; stop it afterwards."""
    log_file = (logs / f"{name}.log").open("w")
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=CHECKOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + ready_path, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (logs / f"{name}.log").read_text()[-3000:]
                    raise RuntimeError(f"{name} did not start:\n{tail}") from None
                time.sleep(0.1)
        yield Server(name, url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


class PeakRss:
    """The largest RSS of a process seen while the block runs, sampled every 0.2 s."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._stop = threading.Event()
        self.peak_mb = server.rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, self._server.rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._server.rss_mb())


@contextmanager
def running_peers(
    world_file: Path, upstream_port: int, shop_port: int, logs: Path
) -> Iterator[tuple[Server, Server]]:
    """The fake Alipay+ and the shop that every side of a benchmark talks to."""
    python = [sys.executable, "-m"]
    world = ("--world", str(world_file))
    with ExitStack() as stack:
        upstream = stack.enter_context(
            running(
                "upstream",
                [*python, "tests.bench.fake_alipay", *world, "--port", str(upstream_port)],
                f"http://127.0.0.1:{upstream_port}",
                "/_fake/counts",
                logs,
            )
        )
        shop = stack.enter_context(
            running(
                "shop",
                [*python, "tests.bench.shop", "--port", str(shop_port)],
                f"http://127.0.0.1:{shop_port}",
                "/received",
                logs,
            )
        )
        yield upstream, shop
