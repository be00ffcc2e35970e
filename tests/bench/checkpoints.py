"""Benchmark: where SQLite's WAL checkpoints cost the event loop, with and without a thread.

Run: ``.venv/bin/python -m tests.bench.checkpoints [--transactions 4000] [--work-ms 1.5]``.
On the adapter's schema (migrated), with 20,000 open payments, each side runs the statements
of a notify's transaction (the payment moved to SUCCESS and read back, its notification queued,
two journal rows) one transaction after another, with ``--work-ms`` of busy work between them
for the rest of a request. One side lets SQLite checkpoint inside the commit, as it does by
default; the other turns that off and runs :class:`adapter.store.checkpoints.Checkpointer`.
Printed per transaction: the serving thread's wall time (work included) and CPU time, the
commit's wall time, and the wall time of the checkpointer's last step on the serving thread.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from adapter.store.checkpoints import Checkpointer
from adapter.store.db import migrate

OPEN_PAYMENTS = 20_000
FINALIZE = (
    "UPDATE payments SET state = 'SUCCESS', updated_at = ?, result_code = 'SUCCESS', "
    "alipay_payment_id = ? WHERE pay_id = ? AND state IN ('NEW', 'PENDING', 'UNKNOWN') "
    "RETURNING *"
)
QUEUE = (
    "INSERT INTO notifications (pay_id, final_state, url, body, status, attempts, "
    "next_attempt_at, created_at) VALUES (?, 'SUCCESS', 'http://127.0.0.1:9/notify', ?, "
    "'pending', 0, ?, ?)"
)
JOURNAL = (
    "INSERT INTO events (at, hop, name, outcome, pay_id, merchant_id, actor) "
    "VALUES (?, ?, ?, 'S SUCCESS', ?, 'Shop', 'adapter')"
)


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _seed(path: Path) -> list[str]:
    asyncio.run(migrate(f"sqlite:///{path}"))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    details = '{"url_notify": "http://127.0.0.1:9/notify", "user_data": "' + "u" * 300 + '"}'
    pay_ids = [secrets.token_hex(16) for _ in range(OPEN_PAYMENTS)]
    connection.execute("BEGIN")
    for number, pay_id in enumerate(pay_ids):
        now = _now()
        connection.execute(
            "INSERT INTO payments (pay_id, merchant_id, trans_id, xid, ref_nr, amount, currency, "
            "state, details, cancel_requested, created_at, updated_at, next_check_at, checks) "
            "VALUES (?, 'Shop', ?, ?, ?, 1000, 'EUR', 'PENDING', ?, 0, ?, ?, ?, 0)",
            (pay_id, f"T{number}", secrets.token_hex(16), f"R{number}", details, now, now, now),
        )
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return pay_ids


def _side(path: Path, pay_ids: list[str], *, threaded: bool, work_seconds: float) -> str:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    checkpointer = None
    if threaded:
        connection.execute("PRAGMA wal_autocheckpoint=0")
        checkpointer = Checkpointer(str(path))
    body = "Len=600&Data=" + "A" * 1200
    committing = finishing = 0.0
    started, cpu_started = time.perf_counter(), time.thread_time()
    for pay_id in pay_ids:
        until = time.perf_counter() + work_seconds
        while time.perf_counter() < until:
            pass
        now = _now()
        connection.execute("BEGIN")
        connection.execute(FINALIZE, (now, f"A{pay_id}", pay_id)).fetchall()
        connection.execute(QUEUE, (pay_id, body, now, now))
        for hop, name in (("alipay_notify", "notifyPayment"), ("payment", "SUCCESS")):
            connection.execute(JOURNAL, (now, hop, name, pay_id))
        before_commit = time.perf_counter()
        connection.execute("COMMIT")
        committed = time.perf_counter()
        if checkpointer is not None:
            checkpointer.committed(connection)
        committing += committed - before_commit
        finishing += time.perf_counter() - committed
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    if checkpointer is not None:
        checkpointer.close()
    connection.close()
    count = len(pay_ids)

    def per(seconds: float) -> str:
        return f"{seconds / count * 1e6:7.0f} µs"

    name = "Checkpointer (thread)" if threaded else "SQLite's own, in the commit"
    return (
        f"{name:28s} wall {per(wall)}  CPU {per(cpu)}  commit {per(committing)}  "
        f"last step {per(finishing)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=4000)
    parser.add_argument("--work-ms", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.transactions} transactions, {args.work_ms} ms of work between them")
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for threaded in (False, True):
                path = Path(scratch) / f"adapter-{threaded}.sqlite3"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                pay_ids = _seed(path)[: args.transactions]
                line = _side(path, pay_ids, threaded=threaded, work_seconds=args.work_ms / 1000)
                print(line, flush=True)


if __name__ == "__main__":
    main()
