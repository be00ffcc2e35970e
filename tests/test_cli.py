"""``paygate-adapter attention``: what an operator must act on, from the adapter's database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.model import OPEN_STATES, OperationKind, OperationState, PaymentState
from adapter.store.db import Database, migrate
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from tests.support.config import with_values, write_config
from tests.support.models import NOTICE, NOW, PAY_ID, a_failed_attempt, a_payment, a_step
from tests.support.servers import free_ports
from tests.support.waiting import wait_until


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    asyncio.run(migrate(url))
    return with_values(write_config(tmp_path), "adapter", database_url=url)


async def _store_steps(config: Path, *steps_and_switch: tuple[str, OperationState, bool]) -> None:
    url = f"sqlite+aiosqlite:///{config.parent}/adapter.sqlite3"
    db = Database(url)
    payments, operations = PaymentStore(db), OperationStore(db)
    await payments.insert(a_payment(state=PaymentState.SUCCESS))
    for xid, state, switched in steps_and_switch:
        step = a_step(xid=xid, kind=OperationKind.REVERSE, amount=1000)
        await operations.reserve_reversal(step)
        if switched:
            await operations.refund_instead(xid, now=step.created_at)
        if state.is_final:
            await operations.finish(xid, state, now=step.created_at, result_code="PROCESS_FAIL")
    await db.dispose()


def test_nothing_to_do_exits_0(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attention", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "Nothing needs attention."


def test_an_open_step_is_listed_but_is_no_alarm(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_store_steps(config, ("d" * 32, OperationState.UNKNOWN, False)))
    assert main(["attention", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "not settled yet" in out and f"pay_id={PAY_ID}" in out and "xid=" + "d" * 32 in out
    assert "Money to return" not in out


def test_a_paid_payment_whose_cancel_and_refund_were_refused_exits_1(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_store_steps(config, ("e" * 32, OperationState.FAILED, True)))
    assert main(["attention", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Money to return by hand")
    assert f"pay_id={PAY_ID} merchant=Shop reverse xid={'e' * 32} amount=1000 EUR" in out


def test_an_unreadable_database_is_a_clear_error_without_its_url(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_url = "postgresql://ops:hunter2@127.0.0.1:1/adapter"
    with_values(config, "adapter", database_url=secret_url)
    assert main(["attention", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert "cannot read the adapter's database" in captured.err
    assert "hunter2" not in captured.err + captured.out


def test_a_payment_open_past_its_expiry_is_listed(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def store_open_payment() -> None:
        db = Database(f"sqlite+aiosqlite:///{config.parent}/adapter.sqlite3")
        await PaymentStore(db).insert(a_payment(state=PaymentState.UNKNOWN))  # created long ago
        await db.dispose()

    asyncio.run(store_open_payment())
    assert main(["attention", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Payments open past their expiry")
    assert f"pay_id={PAY_ID} merchant=Shop amount=1000 EUR state=UNKNOWN" in out


def test_a_dead_shop_notification_is_listed_but_is_no_alarm(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def store_dead_notification() -> None:
        db = Database(f"sqlite+aiosqlite:///{config.parent}/adapter.sqlite3")
        store = PaymentStore(db)
        await store.insert(a_payment())
        await store.finalize(
            PAY_ID, PaymentState.SUCCESS, now=NOW, from_states=OPEN_STATES, notice=NOTICE
        )
        (claimed,) = await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=9))
        await store.record_attempts([a_failed_attempt(claimed.id, NOW, 500, None)])
        await db.dispose()

    asyncio.run(store_dead_notification())
    assert main(["attention", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Shop notifications whose retries ran out")
    assert f"pay_id={PAY_ID} state=SUCCESS attempts=1 url=https://s/n" in out


def _port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_ctrl_c_stops_the_servers_with_a_goodbye_and_exit_code_0(
    command: str, config: Path, tmp_path: Path
) -> None:
    port = free_ports(3)  # the demo takes port, port + 1 and port + 2
    if command == "serve":
        args = ["serve", "--config", str(config), "--port", str(port)]
    else:
        args = ["demo", "--port", str(port), "--data-dir", str(tmp_path / "demo")]
    process = subprocess.Popen(
        [sys.executable, "-m", "adapter.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TOKEN": "t" * 32, "HMAC_NEW": "k"},
    )

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{command} exited before listening: {process.communicate()}")
        return _port_accepts(port)

    try:
        # Generous: on a busy machine the demo's key generation and start-up take a while.
        wait_until(listening, timeout=120, message=f"{command} never listened")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Goodbye" in out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
