"""Fields: case-insensitive parameters and the raw inner ``k=v&k=v`` text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.paygate.fields import Fields, format_inner, is_parameter_name, parse_inner

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True)
VALUES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="&="), min_size=1
)


def test_lookup_ignores_key_case() -> None:
    """``payID``, ``PAYID`` and ``PayID`` name the same parameter."""
    fields = Fields([("payID", "x")])
    assert fields["PayID"] == "x"
    assert fields.get("PAYID") == "x"
    assert "payid" in fields


def test_get_answers_the_default_for_a_missing_or_non_string_key() -> None:
    fields = Fields([("Amount", "")])
    assert (fields.get("amount"), fields.get("amount", "x")) == ("", "")
    assert (fields.get("Currency"), fields.get("Currency", "EUR")) == (None, "EUR")
    assert fields.get(1, "d") == "d"  # type: ignore[call-overload]


def test_last_duplicate_wins_with_its_spelling_in_first_seen_order() -> None:
    """As PHP parse_str: the last value wins, iteration keeps the first position."""
    fields = Fields([("ReqID", "1"), ("Amount", "5"), ("reqid", "2")])
    assert list(fields.items()) == [("reqid", "2"), ("Amount", "5")]
    assert len(fields) == 2


def test_non_string_keys_are_absent() -> None:
    """A non-str key is simply not there instead of crashing on ``.lower()``."""
    fields = Fields([("a", "1")])
    stray_key: object = 1
    assert stray_key not in fields
    with pytest.raises(KeyError):
        fields[1]  # type: ignore[index]


def test_parse_skips_empty_segments() -> None:
    """A leading ``&`` and ``&&`` (bnl) and a trailing ``&`` (celements) are harmless."""
    fields = parse_inner("&TransID=T1&&Amount=5&")
    assert dict(fields) == {"TransID": "T1", "Amount": "5"}
    assert fields.stray == ()


def test_parse_splits_on_the_first_equals_only() -> None:
    """Custom values carry their own ``=``."""
    assert parse_inner("Custom=session=abc|x=y")["Custom"] == "session=abc|x=y"


def test_parse_keeps_empty_values() -> None:
    """Spryker sends ``URLSuccess=&Response=``: present but empty."""
    fields = parse_inner("URLSuccess=&Response=")
    assert fields["URLSuccess"] == "" and fields["Response"] == ""


def test_parse_does_not_percent_decode() -> None:
    """Raw clients' ``%`` and ``+`` survive; pretix's encoding stays visible."""
    assert parse_inner("OrderDesc=a+b%26c%")["OrderDesc"] == "a+b%26c%"


def test_segment_without_equals_joins_the_previous_value_and_is_listed() -> None:
    """A literal ``&`` in a value is neither lost nor turned into a parameter."""
    fields = parse_inner("OrderDesc=Books & Co&Amount=5")
    assert fields["OrderDesc"] == "Books & Co"
    assert fields["Amount"] == "5"
    assert fields.stray == (" Co",)


def test_segment_with_a_non_name_key_joins_the_previous_value() -> None:
    """``Books & Co = cheap`` does not create a parameter named `` Co ``."""
    fields = parse_inner("OrderDesc=Books & Co = cheap&Amount=5")
    assert fields["OrderDesc"] == "Books & Co = cheap"
    assert list(fields) == ["OrderDesc", "Amount"]


def test_stray_before_any_pair_is_only_listed() -> None:
    """Leading junk has no owner but stays retrievable."""
    fields = parse_inner("junk&TransID=T1")
    assert dict(fields) == {"TransID": "T1"}
    assert fields.stray == ("junk",)


def test_format_drops_empty_values_without_trailing_separator() -> None:
    """Empty values break pretix and FATCHIP parsers (docs/paygate.md#client-quirks)."""
    assert format_inner([("mid", "M"), ("refnr", ""), ("Code", "0")]) == "mid=M&Code=0"


def test_format_does_not_encode() -> None:
    """No client expects percent-encoding in the response text."""
    assert format_inner([("Description", "Bücher 50% +x")]) == "Description=Bücher 50% +x"


def test_format_writes_values_as_a_raw_client_would() -> None:
    """Nothing is escaped: shop emulators send ``Custom=k=v`` and even a literal ``&``."""
    text = format_inner([("Custom", "session=abc"), ("OrderDesc", "Books & more")])
    assert text == "Custom=session=abc&OrderDesc=Books & more"


@pytest.mark.parametrize(
    ("key", "expected"), [("ReqID", True), ("sd.zip-2_x", True), ("", False), (" Co ", False)]
)
def test_parameter_names(key: str, expected: bool) -> None:
    """Letters, digits, ``_``, ``.`` and ``-`` make a name; anything else is a value's tail."""
    assert is_parameter_name(key) is expected


@given(st.dictionaries(NAMES.map(str.lower), VALUES, max_size=12))
def test_format_then_parse_round_trips(values: dict[str, str]) -> None:
    """Any names and any values without ``&``/``=`` come back unchanged (non-ASCII included)."""
    assert dict(parse_inner(format_inner(values.items()))) == values
