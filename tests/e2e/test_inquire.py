"""inquire.aspx over real HTTP: state, amounts and last status, and the three MAC variants."""

from __future__ import annotations

import httpx
import pytest

from adapter.paygate.fields import Fields
from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient, answer_fields


def amounts(answer: Fields) -> tuple[str, ...]:
    return tuple(
        answer[k] for k in ("AmountAuth", "AmountCap", "AmountCred", "Currency", "LastStatus")
    )


def test_inquire_of_a_paid_payment_reports_it_captured(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IQ-PAID", "4200")
    answer = s2s.inquire(pay_id, TransID="IQ-PAID")
    assert (answer["Status"], answer["Code"], answer["Description"]) == (
        "OK",
        "00000000",
        "success",
    )
    assert amounts(answer) == ("4200", "4200", "0", "EUR", "OK")
    assert (answer["PayID"], answer["TransID"], answer["refnr"]) == (pay_id, "IQ-PAID", "R-IQ-PAID")
    assert list(answer)[-6:] == [
        "AmountAuth",
        "AmountCap",
        "AmountCred",
        "Currency",
        "LastStatus",
        "MAC",
    ]


def test_inquire_counts_successful_credits(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IQ-CRED", "4200")
    for index, amount in enumerate(["1000", "200"]):
        credit = {
            "PayID": pay_id,
            "TransID": f"IQ-CRED-{index}",
            "Amount": amount,
            "Currency": "EUR",
        }
        assert s2s.call("credit", credit)["Code"] == "00000000"
    assert amounts(s2s.inquire(pay_id)) == ("4200", "4200", "1200", "EUR", "OK")


def test_inquire_of_an_open_payment_is_authorize_request_with_zero_amounts(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.open_payment("IQ-OPEN", "4200")
    answer = s2s.inquire(pay_id)
    assert (answer["Status"], answer["Code"][0]) == ("AUTHORIZE_REQUEST", "6")
    assert amounts(answer) == ("0", "0", "0", "EUR", "AUTHORIZE_REQUEST")
    assert answer["TransID"] == "IQ-OPEN"  # the payment's own, when the request has none


def test_inquire_asks_alipay_about_an_open_payment_whose_notify_was_lost(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.open_payment("IQ-LOST", "4200")
    s2s_stack.sim("notify-policy", {"mode": "withhold"})
    try:
        s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
        answer = s2s.inquire(pay_id)
    finally:
        s2s_stack.sim("notify-policy", {"mode": "normal"})
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    assert amounts(answer)[:2] == ("4200", "4200")
    assert s2s_stack.state_of(pay_id) == "SUCCESS"


@pytest.mark.parametrize(
    "fault",
    [
        {"mode": "result", "result_code": "ORDER_NOT_EXIST", "result_status": "F"},
        {"mode": "result", "result_code": "ACCESS_DENIED", "result_status": "F"},
        {"mode": "result", "result_code": "UNKNOWN_EXCEPTION", "result_status": "U"},
        {"mode": "http_500"},
        {"mode": "bad_signature"},
    ],
    ids=["order-not-exist", "access-denied", "unknown-exception", "http-500", "bad-signature"],
)
def test_an_inquiry_alipay_refuses_or_leaves_unknown_keeps_the_payment_open(
    s2s_stack: Stack, s2s: S2SClient, fault: dict[str, str]
) -> None:
    """The inquiry call failing says nothing about the payment, which is in fact paid."""
    pay_id = s2s_stack.open_payment(f"IQ-CALL-{fault['mode']}-{fault.get('result_code')}", "4200")
    s2s_stack.sim("notify-policy", {"mode": "withhold"})
    try:
        s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
        s2s_stack.sim(
            "faults", {"api": "inquiryPayment", "request_id": pay_id, "count": 100, **fault}
        )
        refused = s2s.inquire(pay_id)
        assert (refused["Status"], refused["Code"][0]) == ("AUTHORIZE_REQUEST", "6")
        assert s2s_stack.state_of(pay_id) == "PENDING"
        s2s_stack.clear_faults()
        answered = s2s.inquire(pay_id)
    finally:
        s2s_stack.sim("notify-policy", {"mode": "normal"})
    assert (answered["Status"], answered["Code"]) == ("OK", "00000000")
    assert s2s_stack.state_of(pay_id) == "SUCCESS"


def test_inquire_of_a_declined_payment_is_failed(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.open_payment("IQ-DECL", "4200")
    s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "F"})
    s2s_stack.await_state(pay_id, "FAILED")
    answer = s2s.inquire(pay_id)
    assert (answer["Status"], answer["Code"][0]) == ("FAILED", "2")
    assert amounts(answer) == ("0", "0", "0", "EUR", "FAILED")


def test_inquire_of_a_reversed_payment_is_failed_and_not_captured(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("IQ-REV", "4200")
    reverse = {"PayID": pay_id, "TransID": "IQ-REV-X", "Amount": "4200", "Currency": "EUR"}
    assert s2s.call("reverse", reverse)["Code"] == "00000000"
    answer = s2s.inquire(pay_id)
    assert answer["Status"] == "FAILED"
    assert amounts(answer) == ("0", "0", "0", "EUR", "FAILED")


@pytest.mark.parametrize(
    "variant",
    ["PayID*TransID*MID**", "PayID**MID**", "PayID*TransID*MID*Amount*Currency"],
)
def test_inquire_accepts_each_mac_variant_clients_sign(
    s2s_stack: Stack, s2s: S2SClient, variant: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"IQ-MAC-{len(variant)}", "4200")
    trans_id = f"IQ-MAC-{len(variant)}"
    fields = {"PayID": pay_id, "TransID": trans_id}
    signed = {
        "PayID*TransID*MID**": {"PayID": pay_id, "TransID": trans_id},
        "PayID**MID**": {"PayID": pay_id},
        # Spryker signs the payment's Amount and Currency but does not send them.
        "PayID*TransID*MID*Amount*Currency": {
            "PayID": pay_id,
            "TransID": trans_id,
            "Amount": "4200",
            "Currency": "EUR",
        },
    }[variant]
    if variant == "PayID**MID**":
        fields = {"PayID": pay_id}  # fatchip-lib sends only the PayID
    answer = s2s.call("inquire", fields, signed=signed)
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")


def test_inquire_with_a_wrong_mac_is_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IQ-BADMAC", "4200")
    signed = {"PayID": pay_id, "TransID": "IQ-BADMAC", "Amount": "1", "Currency": "EUR"}
    answer = s2s.call("inquire", {"PayID": pay_id, "TransID": "IQ-BADMAC"}, signed=signed)
    assert (answer["Status"], answer["Code"]) == ("FAILED", "20120004")
    assert "AmountCap" not in answer


def test_inquire_by_get_with_plain_parameters(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IQ-GET", "4200")
    params = s2s.outer({"PayID": pay_id}, encrypted=False)
    response = httpx.get(f"{s2s_stack.adapter_url}/inquire.aspx", params=params)
    assert amounts(answer_fields(s2s_stack.shop, response))[:2] == ("4200", "4200")
