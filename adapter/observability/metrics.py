"""Prometheus metrics, counted at the journal's hops (the same points, never recomputed).

Counters and histograms move as hops happen (:func:`count_hop`, a journal observer). The
levels that live in the database (outbox backlog and dead count, open payments by state, the
reconciler's backlog) are read when /metrics is scraped. Label values are bounded: endpoints,
APIs, states and outcomes are closed sets, codes are reduced to their class.

Under ``serve --workers N`` every worker writes its values to ``PROMETHEUS_MULTIPROC_DIR``, and
/metrics, whichever worker answers it, adds them up.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase

from adapter.model import Event, Hop

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 8.0, 10.0, 15.0)

REQUESTS = Counter(
    "paygate_requests",
    "Paygate requests answered, by endpoint, Status and class of Code (its first digit)",
    ["endpoint", "status", "code_class"],
)
ALIPAY_CALLS = Counter(
    "paygate_alipayplus_calls",
    "Calls to Alipay+, by API and result status (S, F, U, or none without a trusted answer)",
    ["api", "result_status"],
)
ALIPAY_LATENCY = Histogram(
    "paygate_alipayplus_call_duration_seconds",
    "Time of one call to Alipay+, by API",
    ["api"],
    buckets=_LATENCY_BUCKETS,
)
NOTIFY_DELIVERIES = Counter(
    "paygate_shop_notify_deliveries",
    "URLNotify delivery attempts, by outcome (delivered, retry, dead)",
    ["outcome"],
)
NOTIFY_LATENCY = Histogram(
    "paygate_shop_notify_duration_seconds",
    "Time of one URLNotify delivery attempt",
    buckets=_LATENCY_BUCKETS,
)
PAYMENT_STATES = Counter(
    "paygate_payment_transitions",
    "Payments reaching a state",
    ["state"],
)
NOTIFY_INBOUND = Counter(
    "paygate_alipayplus_notifications",
    "notifyPayment received from Alipay+, by verdict (accepted or the refusal's result code)",
    ["verdict"],
)
RECONCILER_PASS = Histogram(
    "paygate_reconciler_pass_duration_seconds",
    "Time of one reconciler pass over what was due",
    buckets=(0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
)
# Levels read from the database at scrape time: the same in every process.
OUTBOX = Gauge(
    "paygate_shop_notifications",
    "Shop notifications by status (pending is the backlog, dead ran out of retries)",
    ["status"],
    multiprocess_mode="mostrecent",
)
OPEN_PAYMENTS = Gauge(
    "paygate_open_payments",
    "Payments not final yet, by state",
    ["state"],
    multiprocess_mode="mostrecent",
)
RECONCILER_BACKLOG = Gauge(
    "paygate_reconciler_backlog",
    "Open payments and steps due for the reconciler now",
    multiprocess_mode="mostrecent",
)

_NOTIFY_VERDICTS = frozenset({"INVALID_SIGNATURE", "PARAM_ILLEGAL", "ORDER_NOT_EXIST"})


@functools.lru_cache(maxsize=1024)
def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    # The child of each label set, looked up once: labels() costs more than the count, and
    # every request counts at least one. The label sets are few (see above).
    return metric.labels(*labels)


def code_class(code: str | None) -> str:
    """``0`` success, ``2``/``4`` errors, ``6`` pending (Paygate's first digit); ``none``."""
    return code[0] if code and code[0] in "0246" else "none"


def count_hop(event: Event) -> None:
    """The journal observer: move the counters this hop moves."""
    match event.hop:
        case Hop.SHOP_REQUEST:
            status = str(event.detail.get("status") or "")
            if status not in ("OK", "AUTHORIZED", "FAILED", "AUTHORIZE_REQUEST", "replayed"):
                status = "redirect" if event.outcome == "redirect" else "other"
            _child(REQUESTS, event.name, status, code_class(event.outcome)).inc()
        case Hop.ALIPAY_CALL:
            result = (event.outcome or "").split(" ", 1)[0]
            _child(ALIPAY_CALLS, event.name, result if result in ("S", "F", "U") else "none").inc()
            _child(ALIPAY_LATENCY, event.name).observe(_seconds(event))
        case Hop.SHOP_NOTIFY:
            _child(NOTIFY_DELIVERIES, event.outcome or "none").inc()
            NOTIFY_LATENCY.observe(_seconds(event))
        case Hop.ALIPAY_NOTIFY:
            verdict = event.outcome if event.outcome in _NOTIFY_VERDICTS else "accepted"
            _child(NOTIFY_INBOUND, verdict).inc()
        case Hop.PAYMENT:
            _child(PAYMENT_STATES, event.name).inc()
        case Hop.STEP | Hop.RECONCILER | Hop.OPERATOR:
            pass


def _seconds(event: Event) -> float:
    ms = event.detail.get("ms")
    return float(ms) / 1000 if isinstance(ms, int | float) else 0.0


def set_levels(
    notifications: Mapping[str, int], open_payments: Mapping[str, int], due: int
) -> None:
    for status in ("pending", "dead"):
        OUTBOX.labels(status).set(notifications.get(status, 0))
    for state in ("NEW", "PENDING", "UNKNOWN"):
        OPEN_PAYMENTS.labels(state).set(open_payments.get(state, 0))
    RECONCILER_BACKLOG.set(due)


def exposition() -> bytes:
    """The text /metrics answers: this process's registry, or all workers' under --workers."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))
    return bytes(generate_latest())
