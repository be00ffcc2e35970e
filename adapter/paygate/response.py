"""Building the answers a shop parses: encrypted results, S2S bodies, plain errors.

The rules are in docs/paygate.md#encrypting-a-result and docs/paygate.md#response-fields.

Why values are escaped: every client splits the inner text on ``&`` and most on every ``=``, so
a literal ``&`` or ``=`` in any value (a UserData ``a=1&b=2``, a Description) would break the
whole answer for everyone, not just that one value. Each ``&`` becomes ``%26`` and each ``=``
becomes ``%3D``, in every value including UserData. That is the least lossy choice: clients that
URL-decode the inner text (pretix, bnl's S2S path) get the original value back exactly, and the
raw splitters get a readable escape instead of a corrupted answer. Dropping such a UserData
would lose it silently; stripping the characters would lose it for everyone. ``+`` and ``%`` are
left alone: raw clients then see the value unchanged, and decoding clients mangle it exactly as
they would with the original Paygate (docs/paygate.md#inner-text). The MAC covers them as emitted.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.fields import format_inner, is_parameter_name
from adapter.paygate.mac import compute_mac, response_mac_message
from adapter.paygate.screening import MAX_ECHOED_LENGTH, echoable

# The casing is load-bearing: pretix indexes ``mid``, fatchip-m2 ``refnr``
# (docs/paygate.md#response-fields).
RESPONSE_ORDER: tuple[str, ...] = (
    "mid",
    "PayID",
    "XID",
    "TransID",
    "refnr",
    "Type",
    "pt",
    "CodeExt",
    "ErrorText",
    "Status",
    "Description",
    "Code",
    "UserData",
    "AmountAuth",
    "AmountCap",
    "AmountCred",
    "Currency",
    "LastStatus",
)
_CANONICAL = {name.lower(): name for name in (*RESPONSE_ORDER, "MAC")}
# What we put beside the Custom pairs in the plain part of a result (MerchantID may be there:
# docs/paygate.md#server-to-server-endpoints).
OUTER_FIELDS: tuple[str, ...] = ("Len", "Data", "MerchantID", "Plain")
# Every name a result can carry, in lower case. A Custom pair of that name would give the shop
# a second, plain and forgeable value beside ours (``Status=OK`` next to an encrypted FAILED).
RESULT_FIELD_NAMES = frozenset(name.lower() for name in (*_CANONICAL.values(), *OUTER_FIELDS))


def plain_description(text: str) -> str:
    """Free text made safe for a Description: no character that any client decodes or splits."""
    return text.replace("&", "and").replace("=", " ").replace("+", " ").replace("%", " percent")


def _escape(value: str) -> str:
    return value.replace("&", "%26").replace("=", "%3D")


@functools.lru_cache(maxsize=256)
def _check_field_names(keys: tuple[str, ...]) -> None:
    # Cached by the whole tuple: answers of a kind pass the same names in the same order, and a
    # bad one raises every time.
    for key in keys:
        canonical = _CANONICAL.get(key.lower())
        if canonical == "MAC" or (canonical or key) != key or not is_parameter_name(key):
            raise ValueError(
                f"response field {key!r}: MAC is computed here, known fields use Paygate casing, "
                "names are [A-Za-z0-9_.-]"
            )


def build_response_text(values: Mapping[str, str], hmac_key: bytes) -> str:
    """The inner text: documented order, then other fields as given, no empty values, MAC last.

    The order is that of docs/paygate.md#response-fields.

    MAC is computed here over ``PayID*TransID*mid*Status*Code``. Passing a MAC, a known field in
    another casing (``MID``) or a name that is not a parameter name is a programming error,
    because the shop would not find the field or would split the answer apart.
    """
    _check_field_names(tuple(values))
    clean = {key: _escape(value) for key, value in values.items() if value}
    ordered = [key for key in RESPONSE_ORDER if key in clean]
    ordered += [key for key in clean if key not in RESPONSE_ORDER]
    message = response_mac_message(
        *(clean.get(name, "") for name in ("PayID", "TransID", "mid", "Status", "Code"))
    )
    pairs = [(key, clean[key]) for key in ordered]
    pairs.append(("MAC", compute_mac(hmac_key, message)))
    return format_inner(pairs)


def encrypt_response(
    values: Mapping[str, str], hmac_key: bytes, cipher: BlowfishCipher
) -> tuple[int, str]:
    """``(Len, Data)`` of a result, space-padded and UPPER hex (what pretix requires)."""
    return cipher.encrypt(build_response_text(values, hmac_key))


def s2s_body(length: int, data: str, extra: Sequence[tuple[str, str]] = ()) -> str:
    """``Len=…&Data=…`` plus form-encoded extras; no trailing newline, which breaks pretix."""
    # Len is digits and Data hex: nothing in them to encode.
    body = f"Len={length}&Data={data}"
    return f"{body}&{urlencode(extra)}" if extra else body


def plain_error_body(merchant_id: str, status: str, code: str, description: str) -> str:
    """The unencrypted answer for an unknown merchant: without keys nothing better exists.

    See docs/paygate.md#server-to-server-endpoints.

    Empty values are left out, as in every other answer.
    """
    pairs = [
        ("mid", echoable(merchant_id)),
        ("Status", status),
        ("Code", code),
        ("Description", description),
    ]
    return urlencode([(key, value) for key, value in pairs if value])


def custom_pieces(custom: str) -> list[tuple[str, str]]:
    """Custom ``k1=v1|k2=v2`` split into pairs: empty pieces dropped, no ``=`` means no value."""
    pieces = (piece.partition("=") for piece in custom.split("|") if piece)
    return [(key, value) for key, _, value in pieces]


def is_result_field(name: str) -> bool:
    """Whether ``name`` is, in any letter case, a field a result can carry."""
    return name.lower() in RESULT_FIELD_NAMES


def custom_pairs(custom: str) -> list[tuple[str, str]]:
    """Custom ``k1=v1|k2=v2`` as the plain pairs Paygate returns outside Data.

    See docs/paygate.md#custom-and-plain.

    Validation refuses a Custom that names a result field, a non-parameter name or one key
    twice, or that has control characters; this drops such pieces again (a repeated key keeps
    its first value), for a Custom stored before those rules and for the refusal of an invalid
    request, which still echoes the request's Custom. A piece without ``=`` becomes a name with
    an empty value.
    """
    if len(custom) > MAX_ECHOED_LENGTH:  # refused for its length: not echoed either
        return []
    pairs: dict[str, tuple[str, str]] = {}
    for key, value in custom_pieces(custom):
        if is_parameter_name(key) and not is_result_field(key) and echoable(value) == value:
            pairs.setdefault(key.lower(), (key, value))
    return list(pairs.values())
