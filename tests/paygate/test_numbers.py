"""Numbers from client input: ASCII digits only, bounded, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.paygate.numbers import ascii_number


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("007", 7), ("0" * 5000 + "12", 12), ("999999999", 999999999)],
)
def test_ascii_digits_within_the_bound_are_read(text: str, value: int) -> None:
    assert ascii_number(text, max_digits=9) == value


@pytest.mark.parametrize(
    "text", ["", " 1", "1 ", "-1", "+1", "1.0", "\u00b2", "\u0663", "\uff11", "1" * 10]
)
def test_anything_else_is_none(text: str) -> None:
    assert ascii_number(text, max_digits=9) is None


@given(st.text(), st.integers(min_value=1, max_value=30))
def test_any_text_gives_a_bounded_number_or_none(text: str, max_digits: int) -> None:
    value = ascii_number(text, max_digits=max_digits)
    assert value is None or 0 <= value < 10**max_digits
