"""capture.aspx over real HTTP: an Alipay+ sale is already captured, so capture only confirms."""

from __future__ import annotations

from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient


def _upstream_calls(stack: Stack, pay_id: str) -> dict[str, int]:
    calls: dict[str, dict[str, int]] = stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    return calls.get(pay_id, {})


def test_capturing_a_paid_payment_in_full_is_ok_without_asking_alipay(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CP-FULL", "2000")
    before = _upstream_calls(s2s_stack, pay_id)
    answer = s2s.capture(pay_id, "CP-FULL-C", "2000")
    assert (answer["Status"], answer["Code"], answer["TransID"]) == ("OK", "00000000", "CP-FULL-C")
    assert _upstream_calls(s2s_stack, pay_id) == before
    assert s2s.inquire(pay_id)["AmountCap"] == "2000"


def test_a_partial_capture_is_refused_with_the_hint_to_credit(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CP-PART", "2000")
    answer = s2s.capture(pay_id, "CP-PART-C", "1500")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500045")
    assert "credit" in answer["Description"]


def test_capturing_more_than_was_paid_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("CP-MORE", "2000")
    assert s2s.capture(pay_id, "CP-MORE-C", "2001")["Code"] == "20120007"


def test_capturing_an_open_payment_is_pending_never_failed(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.open_payment("CP-OPEN", "2000")
    answer = s2s.capture(pay_id, "CP-OPEN-C", "2000")
    assert (answer["Status"], answer["Code"]) == ("AUTHORIZE_REQUEST", "61500001")


def test_capturing_a_declined_or_reversed_payment_is_refused(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    declined = s2s_stack.open_payment("CP-DECL", "2000")
    s2s_stack.sim(f"payments/{declined}/complete", {"status": "F"})
    s2s_stack.await_state(declined, "FAILED")
    reversed_ = s2s_stack.paid_payment("CP-REV", "2000")
    assert s2s.reverse(reversed_, "CP-REV-X", "2000")["Code"] == "00000000"
    for pay_id in (declined, reversed_):
        answer = s2s.capture(pay_id, "CP-X-C", "2000")
        assert (answer["Status"], answer["Code"]) == ("FAILED", "21500046")
