"""Hostile Paygate input on all five endpoints over real HTTP: card data, control characters in
free fields, too many parameters. Each is refused with its Paygate code, changes nothing, calls
no Alipay+ API, and is never repeated back or logged."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from adapter.paygate.fields import Fields, format_inner
from tests.support.hostile import (
    HostileStack,
    assert_unique_keys,
    hostile_stack,
    nothing_changes,
    page_code,
)
from tests.support.returns import shop_return
from tests.support.s2s import S2SClient, answer_fields

S2S_ENDPOINTS = ("credit", "reverse", "capture", "inquire")
ENDPOINTS = ("alipayplus", *S2S_ENDPOINTS)
_CONTROL = {chr(code) for code in (*range(0x20), *range(0x7F, 0xA0))}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileStack]:
    with hostile_stack(tmp_path_factory.mktemp("hostile-input")) as running:
        yield running


@pytest.fixture(scope="module")
def paid(hostile: HostileStack) -> tuple[str, str]:
    """(PayID, TransID) of a paid payment whose notify the shop has taken: the S2S target."""
    trans_id = "H-PAID"
    pay_id = hostile.stack.paid_payment(trans_id)
    assert hostile.stack.settled_notifies(pay_id)
    return pay_id, trans_id


@pytest.fixture
def s2s(hostile: HostileStack) -> Iterator[S2SClient]:
    with httpx.Client(timeout=30) as http:
        yield S2SClient(hostile.stack.shop, hostile.stack.adapter_url, http)


def _s2s_fields(endpoint: str, paid: tuple[str, str]) -> dict[str, str]:
    pay_id, trans_id = paid
    if endpoint == "inquire":
        return {"PayID": pay_id}
    return {"PayID": pay_id, "TransID": trans_id, "Amount": "10000", "Currency": "EUR"}


def _payment_fields(hostile: HostileStack) -> dict[str, str]:
    return hostile.stack.payment_fields(f"H-{secrets.token_hex(8)}")


def _checkout(hostile: HostileStack, params: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{hostile.stack.adapter_url}/alipayplus.aspx", data=params, timeout=30)


def _checkout_refusal(hostile: HostileStack, response: httpx.Response) -> tuple[str, list[str]]:
    """The code of a refused checkout and the values the shopper's browser is given.

    Refused with a usable TransID and URLFailure, the result goes to URLFailure; otherwise the
    adapter shows its error page.
    """
    assert response.status_code < 500, response.text
    if response.status_code not in (200, 303):
        assert "location" not in response.headers
        return page_code(response), []
    returned = shop_return(response)  # a 303 to URLFailure, or the POST form to it
    url, pairs = returned.url, returned.pairs
    assert url == f"{hostile.stack.shop_url}/failure"
    assert_unique_keys(pairs)
    fields = hostile.stack.shop.decode(pairs)
    assert fields["Status"] == "FAILED"
    return fields["Code"], [*fields.values(), *(value for _, value in pairs)]


def _s2s_refusal(hostile: HostileStack, response: httpx.Response) -> tuple[str, list[str]]:
    fields = answer_fields(hostile.stack.shop, response)
    assert fields["Status"] == "FAILED"
    return fields["Code"], [*fields.values(), *(v for _, v in parse_qsl(response.text))]


def _send(
    hostile: HostileStack,
    s2s: S2SClient,
    endpoint: str,
    fields: dict[str, str],
    *,
    outside: dict[str, str] | None = None,
    paid: tuple[str, str] | None = None,
) -> tuple[str, list[str], str]:
    """Send ``fields`` signed and encrypted (``outside`` beside Data) to ``endpoint``.

    Returns the refusal's code, every value the answer carries and the raw answer.
    """
    if endpoint == "alipayplus":
        params = {**hostile.stack.shop.request(fields), **(outside or {})}
        response = _checkout(hostile, params)
        code, values = _checkout_refusal(hostile, response)
    else:
        params = {**s2s.outer(fields), **(outside or {})}
        response = s2s.send(endpoint, params)
        code, values = _s2s_refusal(hostile, response)
    return code, values, response.text


# --- card data -------------------------------------------------------------------------------

CARD_FIELDS = {
    "CCNr": "4111111111111111",
    "ccnr": "5555555555554444",
    "CCCVC": "737",
    "CCExpiry": "203012",
    "CCBrand": "VISA",
    "CardHolder": "Ann Cardholder",
    "CCCardHolder": "Ann Cardholder",
    "CardHolderName": "Ann Cardholder",
    "CreditCardHolder": "Ann Cardholder",
    "CCNumber": "378282246310005",
    "CardNumber": "6011111111111117",
    "CreditCardNumber": "3530111333300000",
    "PAN": "4000056655665556",
    "PCNr": "0400000000001111",
    "CVC": "123",
    "CVC2": "123",
    "CVV": "1234",
    "CVV2": "1234",
    "CCCVV": "123",
    "card": '{"number":"4111111111111111","expiryDate":"203012"}',
}


def _request_for(hostile: HostileStack, endpoint: str, paid: tuple[str, str]) -> dict[str, str]:
    return _payment_fields(hostile) if endpoint == "alipayplus" else _s2s_fields(endpoint, paid)


@pytest.mark.parametrize("where", ["inside Data", "outside Data"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("name", sorted(CARD_FIELDS))
def test_card_fields_are_refused_on_every_endpoint(
    hostile: HostileStack,
    s2s: S2SClient,
    paid: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    endpoint: str,
    where: str,
    name: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    value = CARD_FIELDS[name]
    fields = _request_for(hostile, endpoint, paid)
    card = {name: value}
    with nothing_changes(hostile):
        if where == "inside Data":
            code, values, raw = _send(hostile, s2s, endpoint, {**fields, **card})
        else:
            code, values, raw = _send(hostile, s2s, endpoint, fields, outside=card)
    assert code == "20160036"
    assert value not in values
    if len(value) >= 8:  # shorter ones turn up in any hex by chance
        assert not [echo for echo in values if value in echo]
        assert value not in raw
        assert value not in caplog.text


# --- control characters ----------------------------------------------------------------------

# The parameter each free field is coded as, per endpoint family.
CHECKOUT_FREE_FIELDS = {
    "TransID": "0005",
    "RefNr": "0006",
    "OrderDesc": "0009",
    "UserData": "0015",
    "ReqId": "0016",
    "CustomerID": "0017",
    "sdCity": "0026",
    "Plain": "0030",
    "Custom": "0031",
    "Language": "0034",
}
S2S_FREE_FIELDS = {"TransID": "0005", "RefNr": "0006", "UserData": "0015", "ReqId": "0016"}
CONTROL_CHARACTERS = {
    "NUL": "\x00",
    "LF": "\n",
    "US": "\x1f",
    "DEL": "\x7f",
    "PAD": "\x80",
    "NEL": "\x85",
    "CSI": "\x9b",
    "APC": "\x9f",
}


def _with_control(value: str, char: str) -> str:
    return f"{value[:1]}{char}{value[1:]}" if value else f"a{char}"


@pytest.mark.parametrize("char", sorted(CONTROL_CHARACTERS))
@pytest.mark.parametrize("name", sorted(CHECKOUT_FREE_FIELDS))
def test_control_characters_in_checkout_fields_are_refused(
    hostile: HostileStack, s2s: S2SClient, name: str, char: str
) -> None:
    fields = _payment_fields(hostile)
    defaults = {"ReqId": "r-1", "CustomerID": "c-1", "sdCity": "Berlin", "Plain": "p"}
    value = fields.get(name) or defaults.get(name, "de")
    fields[name] = _with_control(value, CONTROL_CHARACTERS[char])
    with nothing_changes(hostile):
        code, values, _ = _send(hostile, s2s, "alipayplus", fields)
    assert code == "2011" + CHECKOUT_FREE_FIELDS[name]
    assert not [echo for echo in values if _CONTROL & set(echo)], "a control character came back"


@pytest.mark.parametrize("char", sorted(CONTROL_CHARACTERS))
@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        *((endpoint, name) for endpoint in S2S_ENDPOINTS for name in sorted(S2S_FREE_FIELDS)),
        ("credit", "Reason"),
    ],
)
def test_control_characters_in_s2s_fields_are_refused(
    hostile: HostileStack,
    s2s: S2SClient,
    paid: tuple[str, str],
    endpoint: str,
    name: str,
    char: str,
) -> None:
    fields = _s2s_fields(endpoint, paid)
    value = fields.get(name) or {"Reason": "return", "ReqId": "r-1"}.get(name, "x-1")
    fields[name] = _with_control(value, CONTROL_CHARACTERS[char])
    with nothing_changes(hostile):
        code, values, _ = _send(hostile, s2s, endpoint, fields)
    assert code == "2011" + {**S2S_FREE_FIELDS, "Reason": "0033"}[name]
    assert not [echo for echo in values if _CONTROL & set(echo)], "a control character came back"


def test_windows_1252_bytes_in_a_plain_request_read_as_c1_and_are_refused(
    hostile: HostileStack, s2s: S2SClient, paid: tuple[str, str]
) -> None:
    """0x80 is the euro sign in Windows-1252; the adapter takes UTF-8 only."""
    params = s2s.outer({**_s2s_fields("inquire", paid), "UserData": "5 EUR"}, encrypted=False)
    body = "&".join(f"{key}={value}" for key, value in params.items()).replace(" EUR", "\x80")
    with nothing_changes(hostile):
        response = s2s.http.post(
            f"{hostile.stack.adapter_url}/inquire.aspx",
            content=body.encode("latin-1"),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert _s2s_refusal(hostile, response)[0] == "20110015"


# --- the parameter cap -----------------------------------------------------------------------

CAP = 300


def _padded(fields: dict[str, str], total: int, *, repeat: bool = False) -> list[tuple[str, str]]:
    """``fields`` and filler pairs up to ``total`` parameters in the request (Data's 3 outside,
    MAC inside); ``repeat`` uses one filler name throughout."""
    count = total - len(fields) - 4
    return [*fields.items(), *((f"Pad{0 if repeat else i}", "x") for i in range(count))]


def _signed_padded(
    hostile: HostileStack, s2s: S2SClient, endpoint: str, fields: dict[str, str], total: int,
    *, repeat: bool = False,
) -> dict[str, str]:  # fmt: skip
    """The outer form of a request of exactly ``total`` parameters, the filler inside Data."""
    keys = hostile.stack.shop
    mac = s2s.mac(fields if endpoint != "alipayplus" else {**fields, "PayID": ""})
    inner = format_inner([*_padded(fields, total, repeat=repeat), ("MAC", mac)])
    length, data = keys.cipher.encrypt(inner)
    return {"MerchantID": keys.merchant_id, "Len": str(length), "Data": data}


def _post(
    hostile: HostileStack, endpoint: str, params: dict[str, str], method: str
) -> httpx.Response:
    url = f"{hostile.stack.adapter_url}/{endpoint}.aspx"
    if method == "GET":
        return httpx.get(url, params=params, timeout=30)
    return httpx.post(url, data=params, timeout=30)


def _code(hostile: HostileStack, endpoint: str, response: httpx.Response) -> str:
    if endpoint == "alipayplus":
        return _checkout_refusal(hostile, response)[0]
    return _s2s_refusal(hostile, response)[0]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("repeat", [False, True], ids=["distinct", "one-name-repeated"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_one_parameter_over_the_cap_inside_data_is_refused(
    hostile: HostileStack,
    s2s: S2SClient,
    paid: tuple[str, str],
    endpoint: str,
    repeat: bool,
    method: str,
) -> None:
    fields = _request_for(hostile, endpoint, paid)
    params = _signed_padded(hostile, s2s, endpoint, fields, CAP + 1, repeat=repeat)
    with nothing_changes(hostile):
        response = _post(hostile, endpoint, params, method)
    assert _code(hostile, endpoint, response) == "20140099"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_one_parameter_over_the_cap_outside_data_is_refused(
    hostile: HostileStack, s2s: S2SClient, paid: tuple[str, str], endpoint: str
) -> None:
    fields = _request_for(hostile, endpoint, paid)
    params = list(_signed_padded(hostile, s2s, endpoint, fields, len(fields) + 4).items())
    params += [("Pad", "x")] * (CAP + 1 - len(params))
    with nothing_changes(hostile):
        response = httpx.post(
            f"{hostile.stack.adapter_url}/{endpoint}.aspx",
            content=urlencode(params),
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
    assert _code(hostile, endpoint, response) == "20140099"


@pytest.mark.parametrize("endpoint", ["alipayplus", "capture", "inquire"])
def test_a_request_of_exactly_the_cap_is_served(
    hostile: HostileStack, s2s: S2SClient, paid: tuple[str, str], endpoint: str
) -> None:
    fields = _request_for(hostile, endpoint, paid)
    response = _post(hostile, endpoint, _signed_padded(hostile, s2s, endpoint, fields, CAP), "POST")
    if endpoint == "alipayplus":
        assert response.status_code == 303, response.text
    else:
        answer: Fields = answer_fields(hostile.stack.shop, response)
        assert (answer["Status"], answer["Code"]) == ("OK", "00000000")


def test_ten_thousand_parameters_are_refused_on_every_endpoint(hostile: HostileStack) -> None:
    body = "&".join([f"MerchantID={hostile.stack.shop.merchant_id}", *["p="] * 10_000])
    with nothing_changes(hostile):
        for endpoint in ENDPOINTS:
            response = httpx.post(
                f"{hostile.stack.adapter_url}/{endpoint}.aspx",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
                timeout=30,
            )
            assert _code(hostile, endpoint, response) == "20140099"


@pytest.mark.parametrize(
    "path",
    [
        "/alipayplus.aspx/",
        "/credit.aspx/",
        "/alipayplus/return/x/",
        "/alipayplus/notify/",
        "/healthz/",
    ],
)
def test_a_path_with_a_slash_too_many_is_not_redirected(hostile: HostileStack, path: str) -> None:
    """A redirect would go to the Host the request named: the adapter sends nobody anywhere
    unchecked."""
    response = httpx.post(
        f"{hostile.stack.adapter_url}{path}", headers={"host": "evil.example"}, timeout=30
    )
    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.parametrize("name", ["UserData", "Custom"])
def test_a_checkout_value_too_long_to_echo_is_refused_without_it(
    hostile: HostileStack, s2s: S2SClient, name: str
) -> None:
    """A 32 kB value once came back in the refusal's Location: 65 kB, more than clients take."""
    fields = _payment_fields(hostile)
    fields[name] = ("k=" if name == "Custom" else "") + "9" * 32_000
    with nothing_changes(hostile):
        code, values, _ = _send(hostile, s2s, "alipayplus", fields)
    assert code.startswith("2")
    assert max(len(value) for value in values) <= 1024
