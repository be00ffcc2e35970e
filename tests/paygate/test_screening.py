"""Rules of every endpoint: card data, control characters and the parameter cap."""

from __future__ import annotations

import pytest

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, parse_inner
from adapter.paygate.screening import (
    CARD_FIELDS,
    MAX_ECHOED_LENGTH,
    MAX_PARAMETERS,
    check_parameter_count,
    echoable,
    has_control_characters,
    refuse_card_data,
    refuse_control_characters,
)

CARD_NAMES = ["CCNr", "CCCVC", "CCExpiry", "CCBrand", "CardHolder", "PCNr", "Card", "CVV2"]
DOCUMENTED = {"userdata": "UserData", "transid": "TransID"}


def _refusal(call: object) -> tuple[Category, str, str]:
    assert callable(call)
    with pytest.raises(PaygateError) as caught:
        call()
    return caught.value.category, caught.value.parameter, caught.value.reason


@pytest.mark.parametrize("name", sorted(CARD_FIELDS) + CARD_NAMES + ["ccnr", "CCNR", "cCcVc"])
def test_every_card_field_in_any_case_is_refused_without_echoing_it(name: str) -> None:
    fields = Fields([("TransID", "T1"), (name, "4111111111111111")])
    category, parameter, reason = _refusal(lambda: refuse_card_data(fields))
    assert (category, parameter) == (Category.NOT_ALLOWED, "CardData")
    assert reason == "card data is never accepted by this service"


def test_an_empty_card_field_carries_no_card_data() -> None:
    refuse_card_data(Fields([("CCNr", ""), ("CardHolderAddress", "x"), ("Cardinal", "y")]))


CONTROL = [chr(code) for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))]


@pytest.mark.parametrize("char", CONTROL)
def test_c0_del_and_c1_are_control_characters(char: str) -> None:
    assert has_control_characters(f"a{char}b")


@pytest.mark.parametrize("char", [" ", "~", "\xa0", "ü", "€", "\u2028"])
def test_printable_text_has_none(char: str) -> None:
    assert not has_control_characters(f"a{char}b")


@pytest.mark.parametrize("char", ["\x7f", "\x80", "\x85", "\x9f", "\x00", "\x1b"])
@pytest.mark.parametrize(("key", "name"), [("userdata", "UserData"), ("Textfeld1", "Textfeld1")])
def test_a_control_character_in_a_value_names_the_parameter(char: str, key: str, name: str) -> None:
    fields = Fields([("TransID", "T1"), (key, f"a{char}b")])
    category, parameter, _ = _refusal(lambda: refuse_control_characters(fields, DOCUMENTED))
    assert (category, parameter) == (Category.FORMAT, name)


@pytest.mark.parametrize("key", ["Trans\x85ID", "a\r\nb", "x\x7f"])
def test_a_control_character_in_a_name_is_refused_without_repeating_the_name(key: str) -> None:
    fields = Fields([(key, "v")])
    category, parameter, reason = _refusal(lambda: refuse_control_characters(fields, DOCUMENTED))
    assert (category, parameter) == (Category.FORMAT, "Request")
    assert key not in reason


def test_the_parameter_cap_counts_what_arrived() -> None:
    check_parameter_count(MAX_PARAMETERS)
    category, parameter, reason = _refusal(lambda: check_parameter_count(MAX_PARAMETERS + 1))
    assert (category, parameter) == (Category.TOO_LONG, "Request")
    assert str(MAX_PARAMETERS) in reason


def test_a_few_hundred_parameters_is_the_cap() -> None:
    assert 200 <= MAX_PARAMETERS <= 500


def test_repeating_one_name_still_counts_every_copy() -> None:
    fields = Fields([("a", "1")] * 1000)
    assert (len(fields), fields.received) == (1, 1000)


def test_stray_pieces_inside_data_count_too() -> None:
    fields = parse_inner("OrderDesc=a & b & c&TransID=T&&")
    assert fields.received == 4


@pytest.mark.parametrize("value", ["T\x00", "a\tb", "x\x7f", "\x80", "y\x9f"])
def test_a_value_with_control_characters_is_not_echoable(value: str) -> None:
    assert echoable(value) == ""


def test_an_ordinary_or_absent_value_is_echoed_as_it_is() -> None:
    assert (echoable("T-1 & ü=€"), echoable(None)) == ("T-1 & ü=€", "")


def test_a_value_longer_than_any_echoed_field_is_not_echoed() -> None:
    longest = "9" * MAX_ECHOED_LENGTH
    assert (echoable(longest), echoable(longest + "9")) == (longest, "")
