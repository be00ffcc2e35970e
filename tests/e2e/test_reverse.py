"""reverse.aspx over real HTTP against the Alipay+ sandbox: cancelPayment and its window."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient


def test_reversing_a_paid_payment_cancels_it_at_alipay(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("RV-PAID", "1500")
    answer = s2s.reverse(pay_id, "RV-PAID-X", "1500", RefNr="rv-ref", UserData="ud")
    assert (answer["Status"], answer["Code"], answer["Description"]) == (
        "OK",
        "00000000",
        "success",
    )
    assert (answer["PayID"], answer["TransID"], answer["refnr"], answer["UserData"]) == (
        pay_id,
        "RV-PAID-X",
        "rv-ref",
        "ud",
    )
    ledger = s2s_stack.ledger(pay_id)
    assert (ledger["state"], ledger["cancelled"]) == ("CANCELLED", True)
    assert s2s_stack.state_of(pay_id) == "CANCELLED"
    # The shop was told "paid" once; the reversal it asked for queued no second notify.
    assert [n["final_state"] for n in s2s_stack.notifications_of(pay_id)] == ["SUCCESS"]
    assert [n["Status"] for n in s2s_stack.settled_notifies(pay_id)] == ["OK"]


def test_reversing_an_open_payment_ends_it_cancelled_with_one_failed_notify(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.open_payment("RV-OPEN", "1500")
    answer = s2s.reverse(pay_id, "RV-OPEN-X", "1500")
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    assert s2s_stack.state_of(pay_id) == "CANCELLED"
    (notify,) = s2s_stack.settled_notifies(pay_id)
    assert notify["Status"] == "FAILED"
    assert s2s_stack.ledger(pay_id)["state"] == "CANCELLED"


def test_reverse_outside_the_cancel_window_tells_the_shop_to_credit(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("RV-LATE", "1500")
    # Later payments are created on the advanced clock too, so the other tests are unaffected.
    s2s_stack.sim("clock/advance", {"seconds": 2 * 86400})
    answer = s2s.reverse(pay_id, "RV-LATE-X", "1500")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500139")
    assert "credit" in answer["Description"]
    assert s2s_stack.state_of(pay_id) == "SUCCESS"
    # The failed cancel did not block the payment: the credit the shop is told to use works.
    credit = {"PayID": pay_id, "TransID": "RV-LATE-R", "Amount": "1500", "Currency": "EUR"}
    assert s2s.call("credit", credit)["Code"] == "00000000"
    assert s2s_stack.ledger(pay_id)["refunded"] == 1500


def test_reverse_with_another_amount_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("RV-AMT", "1500")
    answer = s2s.reverse(pay_id, "RV-AMT-X", "1000")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "20120007")
    assert s2s_stack.ledger(pay_id)["cancelled"] is False
    assert s2s_stack.state_of(pay_id) == "SUCCESS"


def test_reverse_after_a_credit_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("RV-CRED", "1500")
    credit = {"PayID": pay_id, "TransID": "RV-CRED-R", "Amount": "500", "Currency": "EUR"}
    assert s2s.call("credit", credit)["Code"] == "00000000"
    answer = s2s.reverse(pay_id, "RV-CRED-X", "1500")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500044")
    assert s2s_stack.ledger(pay_id)["cancelled"] is False


def test_reversing_a_declined_payment_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.open_payment("RV-DECL", "1500")
    s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "F"})
    s2s_stack.await_state(pay_id, "FAILED")
    answer = s2s.reverse(pay_id, "RV-DECL-X", "1500")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500042")
    assert s2s_stack.ledger(pay_id)["cancelled"] is False


def test_a_second_reverse_of_the_same_step_repeats_its_answer(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("RV-TWICE", "1500")
    first = s2s.reverse(pay_id, "RV-TWICE-X", "1500")
    again = s2s.reverse(pay_id, "RV-TWICE-X", "1500")
    assert first["Code"] == again["Code"] == "00000000"
    assert first["XID"] == again["XID"]
    other = s2s.reverse(pay_id, "RV-TWICE-Y", "1500")
    assert (other["Status"], other["Code"]) == ("FAILED", "21500042")
    calls = s2s_stack.sim("calls")["by_request_id"][pay_id]  # type: ignore[index]
    assert calls["cancelPayment"] == 1


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PROCESS_FAIL", "21500135"),
        ("ORDER_NOT_EXIST", "21500136"),
        ("PARAM_ILLEGAL", "21500110"),
        ("ACCESS_DENIED", "21500111"),
        ("INVALID_SIGNATURE", "21500112"),
        ("INVALID_CLIENT", "21500113"),
        ("KEY_NOT_FOUND", "21500114"),
        ("A_CODE_NOT_IN_THE_DOCS", "21500199"),
    ],
)
def test_a_cancel_declined_by_alipay_is_failed_and_leaves_the_payment_paid(
    s2s_stack: Stack, s2s: S2SClient, code: str, expected: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"RV-DECLINED-{code}", "1500")
    s2s_stack.sim(
        "faults",
        {
            "api": "cancelPayment",
            "mode": "result",
            "request_id": pay_id,
            "result_code": code,
            "result_status": "F",
        },
    )
    answer = s2s.reverse(pay_id, f"RV-DECLINED-{code}-X", "1500")
    assert (answer["Status"], answer["Code"]) == ("FAILED", expected)
    assert s2s_stack.state_of(pay_id) == "SUCCESS"
    assert s2s.inquire(pay_id)["AmountCap"] == "1500"
    assert s2s.credit(pay_id, "RV-DECLINED-R", "1500")["Code"] == "00000000"
