"""notifyPayment ordering, duplicates and forgeries: one final state, one shop notify."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.e2e.test_checkout import _click, _result, _start, _wait_for_notifies
from tests.support.shop import Received


def _wait_until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def _acked(stack: Stack) -> list[bool]:
    attempts = stack.sim("notifications")["attempts"]
    assert isinstance(attempts, list)
    return [bool(a["acked"]) for a in attempts]


def test_notify_before_the_browser_return_settles_the_payment(stack: Stack) -> None:
    with httpx.Client() as client:
        return_url = _click(client, _start(stack, client, "T-N1"), "pay")
        _wait_until(lambda: stack.stored_states() == ["SUCCESS"])
        assert stack.stored_states() == ["SUCCESS"]
        assert _acked(stack) == [True]
        url, fields, _ = _result(stack, client, return_url)
    assert (url, fields["Status"]) == (f"{stack.shop_url}/success", "OK")
    _wait_for_notifies(stack, 1)
    time.sleep(0.3)
    assert len(stack.received.notifies) == 1


def test_notify_after_the_browser_return_changes_nothing_more(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client() as client:
        return_url = _click(client, _start(stack, client, "T-N2"), "pay")
        _, fields, _ = _result(stack, client, return_url)  # settled by inquiryPayment
    assert fields["Status"] == "OK"
    (pay_id,) = stack.stored_pay_ids()
    stack.sim(f"notifications/{pay_id}/send", {})
    assert _acked(stack) == [True]
    _wait_for_notifies(stack, 1)
    time.sleep(0.3)
    assert len(stack.received.notifies) == 1
    assert stack.stored_states() == ["SUCCESS"]


def test_duplicate_notifies_give_exactly_one_shop_notify(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "duplicate"})
    with httpx.Client() as client:
        _click(client, _start(stack, client, "T-N3"), "pay")
    _wait_until(lambda: len(_acked(stack)) >= 2)
    (pay_id,) = stack.stored_pay_ids()
    stack.sim(f"notifications/{pay_id}/send", {})
    assert _acked(stack) == [True, True, True]
    _wait_for_notifies(stack, 1)
    time.sleep(0.5)
    assert len(stack.received.notifies) == 1


@pytest.fixture
def unreconciled_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose reconciler waits a minute, so only the notify could change a payment."""
    received = Received()
    with running_stack(
        tmp_path,
        shop_factory(received),
        received,
        adapter_settings={"reconcile_after_seconds": 60},
    ) as running:
        yield running


def test_notify_with_a_bad_signature_is_rejected_and_changes_nothing(
    unreconciled_stack: Stack,
) -> None:
    stack = unreconciled_stack
    stack.sim("notify-policy", {"mode": "bad_signature"})
    with httpx.Client() as client:
        _click(client, _start(stack, client, "T-N4"), "pay")
    _wait_until(lambda: len(_acked(stack)) >= 1)
    assert _acked(stack)[0] is False
    assert stack.stored_states() == ["PENDING"]
    time.sleep(0.3)
    assert stack.received.notifies == []


def test_a_forged_notify_without_headers_is_refused(stack: Stack) -> None:
    body = b'{"paymentRequestId":"x","paymentResult":{"resultCode":"SUCCESS","resultStatus":"S"}}'
    response = httpx.post(f"{stack.adapter_url}/alipayplus/notify", content=body)
    assert response.json()["result"]["resultCode"] == "INVALID_SIGNATURE"


def test_lost_notify_is_made_up_for_by_reconciliation(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client() as client:
        _click(client, _start(stack, client, "T-N5"), "pay")  # the shopper never returns
    _wait_until(lambda: stack.stored_states() == ["SUCCESS"])
    assert stack.stored_states() == ["SUCCESS"]
    (notify,) = _wait_for_notifies(stack, 1)
    assert notify["Status"] == "OK"


def test_abandoned_checkout_ends_failed_by_reconciliation_after_expiry(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client() as client:
        client.get(_start(stack, client, "T-N6"))
    stack.sim("clock/advance", {"seconds": 11 * 60})
    _wait_until(lambda: stack.stored_states() == ["FAILED"])
    assert stack.stored_states() == ["FAILED"]
    (notify,) = _wait_for_notifies(stack, 1)
    assert (notify["Status"], notify["Code"][0]) == ("FAILED", "2")
