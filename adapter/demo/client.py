"""The shop's side of Paygate: build the encrypted request, read the encrypted answer.

It behaves like a legacy shop plugin (pretix-like field set and response check), not like the
adapter: it must catch the adapter deviating from what real shops expect.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import PaygateError
from adapter.paygate.fields import Fields, format_inner, parse_inner
from adapter.paygate.mac import compute_mac, request_mac_message, response_mac_message

# The outer parameters Paygate sends besides the Custom pairs (docs/paygate.md#result-delivery).
_ENVELOPE = frozenset({"len", "data", "merchantid"})
_RESPONSE_MAC_KEYS = frozenset({"PayID", "TransID", "mid", "Status", "Code", "MAC"})


@dataclass(frozen=True)
class ShopKeys:
    merchant_id: str
    hmac_key: str
    blowfish_key: str

    def cipher(self) -> BlowfishCipher:
        return BlowfishCipher(self.blowfish_key.encode("utf-8"))


@dataclass(frozen=True)
class PaymentRequest:
    trans_id: str
    ref_nr: str
    amount: int
    currency: str
    order_desc: str
    device: str
    user_data: str
    custom: str
    url_success: str
    url_failure: str
    url_notify: str


@dataclass(frozen=True)
class EncryptedRequest:
    merchant_id: str
    length: int
    data: str
    plaintext: str  # shown on the redirect page so the demo explains itself


def build_request(keys: ShopKeys, req: PaymentRequest) -> EncryptedRequest:
    amount = str(req.amount)
    # New payment: no PayID yet, its '*' stays (docs/paygate.md#mac).
    mac = compute_mac(
        keys.hmac_key.encode("utf-8"),
        request_mac_message("", req.trans_id, keys.merchant_id, amount, req.currency),
    )
    pairs = [
        ("MerchantID", keys.merchant_id),
        ("TransID", req.trans_id),
        ("RefNr", req.ref_nr),
        ("Amount", amount),
        ("Currency", req.currency),
        ("OrderDesc", req.order_desc),
        ("URLSuccess", req.url_success),
        ("URLFailure", req.url_failure),
        ("URLNotify", req.url_notify),
        ("UserData", req.user_data),
        ("Custom", req.custom),
        ("Device", req.device),
    ]
    if req.device != "DesktopWEB":
        # Alipay+ wants the OS of a mobile/app payer; the demo pretends to be Android.
        pairs.append(("osType", "ANDROID"))
    # Like pretix, only Response follows the MAC.
    pairs += [("MAC", mac), ("Response", "encrypt")]
    plaintext = format_inner(pairs)
    length, data = keys.cipher().encrypt(plaintext)
    return EncryptedRequest(keys.merchant_id, length, data, plaintext)


def build_s2s_request(keys: ShopKeys, fields: Mapping[str, str]) -> dict[str, str]:
    """The outer parameters of a credit/reverse/inquire call, MAC over the fields as sent.

    For inquire Amount and Currency are absent, so the MAC is over ``PayID*TransID*MID**``.
    """
    mac = compute_mac(
        keys.hmac_key.encode("utf-8"),
        request_mac_message(
            fields.get("PayID", ""),
            fields.get("TransID", ""),
            keys.merchant_id,
            fields.get("Amount", ""),
            fields.get("Currency", ""),
        ),
    )
    length, data = keys.cipher().encrypt(format_inner([*fields.items(), ("MAC", mac)]))
    return {"MerchantID": keys.merchant_id, "Len": str(length), "Data": data}


@dataclass(frozen=True)
class DecodedDelivery:
    fields: dict[str, str]  # decrypted inner fields, keys as the adapter spelled them
    custom: dict[str, str]  # the plain pairs outside Data
    mac_ok: bool
    trans_id: str | None
    error: str | None  # why Data could not be read, if it could not


def split_outer(params: Mapping[str, str]) -> tuple[str, str, dict[str, str]]:
    """(Len, Data, Custom pairs) from the outer parameters."""
    custom = {k: v for k, v in params.items() if k.lower() not in _ENVELOPE}
    return params.get("Len", ""), params.get("Data", ""), custom


def response_mac_ok(keys: ShopKeys, fields: Fields) -> bool:
    """pretix ``check_hash``: ``mid`` must be ours and ``MAC.rstrip()`` our UPPER HMAC, exactly.

    Deliberately stricter than the adapter's own case-insensitive check, since pretix is the
    strictest real reader (docs/paygate.md#response-mac): lower-case hex or a wrong ``mid``
    must show up as INVALID.
    """
    # pretix indexes these keys case-sensitively: a "MID" or "payid" would be a KeyError there.
    if not set(fields) >= _RESPONSE_MAC_KEYS:
        return False
    pay_id, trans_id, mid = fields["PayID"], fields["TransID"], fields["mid"]
    status, code, given = fields["Status"], fields["Code"], fields["MAC"]
    if mid != keys.merchant_id:
        return False
    expected = compute_mac(
        keys.hmac_key.encode("utf-8"), response_mac_message(pay_id, trans_id, mid, status, code)
    )
    return hmac.compare_digest(given.rstrip().encode("utf-8"), expected.encode("utf-8"))


def decode_delivery(keys: ShopKeys, params: Mapping[str, str]) -> DecodedDelivery:
    length, data, custom = split_outer(params)
    if not data or not length:
        return DecodedDelivery({}, custom, False, None, "Len or Data is missing")
    if data != data.upper():
        # pretix decodes with strict b16decode, which refuses lower-case hex
        # (docs/paygate.md#encrypting-a-result).
        return DecodedDelivery({}, custom, False, None, "Data is not UPPER-case hex")
    try:
        fields = parse_inner(keys.cipher().decrypt(data, length))
    except PaygateError as exc:
        return DecodedDelivery({}, custom, False, None, exc.reason)
    return DecodedDelivery(
        fields=dict(fields.items()),
        custom=custom,
        mac_ok=response_mac_ok(keys, fields),
        trans_id=fields.get("TransID"),
        error=None,
    )
