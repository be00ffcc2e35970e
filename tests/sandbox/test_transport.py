"""What the sandbox answers before any business logic, and how it signs.

As docs/alipayplus.md#transport-and-authentication and docs/alipayplus.md#signing describe it.
"""

from __future__ import annotations

import json

import httpx

from adapter.alipayplus.signing import generate_private_key
from tests.sandbox.conftest import OTHER_CLIENT_ID
from tests.sandbox.harness import PAYMENTS, Acqp, pay_body


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    code: str = response.json()["result"]["resultCode"]
    return code


async def test_a_valid_signed_pay_is_accepted_and_the_answer_is_signed(acqp: Acqp) -> None:
    response = await acqp.post("pay", pay_body("p1"))
    assert code_of(response) == "PAYMENT_IN_PROCESS"
    assert acqp.verified(PAYMENTS + "pay", response)


async def test_response_signature_headers_are_sent_with_lowercase_names(acqp: Acqp) -> None:
    response = await acqp.post("pay", pay_body("p1"))
    names = {name for name, _ in response.headers.raw}
    assert {b"client-id", b"response-time", b"signature"} <= names
    assert response.headers["client-id"] == acqp.client_id
    assert response.headers["signature"].startswith("algorithm=RSA256,keyVersion=1,signature=")


async def test_an_unknown_path_under_aps_api_is_no_interface_def(acqp: Acqp) -> None:
    response = await acqp.post("/aps/api/v1/payments/consultPayment", {"x": "y"})
    assert code_of(response) == "NO_INTERFACE_DEF"
    assert response.json()["result"]["resultStatus"] == "F"
    assert acqp.verified("/aps/api/v1/payments/consultPayment", response)


async def test_a_get_on_an_api_is_method_not_supported(acqp: Acqp) -> None:
    response = await acqp.http.get(acqp.base_url + PAYMENTS + "pay")
    assert code_of(response) == "METHOD_NOT_SUPPORTED"


async def test_a_non_json_content_type_is_media_type_not_acceptable(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw) | {"content-type": "text/plain"}
    response = await acqp.post("pay", raw, headers=headers)
    assert code_of(response) == "MEDIA_TYPE_NOT_ACCEPTABLE"


async def test_a_body_that_is_not_json_is_param_illegal(acqp: Acqp) -> None:
    assert await acqp.code("pay", b"{not json") == "PARAM_ILLEGAL"


async def test_a_json_body_that_is_not_an_object_is_param_illegal(acqp: Acqp) -> None:
    assert await acqp.code("pay", b'["pay"]') == "PARAM_ILLEGAL"


async def test_an_unknown_client_id_is_invalid_client(acqp: Acqp) -> None:
    assert await acqp.code("pay", pay_body("p1"), client_id="NOBODY") == "INVALID_CLIENT"


async def test_a_key_version_without_a_key_is_key_not_found(acqp: Acqp) -> None:
    assert await acqp.code("pay", pay_body("p1"), key_version="7") == "KEY_NOT_FOUND"


async def test_a_signature_by_another_key_is_invalid_signature(acqp: Acqp) -> None:
    code = await acqp.code("pay", pay_body("p1"), key=generate_private_key())
    assert code == "INVALID_SIGNATURE"


async def test_a_body_changed_after_signing_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    response = await acqp.post("pay", raw.replace(b"1000", b"1001"), headers=headers)
    assert code_of(response) == "INVALID_SIGNATURE"


async def test_a_signature_for_another_path_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "refund", raw)
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "INVALID_SIGNATURE"


async def test_a_missing_signature_header_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    del headers["signature"]
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "INVALID_SIGNATURE"


async def test_another_algorithm_in_the_signature_header_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    headers["signature"] = headers["signature"].replace("RSA256", "RSA512")
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "INVALID_SIGNATURE"


async def test_a_missing_request_time_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    del headers["request-time"]
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "INVALID_SIGNATURE"


async def test_a_request_time_that_is_not_iso_8601_is_invalid_signature(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    headers["request-time"] = "1700000000000"
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "INVALID_SIGNATURE"


async def test_the_signature_is_checked_over_the_raw_pretty_printed_body(acqp: Acqp) -> None:
    raw = json.dumps(pay_body("p1"), indent=3).encode()
    assert await acqp.code("pay", raw) == "PAYMENT_IN_PROCESS"


async def test_a_docs_style_header_with_spaces_and_lowercase_escapes_verifies(
    acqp: Acqp,
) -> None:
    raw = json.dumps(pay_body("p1")).encode()
    headers = acqp.headers(PAYMENTS + "pay", raw)
    algorithm, version, signature = headers["signature"].split(",")
    headers["signature"] = f"{algorithm}, {version}, {signature.replace('%2F', '%2f')}"
    assert code_of(await acqp.post("pay", raw, headers=headers)) == "PAYMENT_IN_PROCESS"


async def test_clients_are_isolated_from_each_other(acqp: Acqp) -> None:
    first = await acqp.call("pay", pay_body("p1"))
    other = await acqp.call("pay", pay_body("p1", value="5"), client_id=OTHER_CLIENT_ID)
    assert other["result"]["resultCode"] == "PAYMENT_IN_PROCESS"
    assert other["paymentId"] != first["paymentId"]
