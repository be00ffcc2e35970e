"""The request rules of reverse.aspx, credit.aspx and inquire.aspx."""

from __future__ import annotations

import pytest

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.operations import Echo, Endpoint, validate_operation_request
from adapter.paygate.request import MacScheme, RawRequest

PAY_ID = "0123456789abcdef0123456789ABCDEF"


def _raw(**fields: str) -> RawRequest:
    return RawRequest("Shop", Fields(fields.items()), encrypted=True)


def _money(**extra: str) -> RawRequest:
    base = {"PayID": PAY_ID, "TransID": "T-R1", "Amount": "250", "Currency": "EUR"}
    return _raw(**{**base, **extra})


def _error(raw: RawRequest, endpoint: Endpoint) -> tuple[Category, str]:
    with pytest.raises(PaygateError) as caught:
        validate_operation_request(raw, endpoint)
    return caught.value.category, caught.value.parameter


@pytest.mark.parametrize("endpoint", [Endpoint.CREDIT, Endpoint.REVERSE, Endpoint.CAPTURE])
def test_a_pretix_style_request_with_only_the_mandatory_fields_is_valid(
    endpoint: Endpoint,
) -> None:
    request = validate_operation_request(_money(), endpoint)
    assert (request.pay_id, request.trans_id, request.amount, request.currency) == (
        PAY_ID,
        "T-R1",
        250,
        "EUR",
    )
    assert (request.ref_nr, request.user_data, request.req_id, request.reason) == (None,) * 4


def test_optional_fields_are_read_in_any_key_case() -> None:
    raw = _raw(
        payid=PAY_ID,
        transid="T",
        amount="1",
        currency="EUR",
        refnr="R",
        userdata="u",
        REQID="q",
        reason="broken",
    )
    request = validate_operation_request(raw, Endpoint.CREDIT)
    assert (request.ref_nr, request.user_data, request.req_id, request.reason) == (
        "R",
        "u",
        "q",
        "broken",
    )


def test_reason_is_only_taken_for_credits() -> None:
    assert validate_operation_request(_money(Reason="x"), Endpoint.REVERSE).reason is None


def test_inquire_needs_only_the_pay_id() -> None:
    request = validate_operation_request(_raw(PayID=PAY_ID), Endpoint.INQUIRE)
    assert (request.trans_id, request.amount, request.currency) == (None, None, None)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"PayID": ""}, (Category.MISSING, "PayID")),
        ({"PayID": "short"}, (Category.FORMAT, "PayID")),
        ({"PayID": PAY_ID + "0"}, (Category.FORMAT, "PayID")),
        ({"TransID": ""}, (Category.MISSING, "TransID")),
        ({"TransID": "x" * 65}, (Category.TOO_LONG, "TransID")),
        ({"TransID": "a=b"}, (Category.FORMAT, "TransID")),
        ({"Amount": ""}, (Category.MISSING, "Amount")),
        ({"Amount": "-5"}, (Category.FORMAT, "Amount")),
        ({"Amount": "2.50"}, (Category.FORMAT, "Amount")),
        ({"Amount": "0"}, (Category.FORMAT, "Amount")),
        ({"Amount": "1e3"}, (Category.FORMAT, "Amount")),
        ({"Amount": "12345678901"}, (Category.TOO_LONG, "Amount")),
        ({"Currency": ""}, (Category.MISSING, "Currency")),
        ({"Currency": "eur"}, (Category.FORMAT, "Currency")),
        ({"Currency": "XYZ"}, (Category.NOT_ALLOWED, "Currency")),
        ({"RefNr": "r" * 41}, (Category.TOO_LONG, "RefNr")),
        ({"UserData": "u" * 1025}, (Category.TOO_LONG, "UserData")),
        ({"ReqId": "q" * 33}, (Category.TOO_LONG, "ReqId")),
        ({"Reason": "w" * 257}, (Category.TOO_LONG, "Reason")),
        ({"UserData": "a\nb"}, (Category.FORMAT, "UserData")),
    ],
)
def test_each_broken_rule_names_its_parameter(
    change: dict[str, str], expected: tuple[Category, str]
) -> None:
    assert _error(_money(**change), Endpoint.CREDIT) == expected


def test_the_fingerprint_covers_pay_id_amount_and_currency_only() -> None:
    one = validate_operation_request(_money(TransID="A"), Endpoint.CREDIT)
    two = validate_operation_request(_money(TransID="B", RefNr="x"), Endpoint.CREDIT)
    other = validate_operation_request(_money(Amount="251"), Endpoint.CREDIT)
    assert one.fingerprint == two.fingerprint != other.fingerprint


def test_echo_keeps_the_raw_values_even_of_an_invalid_request() -> None:
    echo = Echo.of(_money(TransID="bad=id", refnr="R", UserData="u").fields)
    assert echo == Echo(pay_id=PAY_ID, trans_id="bad=id", ref_nr="R", user_data="u")


@pytest.mark.parametrize("char", ["\x00", "\n", "\x7f", "\x85", "\x9f"])
def test_echo_leaves_out_values_with_control_characters(char: str) -> None:
    """They were refused for those characters; the refusal must not carry them to the shop."""
    fields = _money(TransID=f"T{char}", refnr=f"R{char}", UserData=f"u{char}").fields
    assert Echo.of(fields) == Echo(pay_id=PAY_ID, trans_id="", ref_nr="", user_data="")


def test_each_endpoint_names_its_mac_scheme() -> None:
    assert {e: e.mac_scheme for e in Endpoint} == {
        Endpoint.REVERSE: MacScheme.OPERATION,
        Endpoint.CREDIT: MacScheme.OPERATION,
        Endpoint.CAPTURE: MacScheme.OPERATION,
        Endpoint.INQUIRE: MacScheme.INQUIRE,
    }


CARD_FIELDS_SENT = ["CCNr", "ccnr", "CCCVC", "CCExpiry", "CCBrand", "CardHolder", "CVV"]


@pytest.mark.parametrize("endpoint", list(Endpoint))
@pytest.mark.parametrize("key", CARD_FIELDS_SENT)
def test_card_data_is_refused_on_every_endpoint(endpoint: Endpoint, key: str) -> None:
    assert _error(_money(**{key: "4111111111111111"}), endpoint) == (
        Category.NOT_ALLOWED,
        "CardData",
    )


@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_card_data_is_refused_before_anything_else(endpoint: Endpoint) -> None:
    """Even a request without PayID gets the card refusal, never an echo of its fields."""
    raw = _raw(CCNr="4111111111111111", Amount="x")
    assert _error(raw, endpoint) == (Category.NOT_ALLOWED, "CardData")


@pytest.mark.parametrize("endpoint", list(Endpoint))
@pytest.mark.parametrize("char", ["\x00", "\x1f", "\x7f", "\x80", "\x85", "\x9f"])
@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("TransID", "TransID"), ("RefNr", "RefNr"), ("UserData", "UserData"), ("ReqId", "ReqId"),
        ("Reason", "Reason"), ("Textfeld1", "Textfeld1"),
    ],
)  # fmt: skip
def test_c0_del_and_c1_are_refused_in_every_free_field(
    endpoint: Endpoint, char: str, key: str, name: str
) -> None:
    assert _error(_money(**{key: f"T{char}1"}), endpoint) == (Category.FORMAT, name)
