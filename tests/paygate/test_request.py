"""Reading a request: envelope, decryption, the inner/outer split, and the MAC."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, format_inner
from adapter.paygate.mac import compute_mac
from adapter.paygate.request import (
    MacScheme,
    RawRequest,
    decode_request,
    outer_merchant_id,
    request_mac_messages,
    verify_request_mac,
)
from adapter.paygate.screening import MAX_PARAMETERS
from tests.paygate.clients import PADDINGS, Padding, client_encrypt

BF_KEY = b"Bf16charsKey!xyz"
HMAC_KEY = b"hmacSecret-32-characters-long!!!"
CIPHER = BlowfishCipher(BF_KEY)
PAY_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def _error(call: Callable[[], object]) -> PaygateError:
    with pytest.raises(PaygateError) as info:
        call()
    return info.value


def _outer(
    inner: str,
    *,
    merchant_id: str = "M",
    padding: Padding = "pkcs7",
    extra: tuple[tuple[str, str], ...] = (),
) -> Fields:
    data = client_encrypt(BF_KEY, inner.encode(), padding)
    return Fields([("MerchantID", merchant_id), ("Len", str(len(inner))), ("Data", data), *extra])


def _raw(*pairs: tuple[str, str], merchant_id: str = "M") -> RawRequest:
    return RawRequest(merchant_id, Fields(pairs), encrypted=True)


@pytest.mark.parametrize("outer", [Fields([]), Fields([("MerchantID", "")])])
def test_merchant_id_is_required_outside(outer: Fields) -> None:
    """Without the plain MerchantID no keys can be chosen."""
    error = _error(lambda: outer_merchant_id(outer))
    assert (error.category, error.parameter) == (Category.MISSING, "MerchantID")


def test_encrypted_request_is_decrypted_and_parsed() -> None:
    """Data/Len in any key case are decrypted; the plain MerchantID is kept."""
    data = client_encrypt(BF_KEY, b"TransID=T1&Amount=5", "zero", upper=False)
    outer = Fields([("merchantid", "M"), ("LEN", "19"), ("data", data)])
    raw = decode_request(outer, CIPHER)
    assert (raw.merchant_id, raw.encrypted) == ("M", True)
    assert dict(raw.fields) == {"TransID": "T1", "Amount": "5"}


def test_plain_request_uses_the_outer_parameters() -> None:
    """Without Data the request is unencrypted and the parameters are the request."""
    outer = Fields([("MerchantID", "M"), ("TransID", "T1")])
    raw = decode_request(outer, CIPHER)
    assert raw == RawRequest("M", outer, encrypted=False)


def test_data_without_len_is_refused() -> None:
    """Len is mandatory next to Data."""
    outer = Fields([("MerchantID", "M"), ("Data", client_encrypt(BF_KEY, b"a=1", "zero"))])
    error = _error(lambda: decode_request(outer, CIPHER))
    assert (error.category, error.parameter) == (Category.MISSING, "Len")


def test_differing_inner_merchant_id_is_refused() -> None:
    """The keys were chosen by the plain MerchantID; another one inside is a mix-up."""
    error = _error(lambda: decode_request(_outer("MerchantID=Other&TransID=T"), CIPHER))
    assert (error.category, error.parameter) == (Category.INVALID, "MerchantID")


def test_inner_merchant_id_may_be_absent_or_equal() -> None:
    """fatchip-lib and Spryker send MerchantID only in plain; pretix in both places."""
    assert decode_request(_outer("TransID=T"), CIPHER).merchant_id == "M"
    assert decode_request(_outer("MerchantID=M&TransID=T"), CIPHER).merchant_id == "M"


def test_presentation_hints_come_from_outside_but_data_wins() -> None:
    """pretix sends Language in plain; a Language inside Data overrides it."""
    outside = decode_request(_outer("TransID=T", extra=(("Language", "de"),)), CIPHER)
    assert outside.fields["Language"] == "de"
    inside = decode_request(_outer("Language=fr", extra=(("Language", "de"),)), CIPHER)
    assert inside.fields["Language"] == "fr"


def test_other_outer_parameters_are_ignored_for_encrypted_requests() -> None:
    """Amounts and URLs outside Data are unauthenticated and must not be used."""
    extra = (("URLNotify", "https://evil.example/"), ("Amount", "1"))
    raw = decode_request(_outer("TransID=T", extra=extra), CIPHER)
    assert "URLNotify" not in raw.fields and "Amount" not in raw.fields


def test_data_without_pairs_is_a_crypto_error() -> None:
    """Text without ``k=v`` means the wrong Blowfish password, not a missing MAC."""
    error = _error(lambda: decode_request(_outer("no pairs here"), CIPHER))
    assert (error.category, error.parameter) == (Category.CRYPTO, "Data")


def test_stray_segments_survive_decoding() -> None:
    """The validator can still see a literal ``&`` inside Data."""
    raw = decode_request(_outer("OrderDesc=a & b&TransID=T"), CIPHER)
    assert raw.fields.stray == (" b",)
    assert raw.fields["OrderDesc"] == "a & b"


def test_payment_mac_covers_raw_values_without_pay_id() -> None:
    """``*TransID*MID*Amount*Currency`` from the strings as sent, MID from plain."""
    raw = _raw(("PayID", PAY_ID), ("TransID", "T"), ("Amount", "0100"), ("Currency", "EUR"))
    assert request_mac_messages(raw) == ["*T*M*0100*EUR"]
    mac = compute_mac(HMAC_KEY, "*T*M*0100*EUR")
    verify_request_mac(_raw(*raw.fields.items(), ("MAC", mac.lower())), [HMAC_KEY])


def test_operation_mac_includes_pay_id() -> None:
    """credit/reverse/capture sign ``PayID*TransID*MID*Amount*Currency``."""
    pairs = (("PayID", PAY_ID), ("TransID", "R1"), ("Amount", "5"), ("Currency", "EUR"))
    mac = compute_mac(HMAC_KEY, f"{PAY_ID}*R1*M*5*EUR")
    verify_request_mac(_raw(*pairs, ("MAC", mac)), [HMAC_KEY], scheme=MacScheme.OPERATION)
    with pytest.raises(PaygateError):
        verify_request_mac(_raw(*pairs, ("MAC", mac)), [HMAC_KEY])


@pytest.mark.parametrize(
    "message", [f"{PAY_ID}*I1*M**", f"{PAY_ID}**M**", f"{PAY_ID}*I1*M*1234*EUR"]
)
def test_inquire_accepts_each_client_variant(message: str) -> None:
    """Docs, fatchip-lib and Spryker sign inquire differently.

    See docs/paygate.md#inquire-mac-variants.
    """
    raw = _raw(("PayID", PAY_ID), ("TransID", "I1"), ("MAC", compute_mac(HMAC_KEY, message)))
    verify_request_mac(
        raw, [HMAC_KEY], scheme=MacScheme.INQUIRE, stored_amount=1234, stored_currency="EUR"
    )


def test_inquire_stored_variant_needs_the_stored_values() -> None:
    """Without the stored Amount/Currency only the two empty-amount variants count."""
    message = f"{PAY_ID}*I1*M*1234*EUR"
    raw = _raw(("PayID", PAY_ID), ("TransID", "I1"), ("MAC", compute_mac(HMAC_KEY, message)))
    error = _error(lambda: verify_request_mac(raw, [HMAC_KEY], scheme=MacScheme.INQUIRE))
    assert error.category is Category.INVALID


def test_stored_values_outside_inquire_are_a_programming_error() -> None:
    """Passing stored values to another scheme would silently do nothing."""
    with pytest.raises(ValueError):
        request_mac_messages(_raw(), MacScheme.PAYMENT, stored_amount=1, stored_currency="EUR")


def test_second_hmac_key_is_accepted() -> None:
    """Key rotation: the previous password still verifies."""
    mac = compute_mac(b"new-key", "*T*M*5*EUR")
    raw = _raw(("TransID", "T"), ("Amount", "5"), ("Currency", "EUR"), ("MAC", mac))
    verify_request_mac(raw, [HMAC_KEY, b"new-key"])


@pytest.mark.parametrize("mac", [None, "", "   "])
def test_missing_mac_is_missing(mac: str | None) -> None:
    """No MAC at all is a missing parameter, not a mismatch."""
    pairs = [("TransID", "T")] + ([("MAC", mac)] if mac is not None else [])
    error = _error(lambda: verify_request_mac(_raw(*pairs), [HMAC_KEY]))
    assert (error.category, error.parameter) == (Category.MISSING, "MAC")


def test_mismatch_never_reveals_the_expected_mac() -> None:
    """The error explains what to sign but not the value to send."""
    expected = compute_mac(HMAC_KEY, "*T*M*5*EUR")
    raw = _raw(("TransID", "T"), ("Amount", "5"), ("Currency", "EUR"), ("MAC", "00" * 32))
    error = _error(lambda: verify_request_mac(raw, [HMAC_KEY]))
    assert (error.category, error.parameter) == (Category.INVALID, "MAC")
    assert error.reason.startswith("MAC does not match")
    assert expected not in error.reason and expected.lower() not in error.reason


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,11}", fullmatch=True).filter(
    lambda name: name.lower() not in {"merchantid", "len", "data"}
)
VALUES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="&="), min_size=1
)


@given(
    values=st.dictionaries(NAMES.map(str.lower), VALUES, min_size=1, max_size=8),
    key=st.binary(min_size=4, max_size=56),
    padding=st.sampled_from(PADDINGS),
)
def test_any_request_round_trips(values: dict[str, str], key: bytes, padding: Padding) -> None:
    """Any values (non-ASCII too, Len in characters), any key, any client padding."""
    text = format_inner(values.items())
    data = client_encrypt(key, text.encode(), padding)
    outer = Fields([("MerchantID", "M"), ("Len", str(len(text))), ("Data", data)])
    raw = decode_request(outer, BlowfishCipher(key))
    assert dict(raw.fields) == values


@given(data=st.binary(max_size=80).map(bytes.hex), length=st.integers(0, 100).map(str))
def test_garbage_data_raises_only_paygate_errors(data: str, length: str) -> None:
    """Decoding and MAC checking of random Data never raise anything else."""
    outer = Fields([("MerchantID", "M"), ("Len", length), ("Data", data)])
    with contextlib.suppress(PaygateError):
        verify_request_mac(decode_request(outer, CIPHER), [HMAC_KEY])


def test_card_fields_outside_data_reach_the_validators() -> None:
    """Plain parameters are otherwise ignored next to Data; card data must still be refused."""
    extra = (("CCNr", "4111111111111111"), ("cccvc", "123"), ("URLNotify", "https://x.example/"))
    raw = decode_request(_outer("TransID=T", extra=extra), CIPHER)
    assert raw.fields["CCNr"] == "4111111111111111" and raw.fields["CCCVC"] == "123"
    assert "URLNotify" not in raw.fields


def test_too_many_plain_parameters_are_refused_before_decrypting() -> None:
    outer = Fields([("MerchantID", "M"), *[(f"p{n}", "1") for n in range(MAX_PARAMETERS)]])
    error = _error(lambda: decode_request(outer, CIPHER))
    assert (error.category, error.parameter) == (Category.TOO_LONG, "Request")


def test_the_cap_counts_plain_and_encrypted_parameters_together() -> None:
    inner = "&".join(f"p{n}=1" for n in range(MAX_PARAMETERS - 3))
    assert decode_request(_outer(inner), CIPHER).fields.received == MAX_PARAMETERS - 3
    error = _error(lambda: decode_request(_outer(inner + "&x=1"), CIPHER))
    assert (error.category, error.parameter) == (Category.TOO_LONG, "Request")


def test_duplicates_inside_data_count_for_the_cap() -> None:
    error = _error(lambda: decode_request(_outer("&".join(["a=1"] * 400)), CIPHER))
    assert (error.category, error.parameter) == (Category.TOO_LONG, "Request")
