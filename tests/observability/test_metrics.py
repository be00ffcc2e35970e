"""/metrics: Prometheus exposition whose values move when payments happen."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.instances import Instances, running_instances
from tests.e2e.test_instances import _open_payment, _paid_payment
from tests.support.s2s import S2SClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(it: Instances) -> Samples:
    text = httpx.get(f"{it.public_url}/metrics").text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counters_and_levels_move_when_payments_happen(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    settings = {"operation_budget_seconds": 3, "reconcile_after_seconds": 3600}
    with running_instances(tmp_path, database, count=1, adapter_settings=settings) as it:
        before = _samples(it)
        pay_id = _paid_payment(it, "T-M1")
        _open_payment(it, "T-M2")
        with httpx.Client(timeout=30) as http:
            S2SClient(it.shop, it.public_url, http).credit(pay_id, "T-M1-C", "100")
        after = _samples(it)
    checkout = {"endpoint": "alipayplus", "status": "redirect", "code_class": "none"}
    assert (
        _value(after, "paygate_requests_total", **checkout)
        - _value(before, "paygate_requests_total", **checkout)
        == 2
    )
    credit = {"endpoint": "credit", "status": "OK", "code_class": "0"}
    assert _value(after, "paygate_requests_total", **credit) == 1
    assert _value(after, "paygate_alipayplus_calls_total", api="refund", result_status="S") == 1
    assert _value(after, "paygate_alipayplus_call_duration_seconds_count", api="pay") == 2
    assert _value(after, "paygate_payment_transitions_total", state="SUCCESS") == 1
    assert _value(after, "paygate_open_payments", state="PENDING") == 1
    assert _value(after, "paygate_shop_notify_deliveries_total", outcome="delivered") >= 1
