"""The operator commands over a real database (SQLite and PostgreSQL) beside a serving adapter,
its Alipay+ sandbox and a shop: URLNotify listed and resent, payments reconciled with progress
and a summary, keys, migrations and password hashes, and their exit codes."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from adapter.alipayplus.signing import load_private_key, load_public_key
from adapter.cli import main, parse_since
from adapter.store.tables import events, notifications
from tests.support.config import with_values, write_config
from tests.support.console import ConsoleStack, running_console_stack
from tests.support.postgres import create_database, drop_database
from tests.support.shop import Received
from tests.support.waiting import wait_until

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    url = asyncio.run(create_database()) if request.param == "postgres" else None
    settings = {"database_url": url} if url else {}
    try:
        with running_console_stack(
            tmp_path_factory.mktemp(f"cli-{request.param}"), Received(), adapter_settings=settings
        ) as running:
            yield running
    finally:
        if url:
            asyncio.run(drop_database(url))


def _cli(stack: ConsoleStack, *args: str) -> int:
    return main([*args, "--config", str(stack.config_path)])


def _notify_status(stack: ConsoleStack, pay_id: str) -> list[str]:
    return stack.column(select(notifications.c.status).where(notifications.c.pay_id == pay_id))


def _dead_payment(stack: ConsoleStack, trans_id: str) -> str:
    """A paid payment whose URLNotify the shop refused until it was dead."""
    stack.received.notify_status = 500
    try:
        pay_id = stack.paid_payment(trans_id)
        wait_until(lambda: _notify_status(stack, pay_id) == ["dead"], message="never dead")
    finally:
        stack.received.notify_status = 200
    return pay_id


def _operators(stack: ConsoleStack, pay_id: str) -> list[str]:
    query = select(events.c.actor).where(events.c.pay_id == pay_id, events.c.hop == "operator")
    return stack.column(query)


def test_notifies_list_shows_dead_ones_and_requeue_resends_them_once_now(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    pay_id = _dead_payment(stack, "CLI-DEAD-1")
    assert _cli(stack, "notifies", "list", "--show", "dead", "--merchant", "TestShop") == 0
    listed = capsys.readouterr().out
    assert pay_id in listed and "CLI-DEAD-1" in listed and " dead " in listed

    code = _cli(stack, "notifies", "requeue", "--pay-id", pay_id, "--operator", "carol")

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Resending URLNotify" in captured.err and "1/1" in captured.err  # the progress
    assert "delivered" in captured.out and "1 delivered, 0 not delivered" in captured.out
    assert _notify_status(stack, pay_id) == ["delivered"]
    assert len(stack.notifies_for(pay_id)) == 3  # two refused, and the one resent
    assert _operators(stack, pay_id) == ["carol"]


def test_a_requeued_notification_the_shop_still_refuses_exits_1(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    pay_id = _dead_payment(stack, "CLI-DEAD-2")
    stack.received.notify_status = 503
    try:
        code = _cli(stack, "notifies", "requeue", "--pay-id", pay_id)
    finally:
        stack.received.notify_status = 200
    out = capsys.readouterr().out
    assert code == 1
    assert "HTTP 503" in out and "0 delivered, 1 not delivered" in out
    assert _notify_status(stack, pay_id) == ["dead"]


def test_requeue_must_be_told_which_and_nothing_matching_is_fine(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(stack, "notifies", "requeue") == 2
    assert "--all-dead" in capsys.readouterr().err
    assert _cli(stack, "notifies", "requeue", "--id", "987654") == 0
    assert "Nothing to resend" in capsys.readouterr().out


def _paid_without_notify(stack: ConsoleStack, *trans_ids: str) -> list[str]:
    """Payments the shopper paid at Alipay+ whose notify never reached the adapter."""
    pay_ids = [stack.open_payment(trans_id) for trans_id in trans_ids]
    for pay_id in pay_ids:
        stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    assert {stack.state_of(pay_id) for pay_id in pay_ids} == {"PENDING"}
    return pay_ids


def test_reconcile_settles_open_payments_with_progress_and_a_summary(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    try:
        pay_ids = _paid_without_notify(stack, "CLI-REC-1", "CLI-REC-2")
        code = _cli(stack, "reconcile", "--merchant", "TestShop", "--operator", "dora")
    finally:
        stack.sim("notify-policy", {"mode": "normal"})
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "Reconciling" in captured.err and "2/2" in captured.err
    assert "Reconciled" in captured.out and "SUCCESS" in captured.out
    assert all(pay_id in captured.out for pay_id in pay_ids)  # listed as changed
    assert [stack.state_of(pay_id) for pay_id in pay_ids] == ["SUCCESS", "SUCCESS"]
    assert [_operators(stack, pay_id) for pay_id in pay_ids] == [["dora"], ["dora"]]


def test_reconcile_exits_1_while_a_payment_stays_open(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    pay_id = stack.open_payment("CLI-OPEN")  # the shopper has not paid yet
    assert _cli(stack, "reconcile", "--pay-id", pay_id) == 1
    out = capsys.readouterr().out
    assert "PENDING, still open" in out and pay_id in out


def test_reconcile_since_a_moment_leaves_older_payments_alone(
    stack: ConsoleStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.open_payment("CLI-OLDER")
    assert _cli(stack, "reconcile", "--since", "2999-01-01") == 0
    assert "Nothing to reconcile" in capsys.readouterr().out


def test_in_a_terminal_reconcile_draws_a_live_progress_bar(stack: ConsoleStack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    try:
        pay_ids = _paid_without_notify(stack, "CLI-TTY-1", "CLI-TTY-2")
        done = subprocess.run(
            [sys.executable, "-m", "adapter.cli", "reconcile", "--config", str(stack.config_path)]
            + [arg for pay_id in pay_ids for arg in ("--pay-id", pay_id)],
            capture_output=True,
            text=True,
            timeout=120,
            # Rich draws for a terminal when told it is one.
            env={**os.environ, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "120"},
        )
    finally:
        stack.sim("notify-policy", {"mode": "normal"})
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stderr  # redrawn in place
    # How many frames show before the end depends on the machine's speed; the last is 2/2.
    assert "2/2" in done.stderr
    assert "SUCCESS" in done.stdout


def test_since_takes_durations_and_moments() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("3d", now) == now - timedelta(days=3)
    assert parse_since("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T08:00+01:00", now) == datetime(2026, 12, 1, 7, tzinfo=UTC)
    with pytest.raises(ValueError, match="30m, 12h, 3d"):
        parse_since("yesterday", now)


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/fresh.sqlite3"
        return
    url = asyncio.run(create_database())
    yield url
    asyncio.run(drop_database(url))


def test_migrate_brings_an_empty_database_to_the_newest_revision_once(
    empty_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    config = with_values(write_config(tmp_path), "adapter", database_url=empty_database)
    assert main(["migrate", "--config", str(config)]) == 0
    assert "migrated the database from revision (empty) to 0008" in capsys.readouterr().out
    assert main(["migrate", "--config", str(config)]) == 0
    assert "at revision 0008, the newest: nothing to do" in capsys.readouterr().out
    assert main(["notifies", "list", "--config", str(config)]) == 0


def test_an_unreachable_database_exits_2_without_showing_its_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    secret_url = "postgresql://ops:hunter2@127.0.0.1:1/adapter"
    config = with_values(write_config(tmp_path), "adapter", database_url=secret_url)
    for command in (["notifies", "list"], ["reconcile"], ["migrate"]):
        assert main([*command, "--config", str(config)]) == 2
        captured = capsys.readouterr()
        assert "cannot use the adapter's database" in captured.err
        assert "hunter2" not in captured.err + captured.out


def test_keygen_writes_a_private_pem_only_its_owner_reads_and_the_bare_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    assert main(["keygen", "--out", str(out)]) == 0
    private = load_private_key((out / "acqp_private.pem").read_text())
    assert stat.S_IMODE((out / "acqp_private.pem").stat().st_mode) == 0o600
    bare = (out / "acqp_public.txt").read_text().strip()
    assert "-----" not in bare and bare in capsys.readouterr().out
    public = load_public_key(bare)  # the portal's form: base64 of the DER SubjectPublicKeyInfo
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert public.public_bytes(serialization.Encoding.DER, spki) == base64.b64decode(bare)
    assert public.public_numbers() == private.public_key().public_numbers()
    assert load_public_key((out / "acqp_public.pem").read_text()).public_numbers() == (
        public.public_numbers()
    )

    assert main(["keygen", "--out", str(out)]) == 2  # never overwritten by accident
    assert "--force" in capsys.readouterr().err
    assert load_private_key((out / "acqp_private.pem").read_text()).private_numbers() == (
        private.private_numbers()
    )
    assert main(["keygen", "--out", str(out), "--force"]) == 0


def _hash_password(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapter.cli", "hash-password"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hash_password_prints_an_argon2_hash_of_the_password_on_stdin() -> None:
    done = _hash_password("a long enough password\n")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert printed.startswith("$argon2id$")
    assert PasswordHasher().verify(printed, "a long enough password")  # no newline in it
    assert "a long enough password" not in done.stdout + done.stderr


def test_hash_password_refuses_an_empty_password_and_warns_of_a_short_one() -> None:
    empty = _hash_password("")
    assert empty.returncode == 2 and "no password" in empty.stderr and not empty.stdout
    short = _hash_password("short")
    assert short.returncode == 0 and "fewer than 12 characters" in short.stderr


@pytest.mark.parametrize(
    "command", [["notifies", "list"], ["notifies", "requeue"], ["reconcile"], ["keygen"]]
)
def test_every_operator_command_documents_its_exit_codes(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "exit codes:\n  0  done" in capsys.readouterr().out
