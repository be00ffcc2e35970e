"""Benchmark: the operator console's payments list and searches with 10^6 payments stored.

Run: ``.venv/bin/python -m tests.bench.console [--payments 1000000] [--backends sqlite,postgres]
[--requests 50]`` (PostgreSQL at ``$PAYGATE_TEST_POSTGRES_URL``, a throw-away database).

For each backend: a database migrated to revision 0006, filled with that many payments (three
merchants, created over the last 30 days, 90 % paid, the rest failed, cancelled or open), then
migrated to the newest revision (the console's indexes, timed); the adapter served from it by
``paygate-adapter serve`` in a process of its own, with the console on; one operator logged in
over HTTP asking for pages one after the other. Each page is timed end to end (session, query,
rendering); the bare queries are timed too, in this process. Figures, not assertions: the exit
status is 1 only when a page shows the wrong payments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from adapter.console.passwords import hash_password
from adapter.model import PaymentState, ShopDetails
from adapter.store.db import Database, migrate, normalise_url
from adapter.store.queries import OperatorQueries, PaymentFilter
from adapter.store.tables import payments
from tests.bench.processes import running
from tests.bench.stores import complete_row
from tests.support.postgres import create_database, drop_database
from tests.support.servers import free_port

MERCHANTS = ("ShopA", "ShopB", "ShopC")
STATES = [  # (state, share)
    (PaymentState.SUCCESS, 0.90),
    (PaymentState.FAILED, 0.07),
    (PaymentState.CANCELLED, 0.02),
    (PaymentState.PENDING, 0.009),
    (PaymentState.UNKNOWN, 0.001),
]
SPAN = timedelta(days=30)
OPEN_SPAN = timedelta(minutes=10)
CHUNK = 20_000
PASSWORD = secrets.token_urlsafe(16)
DETAILS = json.dumps(
    ShopDetails(
        "https://shop.example/ok", "https://shop.example/no", "https://shop.example/n"
    ).__dict__,
    separators=(",", ":"),
)
_ROW = re.compile(r'<tr data-pay-id="([0-9a-f]+)">')
_NEXT = re.compile(r'id="next" href="([^"]+)"')


@dataclass(frozen=True)
class Sample:
    """Payments looked for by their keys, and where the data sits in time."""

    keys: list[tuple[str, str, str]]  # (pay_id, trans_id, ref_nr)
    busy_day: str  # a day in the middle, YYYY-MM-DD


def _rows(first: int, count: int, now: datetime, rng: random.Random) -> list[dict[str, object]]:
    states, weights = zip(*STATES, strict=True)
    chosen = rng.choices(states, weights, k=count)
    rows = []
    for number, state in enumerate(chosen, first):
        # As in a running adapter, payments still open are recent: older ones were settled.
        span = SPAN if state.is_final else OPEN_SPAN
        created = now - span * rng.random()
        merchant = MERCHANTS[number % len(MERCHANTS)]
        given = {
            "pay_id": f"{rng.getrandbits(128):032x}",
            "merchant_id": merchant,
            "trans_id": f"ORD-{number:08d}",
            "xid": f"{rng.getrandbits(128):032x}",
            "ref_nr": f"RN{number:09d}",
            "amount": rng.randrange(100, 100_000),
            "currency": "EUR",
            "state": state.value,
            "details": DETAILS,
            "cancel_requested": False,
            "created_at": created,
            "updated_at": created,
            # Open ones are not due: the serving adapter's reconciler leaves them alone.
            "next_check_at": now + timedelta(days=365),
        }
        rows.append(complete_row(payments, given, now))
    return rows


async def fill(url: str, count: int) -> tuple[Sample, float, float]:
    """Migrate to 0006, store ``count`` payments, migrate to the newest; returns a sample, the
    fill time and the final migration's time."""
    await migrate(url, "0006")
    rng = random.Random(1)
    now = datetime.now(UTC)
    db = Database(url)
    keys: list[tuple[str, str, str]] = []
    started = time.monotonic()
    try:
        for start in range(0, count, CHUNK):
            rows = _rows(start, min(CHUNK, count - start), now, rng)

            def store(conn: Connection, rows: list[dict[str, object]] = rows) -> None:
                conn.execute(payments.insert(), rows)

            await db.write(store)
            keys += [
                (str(r["pay_id"]), str(r["trans_id"]), str(r["ref_nr"]))
                for r in rng.sample(rows, min(20, len(rows)))
            ]
            print(f"\r  stored {start + len(rows):,} payments", end="", flush=True)
        filled = time.monotonic() - started
        print()
        started = time.monotonic()
        await migrate(url)
        migrated = time.monotonic() - started
        if db.dialect == "postgresql":  # as autovacuum would have by now
            await vacuum(url)
    finally:
        await db.dispose()
    busy_day = (now - SPAN / 2).date().isoformat()
    return Sample(keys, busy_day), filled, migrated


async def vacuum(url: str) -> None:
    """VACUUM ANALYZE, which runs outside a transaction only."""
    engine = create_async_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("VACUUM ANALYZE payments")
    finally:
        await engine.dispose()


def _config(directory: Path, url: str, port: int) -> Path:
    key = generate_private_key()
    (directory / "acqp.pem").write_text(private_key_pem(key))
    (directory / "alipay.pub.pem").write_text(public_key_pem(key.public_key()))
    merchant = {
        "hmac_keys": [secrets.token_hex(16)],
        "blowfish_key": secrets.token_hex(8),
        "allowed_hosts": ["shop.example"],
        "alipay": {"reference_merchant_id": "B", "mcc": "5732", "name": "B", "region": "DE"},
    }
    config = {
        "adapter": {
            "public_url": f"http://127.0.0.1:{port}",
            "database_url": url,
            "token_secret": secrets.token_hex(16),
            "reconcile_after_seconds": 86_400,
            "cancel_open_after_seconds": 864_000,
        },
        "alipayplus": {
            "gateway_url": "http://127.0.0.1:9",  # never called: nothing is due
            "client_id": "BENCH",
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pub.pem"},
        },
        "merchants": [{"merchant_id": m, **merchant} for m in MERCHANTS],
        "console": {"operators": [{"name": "bench", "password_hash": hash_password(PASSWORD)}]},
    }
    path = directory / "adapter.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _log_in(http: httpx.Client, console: str) -> None:
    page = http.get(f"{console}/login")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token, "no login form"
    done = http.post(
        f"{console}/login", data={"token": token.group(1), "name": "bench", "password": PASSWORD}
    )
    assert done.status_code == 303, done.text


@dataclass
class Timings:
    name: str
    seconds: list[float]
    shown: int

    def line(self) -> str:
        ms = sorted(s * 1000 for s in self.seconds)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        return (
            f"  {self.name:<44} {statistics.median(ms):8.1f} {p95:8.1f} {ms[-1]:8.1f}"
            f" {self.shown:6d}"
        )


def _timed(http: httpx.Client, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = http.get(url)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return seconds, response.text


class Checks:
    def __init__(self) -> None:
        self.wrong: list[str] = []

    def expect(self, what: str, shown: list[str], wanted: list[str]) -> None:
        if shown != wanted:
            self.wrong.append(f"{what}: shows {shown[:3]}, wanted {wanted[:3]}")


def measure_pages(
    http: httpx.Client, base: str, sample: Sample, requests: int, checks: Checks
) -> list[Timings]:
    console = f"{base}/console"

    def repeated(
        name: str, url: Callable[[int], str], check: bool = False, times: int = requests
    ) -> Timings:
        seconds, shown = [], 0
        for n in range(times):
            took, html = _timed(http, url(n))
            seconds.append(took)
            rows = _ROW.findall(html)
            shown = len(rows)
            if check:
                pay_id = sample.keys[n % len(sample.keys)][0]
                checks.expect(f"{name} #{n}", rows, [pay_id])
        return Timings(name, seconds, shown)

    def search(field: int) -> Callable[[int], str]:
        def url(n: int) -> str:
            wanted = sample.keys[n % len(sample.keys)][field]
            return f"{console}/payments?{urlencode({'q': wanted})}"

        return url

    timings = [
        repeated("list, newest page (50 rows)", lambda n: f"{console}/payments"),
        repeated("list by merchant", lambda n: f"{console}/payments?merchant=ShopB"),
        repeated("list by state FAILED", lambda n: f"{console}/payments?state=FAILED"),
        repeated(
            "list by merchant and a rare state (0.1 %)",
            lambda n: f"{console}/payments?merchant=ShopC&state=UNKNOWN",
        ),
        repeated(
            "list, one day 15 days ago",
            lambda n: f"{console}/payments?from={sample.busy_day}&to={sample.busy_day}",
        ),
        repeated("search by TransID", search(1), check=True),
        repeated("search by RefNr", search(2), check=True),
        repeated("search by PayID", search(0), check=True),
    ]
    # Keyset paging: follow "Older" from the newest page, 'requests' pages deep.
    seconds, seen, url = [], [], f"{console}/payments"
    for _ in range(requests):
        took, html = _timed(http, url)
        seconds.append(took)
        seen += _ROW.findall(html)
        link = _NEXT.search(html)
        if link is None:
            break
        url = base + link.group(1).replace("&amp;", "&")
    if len(seen) != len(set(seen)):
        checks.wrong.append("keyset pages repeated a payment")
    timings.append(Timings(f"list, pages 1 to {len(seconds)} (keyset)", seconds, 50))
    for window, times in (("24h", 10), ("7d", 3), ("30d", 3)):

        def overview(n: int, window: str = window) -> str:
            return f"{console}/?window={window}"

        timings.append(repeated(f"overview, last {window}", overview, times=times))
    return timings


async def measure_queries(url: str, sample: Sample, requests: int) -> list[Timings]:
    db = Database(url)
    read = OperatorQueries(db)
    out = []
    try:

        def by_trans_id(n: int) -> PaymentFilter:
            return PaymentFilter(search=sample.keys[n % len(sample.keys)][1])

        kinds: list[tuple[str, Callable[[int], PaymentFilter]]] = [
            ("query alone: newest page", lambda n: PaymentFilter()),
            ("query alone: TransID", by_trans_id),
        ]
        for name, chosen in kinds:
            seconds = []
            for n in range(requests):
                started = time.perf_counter()
                page = await read.payments_page(chosen(n), limit=50)
                seconds.append(time.perf_counter() - started)
            out.append(Timings(name, seconds, len(page.payments)))
    finally:
        await db.dispose()
    return out


def run_backend(backend: str, count: int, requests: int, work: Path, checks: Checks) -> None:
    print(f"\n## {backend}: {count:,} payments", flush=True)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work}/console-bench.sqlite3"
    else:
        url = asyncio.run(create_database())
    try:
        sample, filled, migrated = asyncio.run(fill(url, count))
        print(
            f"  filled in {filled:.1f} s; migration 0007 (the console's indexes) {migrated:.1f} s"
        )
        port = free_port()
        config = _config(work, url, port)
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "adapter.cli", "serve", "--config", str(config)]
        command += ["--port", str(port)]
        with (
            running(f"adapter-{backend}", command, base, "/healthz", work),
            httpx.Client(timeout=60) as http,
        ):
            _log_in(http, f"{base}/console")
            _timed(http, f"{base}/console/payments")  # the first request warms the process up
            timings = measure_pages(http, base, sample, requests, checks)
        timings += asyncio.run(measure_queries(url, sample, requests))
        print(f"  {'':<44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'rows':>6}")
        for timing in timings:
            print(timing.line())
    finally:
        if backend == "postgres":
            asyncio.run(drop_database(url))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=50, help="per page kind (default 50)")
    args = parser.parse_args()
    print(f"command: {' '.join([sys.executable, '-m', 'tests.bench.console', *sys.argv[1:]])}")
    print("one uvicorn worker, one operator asking for one page after the other, loopback")
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as directory:
        for backend in args.backends.split(","):
            run_backend(backend, args.payments, args.requests, Path(directory), checks)
    for problem in checks.wrong:
        print(f"WRONG: {problem}")
    return 1 if checks.wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
