"""What every S2S endpoint accepts (plain or encrypted, GET or POST, any case) and refuses."""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest

from adapter.paygate.fields import Fields
from tests.e2e.conftest import Stack
from tests.support.s2s import Method, S2SClient, answer_fields

ENDPOINTS = ["credit", "reverse", "capture", "inquire"]


def _fields(endpoint: str, pay_id: str, trans_id: str) -> dict[str, str]:
    if endpoint == "inquire":
        return {"PayID": pay_id, "TransID": trans_id}
    return {"PayID": pay_id, "TransID": trans_id, "Amount": "700", "Currency": "EUR"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("method", "encrypted", "lower_hex", "lower_keys"),
    [
        ("POST", True, False, False),
        ("GET", True, False, False),
        ("POST", False, False, False),
        ("GET", False, False, False),
        ("POST", True, True, False),
        ("POST", True, False, True),
        ("GET", False, True, True),
    ],
)
def test_each_endpoint_takes_every_request_form_shops_send(
    s2s_stack: Stack,
    s2s: S2SClient,
    endpoint: str,
    method: Method,
    encrypted: bool,
    lower_hex: bool,
    lower_keys: bool,
) -> None:
    trans_id = f"IN-{endpoint}-{method}-{int(encrypted)}{int(lower_hex)}{int(lower_keys)}"
    pay_id = s2s_stack.paid_payment(trans_id, "700")
    answer = s2s.call(
        endpoint,
        _fields(endpoint, pay_id, f"{trans_id}-S"),
        method=method,
        encrypted=encrypted,
        lower_hex=lower_hex,
        lower_keys=lower_keys,
    )
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    assert answer["TransID"] == f"{trans_id}-S"
    ledger = s2s_stack.ledger(pay_id)
    expected = {"credit": (700, False), "reverse": (0, True)}.get(endpoint, (0, False))
    assert (ledger["refunded"], ledger["cancelled"]) == expected


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_pay_id_and_another_merchants_pay_id_get_the_same_answer(
    s2s_stack: Stack, s2s: S2SClient, endpoint: str
) -> None:
    other = S2SClient(s2s_stack.other_shop, s2s_stack.adapter_url, s2s.http)
    other_pay_id = s2s_stack.paid_payment(f"IN-OTHER-{endpoint}", "700")
    # Paid by TestShop: OtherShop must not be able to tell it exists.
    unknown = other.call(endpoint, _fields(endpoint, "0" * 32, "IN-X"))
    foreign = other.call(endpoint, _fields(endpoint, other_pay_id, "IN-X"))
    for answer in (unknown, foreign):
        assert (answer["Status"], answer["Code"], answer["Description"]) == (
            "FAILED",
            "20160032",
            "PayID unknown",
        )
    assert sorted(unknown) == sorted(foreign)
    ledger = s2s_stack.ledger(other_pay_id)
    assert (ledger["refunded"], ledger["cancelled"]) == (0, False)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_wrong_mac_is_refused_encrypted(s2s_stack: Stack, s2s: S2SClient, endpoint: str) -> None:
    pay_id = s2s_stack.paid_payment(f"IN-MAC-{endpoint}", "700")
    fields = _fields(endpoint, pay_id, f"IN-MAC-{endpoint}-S")
    answer = s2s.call(endpoint, fields, signed={**fields, "TransID": "forged"})
    assert (answer["Status"], answer["Code"], answer["TransID"]) == (
        "FAILED",
        "20120004",
        f"IN-MAC-{endpoint}-S",
    )
    ledger = s2s_stack.ledger(pay_id)
    assert (ledger["refunded"], ledger["cancelled"]) == (0, False)


@pytest.mark.parametrize("endpoint", ["credit", "reverse", "capture"])
@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("-700", "20110007"),
        ("7.00", "20110007"),
        ("abc", "20110007"),
        ("0", "20110007"),
        ("", "40100007"),
        ("12345678901", "20140007"),
    ],
)
def test_bad_amounts_are_refused(
    s2s_stack: Stack, s2s: S2SClient, endpoint: str, amount: str, code: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"IN-AMT-{endpoint}-{amount}", "700")
    fields = {**_fields(endpoint, pay_id, "IN-AMT-S"), "Amount": amount}
    answer = s2s.call(endpoint, fields)
    assert (answer["Status"], answer["Code"]) == ("FAILED", code)
    ledger = s2s_stack.ledger(pay_id)
    assert (ledger["refunded"], ledger["cancelled"]) == (0, False)


@pytest.mark.parametrize("endpoint", ["credit", "reverse", "capture"])
def test_missing_trans_id_is_refused(s2s_stack: Stack, s2s: S2SClient, endpoint: str) -> None:
    pay_id = s2s_stack.paid_payment(f"IN-NOTRANS-{endpoint}", "700")
    fields = _fields(endpoint, pay_id, "")
    del fields["TransID"]
    answer = s2s.call(endpoint, fields)
    assert (answer["Status"], answer["Code"]) == ("FAILED", "40100005")
    assert "TransID" not in answer
    assert answer["PayID"] == pay_id


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_or_malformed_pay_id_is_refused(
    s2s_stack: Stack, s2s: S2SClient, endpoint: str
) -> None:
    fields = _fields(endpoint, "", "IN-NOPAY")
    del fields["PayID"]
    missing = s2s.call(endpoint, fields)
    assert (missing["Status"], missing["Code"]) == ("FAILED", "40100032")
    assert len(missing["PayID"]) == 32  # never empty (pretix needs it)
    short = s2s.call(endpoint, _fields(endpoint, "abc", "IN-SHORT"))
    assert (short["Status"], short["Code"]) == ("FAILED", "20110032")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_merchant_gets_a_plain_answer(s2s_stack: Stack, endpoint: str) -> None:
    response = httpx.post(
        f"{s2s_stack.adapter_url}/{endpoint}.aspx",
        data={"MerchantID": "NoSuchShop", "Len": "16", "Data": "00" * 16},
    )
    assert response.status_code == 200
    assert dict(parse_qsl(response.text)) == {
        "mid": "NoSuchShop",
        "Status": "FAILED",
        "Code": "20160001",
        "Description": "MerchantID is not known",
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_data_that_does_not_decrypt_is_refused_encrypted(s2s_stack: Stack, endpoint: str) -> None:
    response = httpx.post(
        f"{s2s_stack.adapter_url}/{endpoint}.aspx",
        data={"MerchantID": s2s_stack.shop.merchant_id, "Len": "16", "Data": "AB" * 16},
    )
    answer = answer_fields(s2s_stack.shop, response)
    assert (answer["Status"], answer["Code"]) == ("FAILED", "20010003")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_len_of_thousands_of_digits_is_refused_like_any_len_beyond_the_data(
    s2s_stack: Stack, endpoint: str
) -> None:
    """Python's int() refuses over 4,300 digits: that must be a Paygate answer, not a 500."""

    def answer(length: str) -> Fields:
        response = httpx.post(
            f"{s2s_stack.adapter_url}/{endpoint}.aspx",
            data={"MerchantID": s2s_stack.shop.merchant_id, "Len": length, "Data": "AB" * 16},
        )
        assert response.status_code == 200
        return answer_fields(s2s_stack.shop, response)

    huge, beyond = answer("9" * 5000), answer("17")
    assert (huge["Status"], huge["Code"]) == ("FAILED", beyond["Code"])


def test_an_oversized_request_gets_a_plain_refusal(s2s_stack: Stack) -> None:
    response = httpx.post(
        f"{s2s_stack.adapter_url}/credit.aspx",
        data={"MerchantID": s2s_stack.shop.merchant_id, "Data": "A" * 70000},
    )
    assert response.status_code == 200
    assert dict(parse_qsl(response.text))["Code"] == "20140099"


def test_control_characters_are_refused(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IN-CTRL", "700")
    fields = {**_fields("credit", pay_id, "IN-CTRL-S"), "UserData": "a\x01b"}
    answer = s2s.call("credit", fields)
    assert (answer["Status"], answer["Code"]) == ("FAILED", "20110015")
    assert s2s_stack.ledger(pay_id)["refunded"] == 0


def test_upper_case_path_reaches_the_endpoint(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("IN-CASE", "700")
    response = s2s.http.post(
        f"{s2s_stack.adapter_url}/Inquire.aspx", data=s2s.outer({"PayID": pay_id})
    )
    assert answer_fields(s2s_stack.shop, response)["AmountCap"] == "700"


def test_an_answer_is_plain_text_and_carries_the_shops_request_id(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("IN-RID", "700")
    response = s2s.http.post(
        f"{s2s_stack.adapter_url}/inquire.aspx",
        data=s2s.outer({"PayID": pay_id}),
        headers={"X-Request-ID": "shop-call-17"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-request-id"] == "shop-call-17"
    assert answer_fields(s2s_stack.shop, response)["AmountCap"] == "700"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_other_methods_get_405_and_other_paths_404(s2s_stack: Stack, endpoint: str) -> None:
    url = f"{s2s_stack.adapter_url}/{endpoint}.aspx"
    refused = httpx.put(url, content=b"MerchantID=x")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert httpx.post(f"{url}/", data={"MerchantID": "x"}).status_code == 404
