"""Two adapter processes on one PostgreSQL database under a mixed load with upstream faults, one
killed with SIGKILL mid-run and restarted: nothing lost, invented or doubled."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapter.paygate.fields import Fields
from adapter.store.tables import notifications, operations, payments
from tests.e2e.instances import Instances, running_instances
from tests.support.postgres import create_database, drop_database
from tests.support.s2s import S2SClient, answer_fields
from tests.support.waiting import wait_until

PAYMENTS = 40
SETTINGS = {
    "operation_budget_seconds": 3,
    "reconcile_after_seconds": 4,
    "reconcile_interval_seconds": 0.3,
    "reconcile_max_interval_seconds": 1,
    "pay_budget_seconds": 3,
    "cancel_open_after_seconds": 3600,
    "notify_retry_seconds": [0.3, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
}
# Upstream trouble, by API: (mode, how many calls, delay)
FAULTS = [
    {"api": "refund", "mode": "delay", "count": 6, "delay_seconds": 1.5},
    {"api": "refund", "mode": "http_500", "count": 4},
    {"api": "refund", "mode": "drop_after_commit", "count": 2},
    {"api": "cancelPayment", "mode": "http_500", "count": 2},
]
RESENT_BY_FAULTS = {"refund": 4 + 2, "cancelPayment": 2}  # the delays are answered in time
KILL_RECORDING_LAG_SECONDS = 0.1


_SANDBOX_STATES = {"SUCCESS": "SUCCESS", "FAIL": "FAILED"}


@dataclass
class Job:
    """One shop request; repeated through the proxy if the instance it went to died."""

    endpoint: str
    fields: dict[str, str]
    instance: int  # which adapter it is sent to first


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = asyncio.run(create_database())
    yield url
    asyncio.run(drop_database(url))


def _rows(it: Instances, *columns: Any) -> list[dict[str, Any]]:
    return it.rows(select(*columns))


def _open_payment(it: Instances, trans_id: str) -> str:
    request = it.shop.request(it.payment_fields(trans_id, "1000"))
    response = httpx.post(f"{it.public_url}/alipayplus.aspx", data=request, timeout=60)
    assert response.status_code == 303, response.text
    (row,) = it.rows(select(payments.c.pay_id).where(payments.c.trans_id == trans_id))
    return str(row["pay_id"])


def _jobs(paid: list[str]) -> list[Job]:
    jobs: list[Job] = []
    for pay_id in paid[:10]:  # the same credit sent to both instances at once
        fields = {"PayID": pay_id, "TransID": "C1", "Amount": "300", "Currency": "EUR"}
        fields["ReqId"] = secrets.token_hex(8)
        jobs += [Job("credit", fields, 0), Job("credit", dict(fields), 1)]
    for pay_id in paid[10:20]:  # two different credits, one to each instance, at once
        for n in (0, 1):
            fields = {"PayID": pay_id, "TransID": f"C{n}", "Amount": "400", "Currency": "EUR"}
            jobs.append(Job("credit", {**fields, "ReqId": secrets.token_hex(8)}, n))
    for n, pay_id in enumerate(paid[20:26]):  # reversals
        fields = {"PayID": pay_id, "TransID": "R", "Amount": "1000", "Currency": "EUR"}
        jobs.append(Job("reverse", {**fields, "ReqId": secrets.token_hex(8)}, n % 2))
    return jobs


def _send(it: Instances, http: httpx.Client, job: Job) -> Fields:
    """As a shop does: a request that got no answer is repeated with the same ReqId through the
    proxy, and a pending answer is asked again until it is final (a killed instance's claims
    are taken over when their leases expire)."""
    first = _final(it, http, it.adapters[job.instance].url, job)
    if first is not None:
        return first
    return wait_until(
        lambda: _final(it, http, it.public_url, job),
        timeout=120,
        message=f"{job} never got a final answer",
    )


def _final(it: Instances, http: httpx.Client, url: str, job: Job) -> Fields | None:
    """The final answer to ``job`` from ``url``; None for no answer or a pending one."""
    client = S2SClient(it.shop, url, http)
    try:
        response = client.send(job.endpoint, client.outer(job.fields))
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    answer = answer_fields(it.shop, response)
    return None if answer["Status"] == "AUTHORIZE_REQUEST" else answer


def _kill_and_restart(it: Instances) -> float:
    """SIGKILL the first instance once Alipay+ has refunds in flight, then start it again."""
    wait_until(
        lambda: sum(1 for key in it.sim("calls")["times"] if key.startswith("refund")) >= 6,
        message="no refunds reached Alipay+",
    )
    assert it.adapters[0].process is not None
    it.adapters[0].process.kill()
    it.adapters[0].wait()
    # When it was gone, not when the signal was sent: it went on calling Alipay+ until then,
    # and the simulator records the last of those calls a moment later still.
    killed_at = time.time() + KILL_RECORDING_LAG_SECONDS
    it.adapters[0].start()
    return killed_at


def _settled(it: Instances) -> bool:
    states = _rows(it, payments.c.state)
    steps = _rows(it, operations.c.state)
    queued = _rows(it, notifications.c.status)
    return (
        all(r["state"] in ("SUCCESS", "FAILED", "CANCELLED") for r in states)
        and all(r["state"] in ("SUCCESS", "FAILED") for r in steps)
        and all(r["status"] == "delivered" for r in queued)
    )


@pytest.mark.postgres
def test_two_instances_lose_nothing_and_double_nothing_under_load_and_a_sigkill(
    tmp_path: Path, postgres_url: str
) -> None:
    with running_instances(tmp_path, postgres_url, count=2, adapter_settings=SETTINGS) as it:
        with ThreadPoolExecutor(8) as pool:
            pay_ids = list(pool.map(lambda n: _open_payment(it, f"D-{n}"), range(PAYMENTS)))
        for n, pay_id in enumerate(pay_ids):
            it.sim(f"payments/{pay_id}/complete", {"status": "F" if n % 5 == 4 else "S"})
        paid = [pay_id for n, pay_id in enumerate(pay_ids) if n % 5 != 4]
        wait_until(
            lambda: {r["state"] for r in _rows(it, payments.c.state)} <= {"SUCCESS", "FAILED"},
            timeout=60,
            message="the shoppers' payments were not all settled",
        )
        it.replace_faults(*FAULTS)
        jobs = _jobs(paid)
        with httpx.Client(timeout=120) as http, ThreadPoolExecutor(len(jobs)) as pool:
            answers = pool.map(lambda job: _send(it, http, job), jobs)
            killed_at = _kill_and_restart(it)
            results = list(zip(jobs, answers, strict=True))
        wait_until(lambda: _settled(it), timeout=120, message="the load never settled")
        _check_ledgers(it, pay_ids, results)
        _check_no_double_sends(it, killed_at)
        _check_notifies(it)


def _check_ledgers(it: Instances, pay_ids: list[str], results: list[tuple[Job, Fields]]) -> None:
    stored = {r["pay_id"]: r for r in _rows(it, payments.c.pay_id, payments.c.state)}
    steps = _rows(
        it,
        operations.c.pay_id,
        operations.c.kind,
        operations.c.state,
        operations.c.amount,
        operations.c.req_id,
    )
    credited: Counter[str] = Counter()
    for step in steps:
        if step["kind"] == "credit" and step["state"] == "SUCCESS":
            credited[step["pay_id"]] += step["amount"]
    for pay_id in pay_ids:
        ledger = it.sim(f"payments/{pay_id}")
        state = stored[pay_id]["state"]
        refunded = sum(r["amount"] for r in ledger["refunds"] if r["status"] == "SUCCESS")
        assert refunded == credited[pay_id], (pay_id, ledger, credited[pay_id])
        assert refunded <= ledger["amount"], pay_id  # never more than was paid
        if state == "CANCELLED":
            assert ledger["cancelled"], pay_id
        else:
            assert not ledger["cancelled"], pay_id
            assert _SANDBOX_STATES[ledger["state"]] == state, (pay_id, ledger["state"], state)
    # One step per ReqId, whichever instance got it first; the shop got its final answer.
    assert all(count == 1 for count in Counter(s["req_id"] for s in steps).values())
    for job, answer in results:
        assert answer["Status"] == "OK", (job, dict(answer))


def _check_no_double_sends(it: Instances, killed_at: float) -> None:
    """Each step reached Alipay+ once, but for the retries the faults and the kill explain."""
    times: dict[str, list[float]] = it.sim("calls")["times"]
    extra: defaultdict[str, int] = defaultdict(int)
    in_flight_at_kill: defaultdict[str, int] = defaultdict(int)
    for key, at in times.items():
        api = key.split(" ", 1)[0]
        if api not in RESENT_BY_FAULTS:
            continue
        extra[api] += len(at) - 1
        budget = float(str(SETTINGS["operation_budget_seconds"]))
        if at[0] <= killed_at <= at[0] + budget + 1:
            in_flight_at_kill[api] += 1
    print(
        f"re-sends by API: {dict(extra)}; first sent shortly before the kill: {in_flight_at_kill}"
    )
    for api, faults in RESENT_BY_FAULTS.items():
        assert extra[api] <= faults + in_flight_at_kill[api], (api, extra, in_flight_at_kill)


def _check_notifies(it: Instances) -> None:
    """Every final state reached from open was notified; repeats are the same bytes."""
    final = {r["pay_id"] for r in _rows(it, payments.c.pay_id, payments.c.state)}
    queued = _rows(it, notifications.c.pay_id, notifications.c.final_state)
    assert Counter(r["pay_id"] for r in queued) == Counter(final)  # one per payment
    bodies: defaultdict[str, set[bytes]] = defaultdict(set)
    for body, pairs in zip(it.received.bodies, it.received.notifies, strict=True):
        bodies[it.shop.decode(pairs)["PayID"]].add(body)
    assert set(bodies) == final
    assert all(len(seen) == 1 for seen in bodies.values())
