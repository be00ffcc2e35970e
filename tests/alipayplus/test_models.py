from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.alipayplus.models import (
    ACK_BODY,
    Amount,
    Api,
    MessageError,
    Result,
    decode_object,
)


def test_result_reads_code_status_and_message() -> None:
    obj = {"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U", "resultMessage": "wait"}
    assert Result.from_json(obj) == Result("PAYMENT_IN_PROCESS", "U", "wait")


def test_result_without_message_still_reads_with_an_empty_message() -> None:
    assert Result.from_json({"resultCode": "SUCCESS", "resultStatus": "S"}).message == ""


@pytest.mark.parametrize(
    "obj",
    [
        None,
        "SUCCESS",
        [],
        {"resultStatus": "S"},
        {"resultCode": "", "resultStatus": "S"},
        {"resultCode": 0, "resultStatus": "S"},
        {"resultCode": "SUCCESS"},
        {"resultCode": "SUCCESS", "resultStatus": "s"},
        {"resultCode": "SUCCESS", "resultStatus": "P"},
        {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": 1},
    ],
)
def test_malformed_result_raises_message_error(obj: Any) -> None:
    with pytest.raises(MessageError):
        Result.from_json(obj)


def test_message_error_is_a_value_error() -> None:
    assert issubclass(MessageError, ValueError)


def test_amount_goes_on_the_wire_as_strings() -> None:
    assert Amount("JPY", 100).to_json() == {"currency": "JPY", "value": "100"}


@given(st.sampled_from(["EUR", "JPY", "USD", "KRW"]), st.integers(min_value=0, max_value=10**15))
def test_amount_round_trips_through_json(currency: str, value: int) -> None:
    amount = Amount(currency, value)
    assert Amount.from_json(json.loads(json.dumps(amount.to_json()))) == amount


def test_amount_from_json_tolerates_a_bare_integer_value() -> None:
    assert Amount.from_json({"currency": "JPY", "value": 100}) == Amount("JPY", 100)


@pytest.mark.parametrize(
    "obj",
    [
        {"currency": "JPY", "value": "-1"},
        {"currency": "JPY", "value": "1.5"},
        {"currency": "JPY", "value": "1e3"},
        {"currency": "JPY", "value": ""},
        {"currency": "JPY", "value": " 1"},
        {"currency": "JPY", "value": "١٢"},  # Arabic-Indic digits pass str.isdigit()
        {"currency": "JPY", "value": True},
        {"currency": "JPY", "value": None},
        {"currency": "jpy", "value": "1"},
        {"currency": 392, "value": "1"},
        {"value": "1"},
        ["JPY", "1"],
    ],
)
def test_malformed_amount_raises_message_error(obj: Any) -> None:
    with pytest.raises(MessageError):
        Amount.from_json(obj)


@pytest.mark.parametrize(
    ("currency", "value"), [("EUR", -1), ("EUR", True), ("EU", 1), ("eur", 1), ("EURO", 1)]
)
def test_amount_refuses_impossible_values(currency: str, value: int) -> None:
    with pytest.raises(ValueError):
        Amount(currency, value)


@pytest.mark.parametrize(
    ("api", "path", "timeout"),
    [
        (Api.PAY, "/aps/api/v1/payments/pay", 8.0),
        (Api.INQUIRY_PAYMENT, "/aps/api/v1/payments/inquiryPayment", 5.0),
        (Api.CANCEL_PAYMENT, "/aps/api/v1/payments/cancelPayment", 8.0),
        (Api.REFUND, "/aps/api/v1/payments/refund", 8.0),
    ],
)
def test_api_path_and_recommended_timeout(api: Api, path: str, timeout: float) -> None:
    assert (api.path, api.timeout) == (path, timeout)


def test_ack_body_is_the_documented_success_result() -> None:
    assert json.loads(ACK_BODY) == {
        "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}
    }


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b'"x"', b"\xff\xfe{", b"[" * 100_000])
def test_decode_object_accepts_only_a_json_object(raw: bytes) -> None:
    with pytest.raises(MessageError):
        decode_object(raw)
