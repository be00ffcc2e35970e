"""What inquire reports for a payment and its steps."""

from __future__ import annotations

import dataclasses

import pytest

from adapter.core.inquire import summarise
from adapter.core.results import ResultBuilder
from adapter.mapping import load_mapping
from adapter.model import Operation, OperationKind, OperationState, PaymentState
from tests.support.models import a_payment, a_step

RESULTS = ResultBuilder(load_mapping())
PAYMENT = a_payment(currency="JPY", state=PaymentState.SUCCESS)


def _step(kind: OperationKind, amount: int, state: OperationState) -> Operation:
    return a_step(kind=kind, amount=amount, currency="JPY", state=state)


def test_a_paid_payment_is_authorised_and_captured_in_full() -> None:
    inquiry = summarise(RESULTS, PAYMENT, [])
    assert (inquiry.result.status, inquiry.result.code) == ("OK", "00000000")
    assert inquiry.amount_fields() == {
        "AmountAuth": "1000",
        "AmountCap": "1000",
        "AmountCred": "0",
        "Currency": "JPY",
        "LastStatus": "OK",
    }


def test_only_successful_credits_count_and_the_last_finished_step_sets_last_status() -> None:
    steps = [
        _step(OperationKind.CREDIT, 300, OperationState.SUCCESS),
        _step(OperationKind.CREDIT, 200, OperationState.UNKNOWN),
        _step(OperationKind.CREDIT, 900, OperationState.FAILED),
    ]
    inquiry = summarise(RESULTS, PAYMENT, steps)
    assert (inquiry.amount_cred, inquiry.last_status) == (300, "FAILED")
    assert inquiry.result.status == "OK"  # the payment itself is still paid


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (PaymentState.CANCELLED, "FAILED"),
        (PaymentState.FAILED, "FAILED"),
        (PaymentState.PENDING, "AUTHORIZE_REQUEST"),
        (PaymentState.UNKNOWN, "AUTHORIZE_REQUEST"),
        (PaymentState.NEW, "AUTHORIZE_REQUEST"),
    ],
)
def test_a_payment_that_is_not_paid_reports_zero_amounts(state: PaymentState, status: str) -> None:
    reversal = _step(OperationKind.REVERSE, 1000, OperationState.SUCCESS)
    steps = [reversal] if state is PaymentState.CANCELLED else []
    inquiry = summarise(RESULTS, dataclasses.replace(PAYMENT, state=state), steps)
    assert (inquiry.result.status, inquiry.last_status) == (status, status)
    assert (inquiry.amount_auth, inquiry.amount_cap, inquiry.amount_cred) == (0, 0, 0)
