"""The HMAC-SHA256 MAC: message layout, upper-case output, tolerant comparison."""

from __future__ import annotations

import hmac

import pytest

from adapter.paygate.mac import compute_mac, mac_matches, request_mac_message, response_mac_message

KEY = b"hmacSecret-32-characters-long!!!"
MESSAGE = "*ABC12-P-1*TestMerchant*1234*EUR"
MAC = "DCE2B440B83D19CF23C8CB1400A6FB4AFB61DBFBF024AA6EA8C13E3BB704E1D2"  # pretix vector


def test_request_message_keeps_separators_of_absent_values() -> None:
    """A new payment has no PayID, an inquire no Amount/Currency: the ``*`` stay."""
    assert request_mac_message("", "T", "M", "1234", "EUR") == "*T*M*1234*EUR"
    assert request_mac_message("P", "", "M", "", "") == "P**M**"


def test_response_message_layout() -> None:
    """Results sign PayID*TransID*mid*Status*Code."""
    assert response_mac_message("P", "T", "M", "OK", "00000000") == "P*T*M*OK*00000000"


def test_compute_mac_is_upper_hex_hmac_sha256() -> None:
    """Matches pretix's own request MAC byte for byte."""
    assert compute_mac(KEY, MESSAGE) == MAC


@pytest.mark.parametrize("given", [MAC, MAC.lower(), f" {MAC}\n", MAC[:32].lower() + MAC[32:]])
def test_matches_ignores_case_and_surrounding_whitespace(given: str) -> None:
    """PHP clients send lower-case hex; space-padded Data leaves trailing blanks."""
    assert mac_matches(given, [KEY], [MESSAGE])


@pytest.mark.parametrize("given", ["", MAC[:-1], MAC[:-1] + "0", "é" * 64, MAC + "00"])
def test_wrong_or_odd_macs_do_not_match(given: str) -> None:
    """A wrong, truncated, extended or non-ASCII MAC is a plain mismatch, not an exception."""
    assert not mac_matches(given, [KEY], [MESSAGE])


def test_any_key_and_any_message_may_match() -> None:
    """Password rotation and the inquire variants: one hit is enough."""
    assert mac_matches(MAC, [b"old", KEY], ["other", MESSAGE])
    assert not mac_matches(MAC, [b"old"], [MESSAGE])
    assert not mac_matches(MAC, [KEY], ["other"])


def test_comparison_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is constant-time."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert mac_matches(MAC.lower(), [KEY], [MESSAGE])
    assert calls == [(MAC.encode(), MAC.encode())]
