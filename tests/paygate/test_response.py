"""Building results: field order, MAC, escaping, S2S and plain bodies, Custom pairs."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import parse_inner
from adapter.paygate.mac import compute_mac
from adapter.paygate.response import (
    OUTER_FIELDS,
    RESPONSE_ORDER,
    RESULT_FIELD_NAMES,
    build_response_text,
    custom_pairs,
    encrypt_response,
    is_result_field,
    plain_error_body,
    s2s_body,
)

KEY = b"hmacSecret-32-characters-long!!!"
BASE = {"mid": "M", "PayID": "P1", "TransID": "T1", "Status": "OK", "Code": "00000000"}


def _pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(segment.split("=", 1)) for segment in text.split("&")]  # type: ignore[misc]


def test_fields_follow_the_documented_order_then_extras_then_mac() -> None:
    """The documented order whatever the input order; unknown fields keep theirs; MAC is last.

    See docs/paygate.md#response-fields.
    """
    values = {
        "CCBrand": "x",
        "LastStatus": "OK",
        "Code": "00000000",
        "Description": "success",
        "pt": "y",
        "mid": "M",
        "Status": "OK",
        "TransID": "T1",
        "Extra": "z",
        "PayID": "P1",
    }
    keys = [key for key, _ in _pairs(build_response_text(values, KEY))]
    known = [key for key in RESPONSE_ORDER if key in values]
    assert keys == [*known, "CCBrand", "Extra", "MAC"]
    assert keys[:4] == ["mid", "PayID", "TransID", "pt"]


def test_mac_signs_pay_id_trans_id_mid_status_code_in_upper_hex() -> None:
    """What pretix's check_hash recomputes."""
    mac = dict(_pairs(build_response_text(BASE, KEY)))["MAC"]
    assert mac == compute_mac(KEY, "P1*T1*M*OK*00000000")
    assert mac == mac.upper()


def test_empty_values_are_left_out() -> None:
    """An empty refnr or UserData must not produce ``refnr=`` (docs/paygate.md#client-quirks)."""
    text = build_response_text({**BASE, "refnr": "", "UserData": ""}, KEY)
    assert "refnr" not in text and "UserData" not in text and "&&" not in text


def test_ampersand_and_equals_are_escaped_in_every_value() -> None:
    """UserData ``a=1&b=2`` must not split the answer; decoding clients get it back."""
    text = build_response_text({**BASE, "UserData": "a=1&b=2", "Description": "x & y"}, KEY)
    fields = parse_inner(text)
    assert fields["UserData"] == "a%3D1%26b%3D2"
    assert fields["Description"] == "x %26 y"
    assert dict(parse_qsl(text))["UserData"] == "a=1&b=2"  # pretix's parser


def test_plus_and_percent_are_left_alone() -> None:
    """Raw clients see the value unchanged; decoding clients mangle it as with Paygate."""
    fields = parse_inner(build_response_text({**BASE, "UserData": "a+b 50%"}, KEY))
    assert fields["UserData"] == "a+b 50%"


def test_mac_covers_the_values_as_emitted() -> None:
    """A raw-splitting client recomputes the MAC from what it parsed."""
    fields = parse_inner(build_response_text({**BASE, "TransID": "T&1"}, KEY))
    assert fields["MAC"] == compute_mac(KEY, "P1*T%261*M*OK*00000000")


@pytest.mark.parametrize(
    "bad", [{"MAC": "X"}, {"mac": "X"}, {"MID": "M"}, {"payid": "P"}, {"a&b": "x"}, {"a=b": "x"}]
)
def test_mac_miscased_or_unsplittable_names_are_a_programming_error(bad: dict[str, str]) -> None:
    """pretix indexes ``mid``: a ``MID`` would crash it; ``a&b`` would split the answer."""
    with pytest.raises(ValueError):
        build_response_text({**BASE, **bad}, KEY)


def test_encrypt_response_is_len_in_characters_and_upper_hex() -> None:
    """The encrypted answer decrypts to the text; Len counts characters."""
    cipher = BlowfishCipher(b"Bf16charsKey!xyz")
    values = {**BASE, "Description": "Zahlung abgelehnt: Überweisung"}
    length, data = encrypt_response(values, KEY, cipher)
    text = build_response_text(values, KEY)
    assert length == len(text) < len(text.encode())
    assert data == data.upper()
    assert cipher.decrypt(data, str(length)) == text


def test_s2s_body_is_len_data_and_form_encoded_extras() -> None:
    """``Len=…&Data=…`` with no trailing newline; extras are URL-encoded."""
    body = s2s_body(12, "ABCD", [("session", "a b&c")])
    assert body == "Len=12&Data=ABCD&session=a+b%26c"


def test_plain_error_body_is_form_encoded_without_empty_values() -> None:
    """The answer for an unknown merchant; fatchip-m2 and woo parse it with parse_str."""
    body = plain_error_body("", "FAILED", "20160001", "MerchantID unknown & wrong")
    assert body == "Status=FAILED&Code=20160001&Description=MerchantID+unknown+%26+wrong"


def test_plain_error_body_does_not_echo_a_merchant_id_with_control_characters() -> None:
    body = plain_error_body("Shop\r\nX: 1", "FAILED", "20160001", "MerchantID is not known")
    assert body == "Status=FAILED&Code=20160001&Description=MerchantID+is+not+known"


def test_custom_pairs_drop_values_with_control_characters() -> None:
    assert custom_pairs("a=1\x7f|b=\x85|c=ok") == [("c", "ok")]


@pytest.mark.parametrize(
    ("custom", "pairs"),
    [
        ("k1=v1|k2=v2", [("k1", "v1"), ("k2", "v2")]),
        ("session=abc", [("session", "abc")]),
        ("|a=1||b=2|", [("a", "1"), ("b", "2")]),
        ("flag|=orphan|c=x=y", [("flag", ""), ("c", "x=y")]),
    ],
)
def test_custom_pairs_split_on_pipes(custom: str, pairs: list[tuple[str, str]]) -> None:
    """Custom comes back outside Data with ``|`` as ``&``; empty pieces are dropped."""
    assert custom_pairs(custom) == pairs


def test_custom_pairs_cannot_shadow_the_envelope() -> None:
    """A Custom ``Data=`` would replace the encrypted result in the shop's form parser."""
    assert custom_pairs("Data=x|len=1|MerchantID=y|ok=1") == [("ok", "1")]


def test_every_field_a_result_can_carry_is_a_result_field_name() -> None:
    """The forbidden Custom keys follow the response code: ordered fields, MAC and envelope."""
    values = {name: "v" for name in RESPONSE_ORDER}
    inner = [key for key, _ in _pairs(build_response_text(values, KEY))]
    outer = [key for key, _ in parse_qsl(s2s_body(1, "AB", [("MerchantID", "M"), ("Plain", "p")]))]
    assert {name.lower() for name in (*inner, *outer, *OUTER_FIELDS)} <= RESULT_FIELD_NAMES


@pytest.mark.parametrize("name", sorted(RESULT_FIELD_NAMES))
def test_custom_pairs_never_repeat_a_result_field_in_any_case(name: str) -> None:
    """A stored Custom from before the validation rule still cannot forge a result field."""
    custom = f"{name}=x|{name.upper()}=y|{name.title()}=z|keep=1"
    assert custom_pairs(custom) == [("keep", "1")]


def test_custom_pairs_give_each_key_once_with_its_first_value() -> None:
    """A stored Custom from before the rule against repeated keys: one value per key."""
    assert custom_pairs("a=1|b=2|A=3|a=4|c") == [("a", "1"), ("b", "2"), ("c", "")]


def test_custom_pairs_drop_keys_that_are_not_parameter_names() -> None:
    assert custom_pairs("Status[]=OK| Code=0|a b=1|ok=1") == [("ok", "1")]


def test_is_result_field_ignores_case() -> None:
    assert is_result_field("sTaTuS") and is_result_field("mac") and not is_result_field("session")


def test_a_custom_longer_than_a_valid_one_is_not_echoed() -> None:
    pieces = "|".join(f"k{n}={'v' * 90}" for n in range(12))  # each piece fine, the whole too long
    assert len(pieces) > 1024
    assert custom_pairs(pieces) == []
    assert custom_pairs(pieces[:1000]) != []
