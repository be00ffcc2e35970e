"""What inquire reports for where a payment stands."""

from __future__ import annotations

import dataclasses

import pytest

from adapter.core.inquire import summarise
from adapter.core.results import ResultBuilder
from adapter.mapping import load_mapping
from adapter.model import OperationState, PaymentStanding, PaymentState
from tests.support.models import PAY_ID

RESULTS = ResultBuilder(load_mapping())
PAID = PaymentStanding(
    pay_id=PAY_ID,
    merchant_id="Shop",
    trans_id="T-1",
    xid="b" * 32,
    ref_nr=None,
    amount=1000,
    currency="JPY",
    state=PaymentState.SUCCESS,
    result_code="SUCCESS",
    credited=0,
    last_step=None,
)


def test_a_paid_payment_is_authorised_and_captured_in_full() -> None:
    inquiry = summarise(RESULTS, PAID)
    assert (inquiry.result.status, inquiry.result.code) == ("OK", "00000000")
    assert inquiry.amount_fields() == {
        "AmountAuth": "1000",
        "AmountCap": "1000",
        "AmountCred": "0",
        "Currency": "JPY",
        "LastStatus": "OK",
    }


@pytest.mark.parametrize(
    ("last_step", "last_status"),
    [(OperationState.FAILED, "FAILED"), (OperationState.SUCCESS, "OK")],
)
def test_credits_are_reported_and_the_last_finished_step_sets_last_status(
    last_step: OperationState, last_status: str
) -> None:
    inquiry = summarise(RESULTS, dataclasses.replace(PAID, credited=300, last_step=last_step))
    assert (inquiry.amount_cred, inquiry.last_status) == (300, last_status)
    assert inquiry.result.status == "OK"  # the payment itself is still paid


@pytest.mark.parametrize(
    ("state", "last_step", "status"),
    [
        (PaymentState.CANCELLED, OperationState.SUCCESS, "FAILED"),
        (PaymentState.FAILED, None, "FAILED"),
        (PaymentState.PENDING, None, "AUTHORIZE_REQUEST"),
        (PaymentState.UNKNOWN, None, "AUTHORIZE_REQUEST"),
        (PaymentState.NEW, None, "AUTHORIZE_REQUEST"),
    ],
)
def test_a_payment_that_is_not_paid_reports_zero_amounts(
    state: PaymentState, last_step: OperationState | None, status: str
) -> None:
    standing = dataclasses.replace(
        PAID, state=state, result_code=None, credited=0, last_step=last_step
    )
    inquiry = summarise(RESULTS, standing)
    assert (inquiry.result.status, inquiry.last_status) == (status, status)
    assert (inquiry.amount_auth, inquiry.amount_cap, inquiry.amount_cred) == (0, 0, 0)
