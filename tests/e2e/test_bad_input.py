"""Bad shop requests: each gets its Paygate code, and nothing is stored."""

from __future__ import annotations

import re

import httpx
import pytest

from adapter.paygate.blowfish import BlowfishCipher
from tests.e2e.conftest import Stack
from tests.support.returns import shop_return


def _post(stack: Stack, data: dict[str, str] | bytes) -> httpx.Response:
    url = f"{stack.adapter_url}/alipayplus.aspx"
    if isinstance(data, bytes):
        form = {"content-type": "application/x-www-form-urlencoded"}
        return httpx.post(url, content=data, headers=form, timeout=10)
    return httpx.post(url, data=data, timeout=10)


def _page_code(response: httpx.Response) -> str:
    match = re.search(r'<code id="code">([0-9A-Z]{8})</code>', response.text)
    assert match, response.text
    return match.group(1)


def _failure_code(stack: Stack, response: httpx.Response) -> str:
    returned = shop_return(response)
    assert returned.url == f"{stack.shop_url}/failure"
    fields = stack.shop.decode(returned.pairs)
    assert fields["Status"] == "FAILED"
    assert fields["PayID"] and fields["TransID"]
    return fields["Code"]


def test_unknown_merchant_gets_an_error_page(stack: Stack) -> None:
    request = stack.shop.request(stack.payment_fields("T-1"))
    request["MerchantID"] = "Nobody"
    response = _post(stack, request)
    assert response.status_code == 400
    assert _page_code(response) == "20160001"
    assert stack.stored_pay_ids() == []


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_mac", "20120004"),
        ("mac_over_other_values", "20120004"),
        ("corrupt_hex", "20010003"),
        ("odd_blocks", "20010003"),
        ("len_too_large", "20120002"),
        ("len_not_a_number", "20110002"),
        ("wrong_blowfish_key", "20010003"),
        ("no_len", "40100002"),
    ],
)
def test_undecodable_or_unauthenticated_request_gets_an_error_page(
    stack: Stack, case: str, code: str
) -> None:
    fields = stack.payment_fields("T-2")
    request = stack.shop.request(fields)
    if case == "wrong_mac":
        request = _with_fields(stack, {**fields, "MAC": "A" * 64})
    elif case == "mac_over_other_values":
        request = stack.shop.request(fields, mac_over={**fields, "Amount": "1"})
    elif case == "corrupt_hex":
        request["Data"] = "ZZ" + request["Data"][2:]
    elif case == "odd_blocks":
        request["Data"] = request["Data"][:-2]
    elif case == "len_too_large":
        request["Len"] = str(int(request["Len"]) + 100)
    elif case == "len_not_a_number":
        request["Len"] = "12a"
    elif case == "wrong_blowfish_key":
        text = BlowfishCipher(stack.shop.blowfish_key.encode()).decrypt(
            request["Data"], request["Len"]
        )
        request["Data"] = BlowfishCipher(b"another key!").encrypt(text)[1]
    elif case == "no_len":
        del request["Len"]
    response = _post(stack, request)
    assert response.status_code == 400
    assert _page_code(response) == code
    assert stack.stored_pay_ids() == []


def _with_fields(stack: Stack, fields: dict[str, str]) -> dict[str, str]:
    """Encrypt exactly these fields (MAC included as given)."""
    from adapter.paygate.fields import format_inner

    length, data = stack.shop.cipher.encrypt(format_inner(fields.items()))
    return {"MerchantID": stack.shop.merchant_id, "Len": str(length), "Data": data}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Amount": "0"}, "20110007"),
        ({"Amount": "-1"}, "20110007"),
        ({"Amount": "1.50"}, "20110007"),
        ({"Amount": "1e3"}, "20110007"),
        ({"Amount": "12345678901"}, "20140007"),
        ({"Currency": "XYZ"}, "20160008"),
        ({"Currency": "eur"}, "20110008"),
        ({"OrderDesc": "Books & more"}, "20110009"),
        ({"OrderDesc": "Books #1"}, "20110009"),
        ({"OrderDesc": "x" * 769}, "20140009"),
        ({"TransID": "T" * 65}, "20140005"),
        ({"UserData": "u" * 1025}, "20140015"),
        ({"Device": "APP"}, "40100019"),
        ({"sdFirstName": "Ann"}, "40100023"),
        ({"CCNr": "4111111111111111"}, "20160036"),
        ({"URLNotify": "https://evil.example/notify"}, "20160012"),
        ({"OrderDesc": ""}, "40100009"),
        ({"URLNotify": ""}, "40100012"),
    ],
)
def test_invalid_request_with_valid_mac_goes_to_url_failure(
    stack: Stack, change: dict[str, str], code: str
) -> None:
    fields = {**stack.payment_fields("T-3"), **change}
    response = _post(stack, stack.shop.request({k: v for k, v in fields.items() if v}))
    assert _failure_code(stack, response) == code
    assert stack.stored_pay_ids() == []


def test_missing_amount_is_a_fatal_missing_parameter(stack: Stack) -> None:
    fields = stack.payment_fields("T-4")
    del fields["Amount"]
    response = _post(stack, stack.shop.request(fields))
    assert _failure_code(stack, response) == "40100007"
    assert stack.stored_pay_ids() == []


def test_url_failure_off_the_allowlist_gets_an_error_page_not_a_redirect(stack: Stack) -> None:
    fields = {**stack.payment_fields("T-5"), "URLFailure": "https://evil.example/f"}
    response = _post(stack, stack.shop.request(fields))
    assert response.status_code == 400
    assert _page_code(response) == "20160011"
    assert "evil.example" not in response.text


def test_non_utf8_bytes_in_the_form_get_an_error_page(stack: Stack) -> None:
    response = _post(stack, b"MerchantID=Test\xffShop&Len=8&Data=\xfe\xfe")
    assert response.status_code == 400
    assert _page_code(response) == "20160001"
    assert stack.stored_pay_ids() == []


def test_a_multipart_form_is_a_format_error_not_a_payload_too_large(stack: Stack) -> None:
    fields = stack.shop.request(stack.payment_fields("T-M"))
    response = httpx.post(
        f"{stack.adapter_url}/alipayplus.aspx", files={k: (None, v) for k, v in fields.items()}
    )
    assert response.status_code == 400
    assert _page_code(response) == "20110099"
    assert stack.stored_pay_ids() == []


def test_one_megabyte_body_is_refused_without_reading_it(stack: Stack) -> None:
    response = _post(stack, b"MerchantID=TestShop&Data=" + b"A" * 1_000_000)
    assert response.status_code == 413
    assert _page_code(response) == "20140099"
    assert stack.stored_pay_ids() == []
