"""notifyPayment ordering, duplicates and forgeries: one final state, one shop notify.

"Exactly one" is asserted once nothing more can come: the sandbox recorded the adapter's answer
to every notifyPayment it sent, and the payment's shop notification is recorded delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import HTTP_TIMEOUT, Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.e2e.test_checkout import _click, _result, _start
from tests.support.shop import Received
from tests.support.waiting import wait_until


def _acked(stack: Stack) -> list[bool]:
    """Whether the adapter acknowledged each notifyPayment the sandbox sent, in order."""
    attempts = stack.sim("notifications")["attempts"]
    assert isinstance(attempts, list)
    return [bool(a["acked"]) for a in attempts]


def _answered(stack: Stack, count: int) -> list[bool]:
    """:func:`_acked`, once the adapter has answered ``count`` notifyPayments (the sandbox
    records an attempt when the answer is in)."""

    def answered() -> list[bool]:
        acked = _acked(stack)
        return acked if len(acked) >= count else []

    return wait_until(
        answered,
        message=lambda: f"the adapter answered {len(_acked(stack))} notifies, not {count}",
    )


def test_notify_before_the_browser_return_settles_the_payment(stack: Stack) -> None:
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-N1"), "pay")
        # An acknowledged notify ends the sandbox's sending: it is the only one.
        assert _answered(stack, 1) == [True]
        assert stack.stored_states() == ["SUCCESS"]
        url, fields, _ = _result(stack, client, return_url)
    assert (url, fields["Status"]) == (f"{stack.shop_url}/success", "OK")
    (notify,) = stack.settled_notifies(fields["PayID"])
    assert notify["Status"] == "OK"
    assert len(stack.received.notifies) == 1


def test_notify_after_the_browser_return_changes_nothing_more(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        return_url = _click(client, _start(stack, client, "T-N2"), "pay")
        _, fields, _ = _result(stack, client, return_url)  # settled by inquiryPayment
    assert fields["Status"] == "OK"
    (pay_id,) = stack.stored_pay_ids()
    # The sandbox records the attempt once the adapter has answered, so this notify has been
    # handled completely when the call returns.
    stack.sim(f"notifications/{pay_id}/send", {})
    assert _acked(stack) == [True]
    (notify,) = stack.settled_notifies(pay_id)
    assert notify["Status"] == "OK"
    assert len(stack.received.notifies) == 1
    assert stack.stored_states() == ["SUCCESS"]


def test_duplicate_notifies_give_exactly_one_shop_notify(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "duplicate"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _click(client, _start(stack, client, "T-N3"), "pay")
    # Both copies of the first round acknowledged: the sandbox sends no further round.
    assert _answered(stack, 2) == [True, True]
    (pay_id,) = stack.stored_pay_ids()
    stack.sim(f"notifications/{pay_id}/send", {})
    assert _acked(stack) == [True, True, True]
    assert [n["final_state"] for n in stack.notifications_of(pay_id)] == ["SUCCESS"]
    (notify,) = stack.settled_notifies(pay_id)
    assert notify["Status"] == "OK"
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
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _click(client, _start(stack, client, "T-N4"), "pay")
    # The adapter answered the forged notify (the sandbox recorded the refusal): it changed
    # nothing, and no shop notification was queued, so none can ever be sent.
    assert _answered(stack, 1)[0] is False
    (pay_id,) = stack.stored_pay_ids()
    assert stack.state_of(pay_id) == "PENDING"
    assert stack.notifications_of(pay_id) == []
    assert stack.received.notifies == []


def test_a_forged_notify_without_headers_is_refused(stack: Stack) -> None:
    body = b'{"paymentRequestId":"x","paymentResult":{"resultCode":"SUCCESS","resultStatus":"S"}}'
    response = httpx.post(f"{stack.adapter_url}/alipayplus/notify", content=body)
    assert response.json()["result"]["resultCode"] == "INVALID_SIGNATURE"


def test_lost_notify_is_made_up_for_by_reconciliation(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        _click(client, _start(stack, client, "T-N5"), "pay")  # the shopper never returns
    (pay_id,) = stack.stored_pay_ids()
    stack.await_state(pay_id, "SUCCESS")
    (notify,) = stack.settled_notifies(pay_id)
    assert notify["Status"] == "OK"


def test_abandoned_checkout_ends_failed_by_reconciliation_after_expiry(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "withhold"})
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        client.get(_start(stack, client, "T-N6"))
    stack.sim("clock/advance", {"seconds": 11 * 60})
    (pay_id,) = stack.stored_pay_ids()
    stack.await_state(pay_id, "FAILED")
    (notify,) = stack.settled_notifies(pay_id)
    assert (notify["Status"], notify["Code"][0]) == ("FAILED", "2")


def test_the_answer_to_a_notify_is_signed_json(stack: Stack) -> None:
    response = httpx.post(f"{stack.adapter_url}/alipayplus/notify", content=b"{}")
    assert response.status_code == 200
    assert response.headers.get_list("content-type") == ["application/json; charset=UTF-8"]
    assert response.headers["client-id"]
    assert "signature=" in response.headers["signature"]
    assert response.headers["response-time"]


def test_a_notify_larger_than_64_kib_is_refused_unread(stack: Stack) -> None:
    response = httpx.post(f"{stack.adapter_url}/alipayplus/notify", content=b"{" * 70_000)
    assert response.status_code == 413
    assert response.json()["result"] == {
        "resultCode": "PARAM_ILLEGAL",
        "resultStatus": "F",
        "resultMessage": "too large",
    }


def test_the_notify_path_takes_only_post(stack: Stack) -> None:
    response = httpx.get(f"{stack.adapter_url}/alipayplus/notify")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
