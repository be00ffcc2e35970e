"""BlowfishCipher: the Data/Len layer, tolerant on input and exact on output."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
from hypothesis import given
from hypothesis import strategies as st

from adapter.paygate import blowfish
from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from tests.paygate.clients import PADDINGS, Padding, client_encrypt, library_decrypt

KEY = b"Bf16charsKey!xyz"
TEXT = "TransID=T1&Amount=5&OrderDesc=Bücher"  # 36 characters, 37 UTF-8 bytes
# Text a client can send: no surrogates, and no trailing \x00-\x08 (those are padding).
PLAINTEXTS = st.text(st.characters(blacklist_categories=("Cs", "Cc")))
KEYS = st.binary(min_size=4, max_size=56)


def _error(call: Callable[[], object]) -> PaygateError:
    with pytest.raises(PaygateError) as info:
        call()
    return info.value


def test_encrypt_counts_characters_and_pads_with_spaces_in_upper_hex() -> None:
    """Len is in characters; the padding is spaces; hex is upper case (pretix needs it)."""
    length, data = BlowfishCipher(KEY).encrypt(TEXT)
    assert length == 36
    assert data == data.upper()
    assert library_decrypt(KEY, data) == TEXT.encode() + b" " * 3


def test_encrypt_adds_no_block_when_aligned() -> None:
    """Space padding only fills the last block; an aligned text gets none."""
    _, data = BlowfishCipher(KEY).encrypt("12345678")
    assert len(data) == 16


@pytest.mark.parametrize("padding", PADDINGS)
def test_decrypt_accepts_every_client_padding(padding: Padding) -> None:
    """Zero, PKCS#7, zero+PKCS#7 and space padding all give back the plaintext."""
    data = client_encrypt(KEY, TEXT.encode(), padding)
    assert BlowfishCipher(KEY).decrypt(data, "36") == TEXT


def test_decrypt_accepts_lower_case_hex() -> None:
    """Every PHP client sends ``bin2hex`` lower case."""
    data = client_encrypt(KEY, TEXT.encode(), "zero", upper=False)
    assert BlowfishCipher(KEY).decrypt(data, "36") == TEXT


@pytest.mark.parametrize("padding", ["zero", "pkcs7", "zero+pkcs7"])
def test_decrypt_accepts_len_in_bytes(padding: Padding) -> None:
    """woo and bnl S2S count Len with ``strlen``: one more than the characters here."""
    data = client_encrypt(KEY, TEXT.encode(), padding)
    assert BlowfishCipher(KEY).decrypt(data, "37") == TEXT


def test_decrypt_falls_back_to_latin_1() -> None:
    """Old PHP shops send ISO-8859-1 bytes, which are not UTF-8."""
    data = client_encrypt(KEY, TEXT.encode("latin-1"), "zero")
    assert BlowfishCipher(KEY).decrypt(data, "36") == TEXT


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("XYZ0" * 4, "hexadecimal"),
        ("ABC", "hexadecimal"),
        ("AB CD EF 01 23 45 67 89", "hexadecimal"),
        ("00" * 12, "8-byte"),
        ("aa-" + "00" * 8, "hexadecimal"),
    ],
)
def test_decrypt_refuses_malformed_data(data: str, reason: str) -> None:
    """Data must be non-empty hex of whole 8-byte blocks, or it is a crypto error on Data."""
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, "3"))
    assert (error.category, error.parameter) == (Category.CRYPTO, "Data")
    assert reason in error.reason


def test_decrypt_refuses_missing_len() -> None:
    """Without Len the plaintext cannot be cut."""
    data = client_encrypt(KEY, TEXT.encode(), "zero")
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, ""))
    assert (error.category, error.parameter) == (Category.MISSING, "Len")


@pytest.mark.parametrize("length", ["-1", "1.0", "3a", "²", "0x10"])
def test_decrypt_refuses_non_decimal_len(length: str) -> None:
    """Len is ASCII decimal digits only."""
    data = client_encrypt(KEY, TEXT.encode(), "zero")
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, length))
    assert (error.category, error.parameter) == (Category.FORMAT, "Len")


def test_decrypt_refuses_len_beyond_the_data() -> None:
    """Len larger than the decrypted byte length is invalid (as fatchip-m2 checks)."""
    data = client_encrypt(KEY, TEXT.encode(), "zero")
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, "41"))
    assert (error.category, error.parameter) == (Category.INVALID, "Len")


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "41", "1" + "0" * 4400])
def test_decrypt_refuses_a_len_of_thousands_of_digits_as_beyond_the_data(length: str) -> None:
    data = client_encrypt(KEY, TEXT.encode(), "zero")
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, length))
    assert (error.category, error.parameter) == (Category.INVALID, "Len")


def test_decrypt_reads_leading_zeros_of_len_as_nothing() -> None:
    data = client_encrypt(KEY, TEXT.encode(), "zero")
    assert BlowfishCipher(KEY).decrypt(data, "0" * 5000 + str(len(TEXT))) == TEXT


def test_decrypt_refuses_len_that_cuts_the_text() -> None:
    """A too-short Len would silently drop the last parameter (pretix sends Response last)."""
    data = client_encrypt(KEY, TEXT.encode(), "pkcs7")
    error = _error(lambda: BlowfishCipher(KEY).decrypt(data, "30"))
    assert (error.category, error.parameter) == (Category.CRYPTO, "Data")
    assert "wrong Len" in error.reason


def test_wrong_key_is_a_crypto_error() -> None:
    """Garbage from a wrong password does not pass as a request."""
    data = client_encrypt(KEY, TEXT.encode(), "pkcs7")
    error = _error(lambda: BlowfishCipher(b"another16charkey").decrypt(data, "36"))
    assert (error.category, error.parameter) == (Category.CRYPTO, "Data")
    assert "another16charkey" not in error.reason


def test_library_key_schedule_cycles_the_key() -> None:
    """The premise of short-key repetition: whole repetitions encrypt identically."""
    assert client_encrypt(b"abcd", b"x", "zero") == client_encrypt(b"abcdabcd", b"x", "zero")


@pytest.mark.parametrize(
    ("short", "repeated"), [(b"", b"    "), (b"k", b"kkkk"), (b"abc", b"abcabc")]
)
def test_short_keys_behave_as_the_php_reference(short: bytes, repeated: bytes) -> None:
    """Empty means one space; keys under 4 bytes work as their repetition."""
    assert BlowfishCipher(short).encrypt(TEXT) == BlowfishCipher(repeated).encrypt(TEXT)


def test_56_byte_key_is_accepted() -> None:
    """56 bytes is the library maximum."""
    data = client_encrypt(b"K" * 56, TEXT.encode(), "zero")
    assert BlowfishCipher(b"K" * 56).decrypt(data, "36") == TEXT


@pytest.mark.parametrize("size", [57, 72, 100])
def test_keys_over_56_bytes_are_refused_clearly(size: int) -> None:
    """The PHP reference allows up to 72 bytes; we cannot, and say so."""
    with pytest.raises(ValueError, match="at most 56 bytes"):
        BlowfishCipher(b"K" * size)


def test_key_schedule_runs_once_per_cipher(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key is set up when the merchant's cipher is built, not per request."""
    built: list[bytes] = []
    original = Blowfish

    def counting(key: bytes) -> object:
        built.append(key)
        return original(key)

    monkeypatch.setattr(blowfish, "Blowfish", counting)
    cipher = BlowfishCipher(KEY)
    for _ in range(3):
        length, data = cipher.encrypt(TEXT)
        cipher.decrypt(data, str(length))
    assert built == [KEY]


@given(key=KEYS, text=PLAINTEXTS, padding=st.sampled_from(PADDINGS))
def test_any_key_text_and_padding_round_trip(key: bytes, text: str, padding: Padding) -> None:
    """Every client padding decrypts to the plaintext, Len in characters."""
    data = client_encrypt(key, text.encode(), padding)
    if not data:
        return  # an empty text with zero padding has no Data at all
    assert BlowfishCipher(key).decrypt(data.lower(), str(len(text))) == text


@given(key=KEYS, text=PLAINTEXTS)
def test_own_encryption_round_trips(key: bytes, text: str) -> None:
    """What we send, a Len-truncating client reads back exactly."""
    length, data = BlowfishCipher(key).encrypt(text)
    raw = library_decrypt(key, data) if data else b""
    assert raw.decode()[:length] == text


@given(
    data=st.binary(max_size=64).map(bytes.hex) | st.text(max_size=40),
    length=st.text(max_size=5) | st.integers(0, 80).map(str),
    upper=st.booleans(),
)
def test_garbage_raises_only_paygate_errors(data: str, length: str, upper: bool) -> None:
    """Random Data and Len give text or a PaygateError, never another exception."""
    with contextlib.suppress(PaygateError):
        BlowfishCipher(KEY).decrypt(data.upper() if upper else data, length)
