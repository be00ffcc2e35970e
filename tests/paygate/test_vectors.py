"""The 15 vectors checked against a real Paygate client (pretix-computop 1.3.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import Fields
from adapter.paygate.mac import compute_mac
from adapter.paygate.request import decode_request, mac_messages, verify_request_mac
from adapter.paygate.response import build_response_text, encrypt_response

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "paygate-vectors.json").read_text()
)["vectors"]


def _of(kind: str) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in VECTORS if v["kind"] == kind]


def test_all_fifteen_vectors_are_present() -> None:
    assert len(VECTORS) == 15


@pytest.mark.parametrize("vector", _of("request"))
def test_request_mac_matches_the_client(vector: dict[str, Any]) -> None:
    assert compute_mac(vector["hmac_key"].encode(), vector["mac_input"]) == vector["expected_mac"]


@pytest.mark.parametrize("vector", _of("request"))
@pytest.mark.parametrize("case", ["data_hex", "data_hex_lowercase_variant_server_must_accept"])
def test_request_decodes_to_the_clients_fields_in_any_hex_case(
    vector: dict[str, Any], case: str
) -> None:
    outer = Fields(
        [
            ("MerchantID", vector["params"]["MerchantID"]),
            ("Len", str(vector["len"])),
            ("Data", vector[case]),
        ]
    )
    raw = decode_request(outer, BlowfishCipher(vector["blowfish_key"].encode()))
    assert {key.lower(): raw.fields[key] for key in raw.fields} == vector[
        "server_decoded_fields_raw"
    ]
    assert mac_messages(raw) == [vector["server_mac_input"]]
    verify_request_mac(raw, [vector["hmac_key"].encode()])


@pytest.mark.parametrize("vector", _of("response"))
def test_response_text_and_mac_match_the_vector(vector: dict[str, Any]) -> None:
    fields = {k: v for k, v in vector["fields"].items() if k != "MAC"}
    assert build_response_text(fields, vector["hmac_key"].encode()) == vector["plaintext"]


@pytest.mark.parametrize(
    "vector", [p for p in _of("response") if p.values[0]["padding"] == "space"]
)
def test_space_padded_response_is_byte_identical(vector: dict[str, Any]) -> None:
    fields = {k: v for k, v in vector["fields"].items() if k != "MAC"}
    cipher = BlowfishCipher(vector["blowfish_key"].encode())
    assert encrypt_response(fields, vector["hmac_key"].encode(), cipher) == (
        vector["len"],
        vector["data_hex"],
    )


@pytest.mark.parametrize("vector", _of("response"))
def test_every_response_padding_decrypts(vector: dict[str, Any]) -> None:
    cipher = BlowfishCipher(vector["blowfish_key"].encode())
    assert cipher.decrypt(vector["data_hex"], str(vector["len"])) == vector["plaintext"]


@pytest.mark.parametrize("vector", _of("primitive"))
def test_three_client_paddings_decrypt_and_space_padding_reproduces(
    vector: dict[str, Any],
) -> None:
    cipher = BlowfishCipher(vector["blowfish_key"].encode())
    for key in ("space_padded_hex", "zero_padded_hex", "pkcs7_padded_hex"):
        assert cipher.decrypt(vector[key], str(vector["len"])) == vector["plaintext"]
    assert cipher.encrypt(vector["plaintext"]) == (vector["len"], vector["space_padded_hex"])
