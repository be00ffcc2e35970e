"""The 15 vectors produced with, and checked against, the real pretix-computop client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import Fields, parse_inner
from adapter.paygate.mac import compute_mac, mac_matches
from adapter.paygate.request import (
    MacScheme,
    decode_request,
    request_mac_messages,
    verify_request_mac,
)
from adapter.paygate.response import build_response_text, encrypt_response
from adapter.paygate.validation import validate_payment_request

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).with_name("paygate-vectors.json")).read_text(encoding="utf-8")
)["vectors"]
REQUESTS = [vector for vector in VECTORS if vector["kind"] == "request"]
RESPONSES = [vector for vector in VECTORS if vector["kind"] == "response"]
PAYMENTS = [vector for vector in REQUESTS if vector["endpoint"].startswith("alipayplus")]
CROSSCHECK = next(vector for vector in VECTORS if vector["name"] == "padding_crosscheck")


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def _cipher(vector: dict[str, Any]) -> BlowfishCipher:
    return BlowfishCipher(vector["blowfish_key"].encode())


def _scheme(vector: dict[str, Any]) -> MacScheme:
    return MacScheme.PAYMENT if vector in PAYMENTS else MacScheme.OPERATION


def _outer(vector: dict[str, Any], data: str) -> Fields:
    return Fields(
        [
            ("MerchantID", vector["params"]["MerchantID"]),
            ("Len", str(vector["len"])),
            ("Data", data),
        ]
    )


def test_all_vectors_are_covered() -> None:
    """9 requests, 5 responses and the padding cross-check."""
    assert (len(VECTORS), len(REQUESTS), len(RESPONSES)) == (15, 9, 5)
    assert len(PAYMENTS) == 7


@pytest.mark.parametrize("vector", REQUESTS, ids=_ids(REQUESTS))
def test_request_mac_is_reproduced(vector: dict[str, Any]) -> None:
    """Our MAC of the documented input equals the client's."""
    assert compute_mac(vector["hmac_key"].encode(), vector["mac_input"]) == vector["expected_mac"]


@pytest.mark.parametrize("vector", REQUESTS, ids=_ids(REQUESTS))
@pytest.mark.parametrize("case", ["data_hex", "data_hex_lowercase_variant_server_must_accept"])
def test_request_data_decrypts_in_either_hex_case(vector: dict[str, Any], case: str) -> None:
    """pretix's PKCS#7 Data, upper and lower case, gives back the plaintext."""
    plaintext = _cipher(vector).decrypt(vector[case], str(vector["len"]))
    assert plaintext == vector["plaintext"]


@pytest.mark.parametrize("vector", REQUESTS, ids=_ids(REQUESTS))
def test_request_fields_and_mac_match_the_server_view(vector: dict[str, Any]) -> None:
    """Decoded fields are the raw values; the server MAC input and check agree."""
    raw = decode_request(_outer(vector, vector["data_hex"]), _cipher(vector))
    assert {key.lower(): value for key, value in raw.fields.items()} == vector[
        "server_decoded_fields_raw"
    ]
    assert request_mac_messages(raw, _scheme(vector)) == [vector["server_mac_input"]]
    verify_request_mac(raw, [vector["hmac_key"].encode()], scheme=_scheme(vector))
    assert vector["server_mac_matches"] is True


@pytest.mark.parametrize("vector", PAYMENTS, ids=_ids(PAYMENTS))
def test_pretix_payments_pass_validation(vector: dict[str, Any]) -> None:
    """Real pretix requests are valid; the form-encoded OrderDesc is decoded for display."""
    raw = decode_request(_outer(vector, vector["data_hex"]), _cipher(vector))
    request = validate_payment_request(raw)
    params = vector["params"]
    assert request.order_desc_text == params["OrderDesc"]
    assert request.order_desc == vector["server_decoded_fields_raw"]["orderdesc"]
    assert (request.amount_raw, request.currency) == (params["Amount"], params["Currency"])
    assert request.trans_id == params["TransID"]
    assert request.url_back == params["URLBack"]
    assert request.response_encrypt is True


def _values(vector: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in vector["fields"].items() if key != "MAC"}


@pytest.mark.parametrize("vector", RESPONSES, ids=_ids(RESPONSES))
def test_response_text_and_mac_are_reproduced(vector: dict[str, Any]) -> None:
    """Field order, values and MAC give the documented plaintext exactly."""
    text = build_response_text(_values(vector), vector["hmac_key"].encode())
    assert text == vector["plaintext"]
    assert parse_inner(text)["MAC"] == vector["expected_mac"]
    assert compute_mac(vector["hmac_key"].encode(), vector["mac_input"]) == vector["expected_mac"]


SPACE_PADDED = [vector for vector in RESPONSES if vector["padding"] == "space"]
OTHER_PADDED = [vector for vector in RESPONSES if vector["padding"] != "space"]


@pytest.mark.parametrize("vector", SPACE_PADDED, ids=_ids(SPACE_PADDED))
def test_space_padded_responses_are_reproduced_byte_for_byte(vector: dict[str, Any]) -> None:
    """Our encrypted answer equals the recommended space-padded form, Len and Data."""
    length, data = encrypt_response(_values(vector), vector["hmac_key"].encode(), _cipher(vector))
    assert (length, data) == (vector["len"], vector["data_hex"])
    assert vector["outer_form"] == f"Len={length}&Data={data}"


@pytest.mark.parametrize("vector", RESPONSES, ids=_ids(RESPONSES))
def test_every_response_padding_decrypts_tolerantly(vector: dict[str, Any]) -> None:
    """PKCS#7 and zero-padded answers decrypt too, and their MAC verifies."""
    text = _cipher(vector).decrypt(vector["data_hex"], str(vector["len"]))
    assert text == vector["plaintext"]
    fields = parse_inner(text)
    assert mac_matches(fields["MAC"], [vector["hmac_key"].encode()], [vector["mac_input"]])


@pytest.mark.parametrize("vector", OTHER_PADDED, ids=_ids(OTHER_PADDED))
def test_we_do_not_emit_the_other_paddings(vector: dict[str, Any]) -> None:
    """Only the last block differs from our space padding (zero breaks pretix)."""
    _, data = encrypt_response(_values(vector), vector["hmac_key"].encode(), _cipher(vector))
    assert data != vector["data_hex"] and data[:-16] == vector["data_hex"][:-16]


@pytest.mark.parametrize("padding", ["space_padded_hex", "zero_padded_hex", "pkcs7_padded_hex"])
def test_padding_crosscheck_decrypts(padding: str) -> None:
    """The Computop sample's, the PHP sample's and PKCS#7 Data all decrypt."""
    cipher = _cipher(CROSSCHECK)
    assert cipher.decrypt(CROSSCHECK[padding], str(CROSSCHECK["len"])) == CROSSCHECK["plaintext"]


def test_padding_crosscheck_space_encryption_matches_the_computop_sample() -> None:
    """Our space padding reproduces the "Computop example implementation" ciphertext."""
    length, data = _cipher(CROSSCHECK).encrypt(CROSSCHECK["plaintext"])
    assert (length, data) == (CROSSCHECK["len"], CROSSCHECK["space_padded_hex"])
