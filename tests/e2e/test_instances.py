"""Adapter instances as operators run them: ``serve`` processes, several workers, SIGTERM, a
proxy in front that strips a path prefix, slow Alipay+ calls."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from adapter.paygate.fields import Fields
from adapter.store.tables import payments
from tests.e2e.instances import Instances, running_instances
from tests.support.postgres import create_database, drop_database
from tests.support.s2s import S2SClient
from tests.support.waiting import wait_until


def _state(instances: Instances, pay_id: str) -> str:
    (row,) = instances.rows(select(payments.c.state).where(payments.c.pay_id == pay_id))
    return str(row["state"])


def _open_payment(instances: Instances, trans_id: str) -> str:
    fields = instances.payment_fields(trans_id)
    response = httpx.post(
        f"{instances.public_url}/alipayplus.aspx", data=instances.shop.request(fields)
    )
    assert response.status_code == 303, response.text
    (row,) = instances.rows(select(payments.c.pay_id).where(payments.c.trans_id == trans_id))
    return str(row["pay_id"])


def _paid_payment(instances: Instances, trans_id: str) -> str:
    pay_id = _open_payment(instances, trans_id)
    instances.sim(f"payments/{pay_id}/complete", {"status": "S"})
    wait_until(lambda: _state(instances, pay_id) == "SUCCESS", message=f"{pay_id} not paid")
    return pay_id


def _refund_calls(instances: Instances) -> dict[str, list[float]]:
    times: dict[str, list[float]] = instances.sim("calls")["times"]
    return {key: at for key, at in times.items() if key.startswith("refund ")}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = asyncio.run(create_database())
    yield url
    asyncio.run(drop_database(url))


def _sqlite(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory}/adapter.sqlite3"


def test_sigterm_during_a_slow_credit_still_answers_it(tmp_path: Path) -> None:
    settings = {"operation_budget_seconds": 8, "reconcile_after_seconds": 9}
    with running_instances(tmp_path, _sqlite(tmp_path), count=1, adapter_settings=settings) as it:
        pay_id = _paid_payment(it, "T-TERM")
        it.replace_faults({"api": "refund", "mode": "delay", "delay_seconds": 2})
        answers: list[Fields] = []
        with httpx.Client(timeout=60) as http:
            client = S2SClient(it.shop, it.adapters[0].url, http)
            credit = threading.Thread(
                target=lambda: answers.append(client.credit(pay_id, "T-TERM-C", "100"))
            )
            credit.start()
            wait_until(lambda: _refund_calls(it), message="the refund never reached Alipay+")
            it.adapters[0].signal(signal.SIGTERM)
            credit.join(timeout=60)
        assert it.adapters[0].wait() == 0
    assert [a["Status"] for a in answers] == ["OK"]
    assert "Goodbye" in it.adapters[0].output()


def test_several_workers_are_refused_on_sqlite_which_serves_one_process(tmp_path: Path) -> None:
    with running_instances(tmp_path, _sqlite(tmp_path), count=1) as it:
        config = it.config
    result = subprocess.run(
        [sys.executable, "-m", "adapter.cli", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers needs PostgreSQL: SQLite is for one process" in result.stderr


@pytest.mark.postgres
def test_two_workers_on_postgresql_serve_and_stop_gracefully(
    tmp_path: Path, postgres_url: str
) -> None:
    with running_instances(tmp_path, postgres_url, count=1, workers=2) as it:
        pay_id = _paid_payment(it, "T-WORKERS")
        with httpx.Client(timeout=60) as http:
            client = S2SClient(it.shop, it.public_url, http)
            statuses = [client.credit(pay_id, f"T-W-{n}", "10")["Status"] for n in range(6)]
        it.adapters[0].signal(signal.SIGTERM)
        assert it.adapters[0].wait() == 0
    assert statuses == ["OK"] * 6


def test_notifies_through_a_proxy_that_strips_the_public_path_prefix_are_verified(
    tmp_path: Path,
) -> None:
    # Only the notify can settle the payment: the reconciler would look after an hour.
    settings = {"reconcile_after_seconds": 3600}
    database = _sqlite(tmp_path)
    with running_instances(
        tmp_path, database, count=1, adapter_settings=settings, public_prefix="/paygate"
    ) as it:
        assert it.public_url.endswith("/paygate")
        pay_id = _paid_payment(it, "T-PREFIX")
        assert _state(it, pay_id) == "SUCCESS"


def test_a_slow_refund_call_is_abandoned_at_its_timeout_and_sent_again(tmp_path: Path) -> None:
    """Alipay+ says 8 s per refund call; the operation budget bounds the retries, not one call."""
    settings = {"operation_budget_seconds": 14, "reconcile_after_seconds": 15}
    with running_instances(tmp_path, _sqlite(tmp_path), count=1, adapter_settings=settings) as it:
        pay_id = _paid_payment(it, "T-SLOW")
        it.replace_faults({"api": "refund", "mode": "delay", "delay_seconds": 9.5})
        with httpx.Client(timeout=60) as http:
            answer = S2SClient(it.shop, it.public_url, http).credit(pay_id, "T-SLOW-C", "100")
        (times,) = _refund_calls(it).values()
    assert answer["Status"] == "OK"
    # Re-sent once the call's 8 s passed: waited for, the 9.5 s answer would have been the only.
    assert len(times) == 2
    assert times[1] - times[0] > 7.5
