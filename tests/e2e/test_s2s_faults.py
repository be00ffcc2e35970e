"""Upstream trouble scripted in the sandbox: never FAILED for what may have happened, every retry
with the same request id, and afterwards our state and the sandbox ledger agree.

The S2S stack caps each Alipay+ call at 1 s and gives each request 3 s.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapter.store.tables import operations
from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient
from tests.support.waiting import wait_until


def fault(stack: Stack, api: str, mode: str, **extra: Any) -> None:
    stack.sim("faults", {"api": api, "mode": mode, **extra})


def refund_calls(stack: Stack, refund_request_id: str) -> int:
    by_id: dict[str, dict[str, int]] = stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    return by_id.get(refund_request_id, {}).get("refund", 0)


def assert_one_refund(stack: Stack, pay_id: str, xid: str, amount: int) -> None:
    ledger = stack.ledger(pay_id)
    assert ledger["refunded"] == amount
    assert [(r["refundRequestId"], r["status"]) for r in ledger["refunds"]] == [(xid, "SUCCESS")]


@pytest.mark.parametrize(
    ("mode", "extra"),
    [
        ("delay", {"delay_seconds": 1.5}),  # the answer comes after our 1 s timeout
        ("stall", {"delay_seconds": 1.5}),  # our 1 s timeout, and nothing was processed
        ("http_500", {}),  # 5xx without processing
        ("result", {"result_code": "UNKNOWN_EXCEPTION", "result_status": "U"}),
        ("result", {"result_code": "REQUEST_TRAFFIC_EXCEED_LIMIT", "result_status": "U"}),
        ("drop_after_commit", {}),  # refunded, but the answer is lost
    ],
)
def test_a_credit_retried_within_its_budget_refunds_once(
    s2s_stack: Stack, s2s: S2SClient, mode: str, extra: dict[str, Any]
) -> None:
    trans_id = f"FT-{mode}-{extra.get('result_code', '')}"
    pay_id = s2s_stack.paid_payment(trans_id, "900")
    fault(s2s_stack, "refund", mode, **extra)
    answer = s2s.credit(pay_id, f"{trans_id}-R", "900")
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    # At least one retry, all with the same refundRequestId (a dropped keep-alive connection
    # can add one more).
    assert refund_calls(s2s_stack, answer["XID"]) >= 2
    if mode == "delay":
        s2s_stack.after_delayed_calls(extra["delay_seconds"])  # the late original too
    assert_one_refund(s2s_stack, pay_id, answer["XID"], 900)


def test_a_credit_still_unknown_at_the_end_of_its_budget_is_pending_then_final(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("FT-SLOW", "900")
    # Every attempt is processed upstream but answers only after our timeout.
    fault(s2s_stack, "refund", "delay", delay_seconds=1.2, count=10)
    first = s2s.credit(pay_id, "FT-SLOW-R", "900")
    assert (first["Status"], first["Code"]) == ("AUTHORIZE_REQUEST", "61500003")
    assert s2s_stack.ledger(pay_id)["refunded"] == 900  # it did happen: never say FAILED
    s2s_stack.clear_faults()
    again = s2s.credit(pay_id, "FT-SLOW-R", "900")
    assert (again["Status"], again["Code"], again["XID"]) == ("OK", "00000000", first["XID"])
    assert_one_refund(s2s_stack, pay_id, first["XID"], 900)
    inquiry = s2s.call("inquire", {"PayID": pay_id})
    assert inquiry["AmountCred"] == "900"


def test_an_unknown_credit_is_settled_by_the_reconciler(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("FT-RECON", "900")
    fault(s2s_stack, "refund", "http_500", count=100)  # until cleared, reconciler included
    first = s2s.credit(pay_id, "FT-RECON-R", "900")
    assert (first["Status"], first["Code"]) == ("AUTHORIZE_REQUEST", "61500003")
    assert s2s_stack.ledger(pay_id)["refunded"] == 0
    s2s_stack.clear_faults()
    wait_until(
        lambda: s2s_stack.ledger(pay_id)["refunded"] != 0,
        message="the reconciler did not retry the refund",
    )
    assert_one_refund(s2s_stack, pay_id, first["XID"], 900)
    wait_until(
        lambda: s2s.call("inquire", {"PayID": pay_id})["AmountCred"] == "900",
        message="inquire.aspx never reported the settled refund",
    )


def test_a_cancel_whose_answer_was_lost_is_retried_once_more(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("FT-CDROP", "900")
    fault(s2s_stack, "cancelPayment", "drop_after_commit", request_id=pay_id)
    answer = s2s.reverse(pay_id, "FT-CDROP-X", "900")
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    calls: dict[str, dict[str, int]] = s2s_stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    assert calls[pay_id]["cancelPayment"] >= 2
    assert s2s_stack.ledger(pay_id)["state"] == "CANCELLED"
    assert s2s_stack.state_of(pay_id) == "CANCELLED"


def test_a_success_notify_after_an_unknown_cancel_still_ends_cancelled(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.open_payment("FT-CRACE", "900")
    fault(s2s_stack, "cancelPayment", "result", request_id=pay_id, count=100)
    answer = s2s.reverse(pay_id, "FT-CRACE-X", "900")
    assert (answer["Status"], answer["Code"]) == ("AUTHORIZE_REQUEST", "61500003")
    # The shopper pays anyway; the notify must not make the payment paid.
    s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    s2s_stack.await_state(pay_id, "CANCELLED")
    s2s_stack.clear_faults()
    wait_until(
        lambda: s2s_stack.ledger(pay_id)["state"] == "CANCELLED",
        message="the reconciler did not retry the cancel",
    )
    again = s2s.reverse(pay_id, "FT-CRACE-X", "900")
    assert (again["Status"], again["Code"], again["XID"]) == ("OK", "00000000", answer["XID"])
    assert s2s_stack.state_of(pay_id) == "CANCELLED"


def test_repeat_req_inconsistent_is_not_taken_as_a_failed_refund(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """Alipay+ knows another refund under this id: it may have happened, so never FAILED."""
    pay_id = s2s_stack.paid_payment("FT-RRI", "900")
    fault(
        s2s_stack,
        "refund",
        "result",
        result_code="REPEAT_REQ_INCONSISTENT",
        result_status="F",
        count=100,
    )
    answer = s2s.credit(pay_id, "FT-RRI-R", "900")
    assert (answer["Status"], answer["Code"]) == ("AUTHORIZE_REQUEST", "61500003")
    inquiry = s2s.call("inquire", {"PayID": pay_id})
    assert inquiry["AmountCred"] == "0"
    s2s_stack.clear_faults()


def _cancelled_but_paid(stack: Stack, s2s: S2SClient, trans_id: str) -> str:
    """A payment the shopper paid while its reversal was unknown: we report it CANCELLED."""
    pay_id = stack.open_payment(trans_id, "900")
    fault(stack, "cancelPayment", "result", request_id=pay_id, count=100)
    assert s2s.reverse(pay_id, f"{trans_id}-X", "900")["Code"] == "61500003"
    stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    stack.await_state(pay_id, "CANCELLED")
    return pay_id


REFUSED = {"mode": "result", "result_code": "PROCESS_FAIL", "result_status": "F", "count": 100}


def test_a_cancel_refused_after_a_success_notify_is_refunded_instead(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """The shop was told CANCELLED while the shopper paid: the money goes back by a refund."""
    pay_id = _cancelled_but_paid(s2s_stack, s2s, "FT-CREFUSED")
    s2s_stack.replace_faults({"api": "cancelPayment", "request_id": pay_id, **REFUSED})
    wait_until(
        lambda: s2s_stack.ledger(pay_id)["refunded"] != 0,
        message="the reconciler did not refund the paid payment",
    )
    answer = s2s.reverse(pay_id, "FT-CREFUSED-X", "900")
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    assert_one_refund(s2s_stack, pay_id, answer["XID"], 900)
    [refund] = s2s_stack.ledger(pay_id)["refunds"]
    stored = select(operations.c.alipay_id).where(operations.c.xid == answer["XID"])
    assert s2s_stack.column(stored) == [refund["refundId"]]
    assert s2s_stack.state_of(pay_id) == "CANCELLED"
    assert [n["Status"] for n in s2s_stack.settled_notifies(pay_id)] == ["FAILED"]


def test_a_paid_payment_whose_cancel_and_refund_are_refused_is_reported_to_the_operator(
    s2s_stack: Stack, s2s: S2SClient, caplog: pytest.LogCaptureFixture
) -> None:
    pay_id = _cancelled_but_paid(s2s_stack, s2s, "FT-BOTHREFUSED")
    s2s_stack.replace_faults(
        {"api": "cancelPayment", "request_id": pay_id, **REFUSED}, {"api": "refund", **REFUSED}
    )
    wait_until(
        lambda: f"payment {pay_id}: paid and told CANCELLED" in caplog.text,
        message="the refused cancel and refund were not reported",
    )
    answer = s2s.reverse(pay_id, "FT-BOTHREFUSED-X", "900")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500135")
    assert s2s_stack.ledger(pay_id)["refunds"] == []
    assert s2s_stack.state_of(pay_id) == "CANCELLED"
