"""``paygate-adapter attention``: what an operator must act on, from the adapter's database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.model import OperationKind, OperationState, PaymentState
from adapter.store.db import Database, migrate
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from tests.support.config import with_values, write_config
from tests.support.models import PAY_ID, a_payment, a_step


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
