"""Reading a shop request: outer MerchantID, decrypted inner fields, MAC check (§4, §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, parse_inner
from adapter.paygate.mac import mac_matches, request_mac_message


@dataclass(frozen=True)
class RawRequest:
    merchant_id: str  # the plain (outer) MerchantID: it picks the keys and is authoritative
    fields: Fields
    encrypted: bool


def outer_merchant_id(outer: Fields) -> str:
    merchant_id = (outer.get("MerchantID") or "").strip()
    if not merchant_id:
        raise PaygateError(Category.MISSING, "MerchantID", "MerchantID is missing")
    return merchant_id


def decode_request(outer: Fields, cipher: BlowfishCipher) -> RawRequest:
    merchant_id = outer_merchant_id(outer)
    data = outer.get("Data")
    if data is None:
        return RawRequest(merchant_id, outer, encrypted=False)
    fields = parse_inner(cipher.decrypt(data, (outer.get("Len") or "").strip()))
    inner_id = fields.get("MerchantID")
    if inner_id is not None and inner_id != merchant_id:
        raise PaygateError(
            Category.INVALID, "MerchantID", "MerchantID inside Data differs from the plain one"
        )
    return RawRequest(merchant_id, fields, encrypted=True)


def mac_messages(raw: RawRequest, *, pay_id: str | None = None) -> list[str]:
    """The MAC text of a payment (empty PayID) or of an S2S call on ``pay_id``."""
    f = raw.fields
    return [
        request_mac_message(
            f.get("PayID", "") if pay_id is None else pay_id,
            f.get("TransID", ""),
            raw.merchant_id,
            f.get("Amount", ""),
            f.get("Currency", ""),
        )
    ]


def inquire_mac_messages(raw: RawRequest, stored_amount: str, stored_currency: str) -> list[str]:
    """The three inquire variants seen in the wild (paygate.md §14)."""
    pay_id, trans_id = raw.fields.get("PayID", ""), raw.fields.get("TransID", "")
    mid = raw.merchant_id
    return [
        request_mac_message(pay_id, trans_id, mid, "", ""),
        request_mac_message(pay_id, "", mid, "", ""),
        request_mac_message(pay_id, trans_id, mid, stored_amount, stored_currency),
    ]


def verify_request_mac(
    raw: RawRequest, hmac_keys: Sequence[bytes], messages: Sequence[str] | None = None
) -> None:
    given = raw.fields.get("MAC")
    if not given:
        raise PaygateError(Category.MISSING, "MAC", "MAC is missing")
    if not mac_matches(given, hmac_keys, messages or mac_messages(raw)):
        raise PaygateError(
            Category.INVALID, "MAC", "MAC does not match PayID*TransID*MerchantID*Amount*Currency"
        )
