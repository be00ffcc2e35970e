from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from hypothesis import given
from hypothesis import strategies as st

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import format_inner, parse_inner

keys = st.binary(min_size=4, max_size=56)
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="&="),
    max_size=40,
)
field_names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,11}", fullmatch=True)


def _client_encrypt(key: bytes, plaintext: str, padding: str) -> str:
    data = plaintext.encode("utf-8")
    if padding == "zero":
        data += b"\0" * (-len(data) % 8)
    elif padding == "pkcs7":
        n = 8 - len(data) % 8
        data += bytes([n]) * n
    elif padding == "zero+pkcs7":
        data += b"\0" * (-len(data) % 8) + b"\x08" * 8
    else:
        data += b" " * (-len(data) % 8)
    encryptor = Cipher(Blowfish(key), modes.ECB()).encryptor()  # noqa: S305
    return (encryptor.update(data) + encryptor.finalize()).hex()


@given(
    key=keys, pairs=st.lists(st.tuples(field_names, values.filter(bool)), min_size=1, max_size=8)
)
def test_round_trip_of_arbitrary_fields_keeps_every_value(
    key: bytes, pairs: list[tuple[str, str]]
) -> None:
    cipher = BlowfishCipher(key)
    text = format_inner(pairs)
    length, data = cipher.encrypt(text)
    assert length == len(text)
    assert data == data.upper()
    decoded = parse_inner(cipher.decrypt(data, str(length)))
    assert {k: decoded[k] for k in decoded} == _last_wins(pairs)


def _last_wins(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Keys compared case-insensitively, the last duplicate and its spelling win."""
    out: dict[str, tuple[str, str]] = {}
    for k, v in pairs:
        out[k.lower()] = (k, v)
    return dict(out.values())


@given(
    key=keys,
    text=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x21),
        min_size=1,
        max_size=60,
    ),
    padding=st.sampled_from(["zero", "pkcs7", "zero+pkcs7", "space"]),
)
def test_every_client_padding_decrypts_to_the_plaintext(
    key: bytes, text: str, padding: str
) -> None:
    data = _client_encrypt(key, text, padding)
    assert BlowfishCipher(key).decrypt(data, str(len(text))) == text


@given(data=st.text(max_size=80), length=st.text(max_size=6))
def test_garbage_never_raises_anything_but_a_paygate_error(data: str, length: str) -> None:
    with contextlib.suppress(PaygateError):
        BlowfishCipher(b"Bf16charsKey!xyz").decrypt(data, length)


@pytest.mark.parametrize(
    ("data", "length", "category", "parameter"),
    [
        ("ZZ", "1", Category.CRYPTO, "Data"),
        ("ABCD", "1", Category.CRYPTO, "Data"),
        ("", "1", Category.CRYPTO, "Data"),
        ("00" * 8, "", Category.MISSING, "Len"),
        ("00" * 8, "x", Category.FORMAT, "Len"),
        ("00" * 8, "9", Category.INVALID, "Len"),
    ],
)
def test_undecodable_data_names_the_parameter(
    data: str, length: str, category: Category, parameter: str
) -> None:
    with pytest.raises(PaygateError) as caught:
        BlowfishCipher(b"Bf16charsKey!xyz").decrypt(data, length)
    assert (caught.value.category, caught.value.parameter) == (category, parameter)


def test_latin1_plaintext_from_old_php_shops_is_read() -> None:
    key = b"Bf16charsKey!xyz"
    data = "OrderDesc=Gr\xfc\xdfe".encode("latin-1")
    padded = data + b"\0" * (-len(data) % 8)
    encryptor = Cipher(Blowfish(key), modes.ECB()).encryptor()  # noqa: S305
    hex_data = (encryptor.update(padded) + encryptor.finalize()).hex()
    assert BlowfishCipher(key).decrypt(hex_data, str(len(data))) == "OrderDesc=Grüße"


def test_short_key_is_repeated_to_the_library_minimum() -> None:
    assert BlowfishCipher(b"ab").encrypt("x") == BlowfishCipher(b"abab").encrypt("x")
