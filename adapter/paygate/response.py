"""Answers every client can parse: ``mid`` first, ``MAC`` last, space padding (§4.5, §12)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import format_inner
from adapter.paygate.mac import compute_mac, response_mac_message

RESPONSE_ORDER = (
    "mid", "PayID", "XID", "TransID", "refnr", "Type", "pt", "CodeExt", "ErrorText",
    "Status", "Description", "Code", "UserData",
    "AmountAuth", "AmountCap", "AmountCred", "Currency", "LastStatus",
)  # fmt: skip
_SPLITTERS = str.maketrans({"&": " ", "=": " "})


def _clean(value: str) -> str:
    # A literal '&' or '=' would split the value for every client (bnl and fatchip split on
    # each '='), so they become spaces; '+' and '%' are echoed as the original does (§9).
    return value.translate(_SPLITTERS)


def ordered_fields(values: Mapping[str, str]) -> list[tuple[str, str]]:
    known = [(key, values[key]) for key in RESPONSE_ORDER if key in values]
    rest = [(k, v) for k, v in values.items() if k not in RESPONSE_ORDER and k != "MAC"]
    return [(k, _clean(v)) for k, v in known + rest if v]


def build_response_text(values: Mapping[str, str], hmac_key: bytes) -> str:
    pairs = ordered_fields(values)
    get = dict(pairs).get
    message = response_mac_message(
        get("PayID", ""), get("TransID", ""), get("mid", ""), get("Status", ""), get("Code", "")
    )
    return format_inner([*pairs, ("MAC", compute_mac(hmac_key, message))])


def encrypt_response(
    values: Mapping[str, str], hmac_key: bytes, cipher: BlowfishCipher
) -> tuple[int, str]:
    return cipher.encrypt(build_response_text(values, hmac_key))


def s2s_body(length: int, data: str, extra: Sequence[tuple[str, str]] = ()) -> str:
    """``Len=…&Data=…`` with no trailing newline (pretix breaks on one, §15)."""
    return urlencode([("Len", str(length)), ("Data", data), *extra])


def plain_error_body(merchant_id: str, status: str, code: str, description: str) -> str:
    """For an unknown MerchantID there is no key to encrypt with (§8)."""
    return urlencode(
        [("mid", merchant_id), ("Status", status), ("Code", code), ("Description", description)]
    )


def custom_pairs(custom: str) -> list[tuple[str, str]]:
    """``k1=v1|k2=v2`` → pairs returned in plain beside Data (§9)."""
    pairs = []
    for piece in custom.split("|"):
        key, sep, value = piece.partition("=")
        if sep and key:
            pairs.append((key, value))
    return pairs
