"""credit.aspx over real HTTP against the Alipay+ sandbox: refunds and their arithmetic."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient


def test_full_credit_refunds_the_payment_and_echoes_the_request(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CR-FULL", "2500")
    answer = s2s.credit(
        pay_id, "CR-FULL-R1", "2500", RefNr="ref-9", UserData="u|1", Reason="damaged"
    )
    assert (answer["Status"], answer["Code"], answer["Description"]) == (
        "OK",
        "00000000",
        "success",
    )
    assert (answer["PayID"], answer["TransID"], answer["refnr"], answer["UserData"]) == (
        pay_id,
        "CR-FULL-R1",
        "ref-9",
        "u|1",
    )
    assert len(answer["XID"]) == 32 and answer["XID"] != pay_id
    ledger = s2s_stack.ledger(pay_id)
    assert ledger["refunded"] == 2500
    (refund,) = ledger["refunds"]
    assert (refund["refundRequestId"], refund["status"]) == (answer["XID"], "SUCCESS")


def test_partial_credits_up_to_exactly_the_amount_then_one_cent_over_is_refused(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CR-PART", "1000")
    codes = [
        s2s.credit(pay_id, f"CR-PART-R{i}", amount)["Code"]
        for i, amount in enumerate(["300", "300", "400"])
    ]
    assert codes == ["00000000"] * 3
    over = s2s.credit(pay_id, "CR-PART-R3", "1")
    assert (over["Status"], over["Code"]) == ("FAILED", "21500140")
    ledger = s2s_stack.ledger(pay_id)
    assert ledger["refunded"] == 1000
    # The sandbox lists declined refunds too: the one over was never sent.
    assert [r["amount"] for r in ledger["refunds"]] == [300, 300, 400]


def test_a_credit_larger_than_the_payment_is_refused_before_alipay_is_asked(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CR-BIG", "1000")
    answer = s2s.credit(pay_id, "CR-BIG-R1", "1001")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500140")
    assert s2s_stack.ledger(pay_id)["refunds"] == []


def test_credit_on_a_declined_payment_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.open_payment("CR-DECL", "1000")
    s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "F"})
    s2s_stack.await_state(pay_id, "FAILED")
    answer = s2s.credit(pay_id, "CR-DECL-R1", "100")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500041")
    assert s2s_stack.ledger(pay_id)["refunds"] == []


def test_credit_on_a_pending_payment_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.open_payment("CR-PEND", "1000")
    answer = s2s.credit(pay_id, "CR-PEND-R1", "100")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500041")
    assert s2s_stack.ledger(pay_id)["refunds"] == []


def test_credit_on_a_reversed_payment_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("CR-REV", "1000")
    reverse = {"PayID": pay_id, "TransID": "CR-REV-X", "Amount": "1000", "Currency": "EUR"}
    assert s2s.call("reverse", reverse)["Code"] == "00000000"
    answer = s2s.credit(pay_id, "CR-REV-R1", "100")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500041")
    assert s2s_stack.ledger(pay_id)["refunds"] == []


def test_repeating_a_credit_with_its_own_trans_id_refunds_once(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CR-REP", "1000")
    first = s2s.credit(pay_id, "CR-REP-R1", "400")
    again = s2s.credit(pay_id, "CR-REP-R1", "400")
    assert first["Code"] == again["Code"] == "00000000"
    assert first["XID"] == again["XID"]
    assert s2s_stack.ledger(pay_id)["refunded"] == 400


def test_credits_with_the_orders_trans_id_are_separate_refunds(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """Shops that send the payment's TransID for every step still get each credit done."""
    pay_id = s2s_stack.paid_payment("CR-ORDER", "1000")
    first = s2s.credit(pay_id, "CR-ORDER", "400")
    second = s2s.credit(pay_id, "CR-ORDER", "400")
    assert first["Code"] == second["Code"] == "00000000"
    assert first["XID"] != second["XID"]
    assert s2s_stack.ledger(pay_id)["refunded"] == 800


@pytest.mark.parametrize("currency", ["USD", "JPY"])
def test_credit_in_another_currency_is_refused(
    s2s_stack: Stack, s2s: S2SClient, currency: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"CR-CUR-{currency}", "1000")
    answer = s2s.call(
        "credit",
        {"PayID": pay_id, "TransID": "CR-CUR-R", "Amount": "100", "Currency": currency},
    )
    assert (answer["Status"], answer["Code"]) == ("FAILED", "20120008")
    assert s2s_stack.ledger(pay_id)["refunds"] == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("MULTIPLE_REFUNDS_NOT_SUPPORTED", "21500142"),
        ("PROCESS_FAIL", "21500135"),
        ("ORDER_STATUS_INVALID", "21500138"),
        ("ORDER_NOT_EXIST", "21500136"),
        ("REFUND_AMOUNT_EXCEED", "21500140"),
        ("REFUND_WINDOW_EXCEED", "21500141"),
        ("CURRENCY_NOT_SUPPORT", "21500120"),
        ("PARAM_ILLEGAL", "21500110"),
        ("ACCESS_DENIED", "21500111"),
        ("INVALID_SIGNATURE", "21500112"),
        ("A_CODE_NOT_IN_THE_DOCS", "21500199"),
    ],
)
def test_a_refund_declined_by_alipay_is_failed_with_its_mapped_code_and_frees_the_amount(
    s2s_stack: Stack, s2s: S2SClient, code: str, expected: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"CR-DECLINED-{expected}", "1000")
    s2s_stack.sim(
        "faults", {"api": "refund", "mode": "result", "result_code": code, "result_status": "F"}
    )
    declined = s2s.credit(pay_id, "CR-DECLINED-R1", "1000")
    assert (declined["Status"], declined["Code"]) == ("FAILED", expected)
    assert s2s.inquire(pay_id)["AmountCred"] == "0"
    # A declined credit holds nothing back: the whole amount can still be credited.
    assert s2s.credit(pay_id, "CR-DECLINED-R2", "1000")["Code"] == "00000000"
    assert s2s_stack.ledger(pay_id)["refunded"] == 1000


def test_a_credit_after_alipays_refund_window_is_refused_by_alipay(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("CR-YEAR", "1000")
    # Later payments are created on the advanced clock too, so the other tests are unaffected.
    s2s_stack.sim("clock/advance", {"seconds": 366 * 86400})
    answer = s2s.credit(pay_id, "CR-YEAR-R1", "1000")
    assert (answer["Status"], answer["Code"]) == ("FAILED", "21500141")
    assert s2s_stack.ledger(pay_id)["refunded"] == 0
