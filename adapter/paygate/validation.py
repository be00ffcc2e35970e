"""The request rules of ``alipayplus.aspx`` (docs/paygate.md#payment-request).

The first broken rule is reported: card data first (we never take it), then missing mandatory
parameters, then control characters anywhere (see ``screening``), then each parameter in the
order of the page. Empty values count as absent, because clients send ``URLSuccess=&Response=``
(docs/paygate.md#envelope).

URLs are read by :func:`adapter.net.urls.parse_shop_url`, which checks the raw string before
splitting it; whether the merchant admits a URL's host is the caller's check.

Custom comes back in plain beside the encrypted result (docs/paygate.md#custom-and-plain), so a
Custom key that names a result field (``Status``, ``MAC``, ``Len``... in any letter case) would
hand the shop a forged second value: it is refused, as is a key that is not a parameter name
(``Status[]`` is ``Status`` to PHP) and a key that comes twice in any letter case.

OrderDesc: the page forbids ``#``, ``&``, ``%`` and ``+``, but pretix form-encodes its Data
(spaces as ``+``, ``&`` as ``%26``, non-ASCII as ``%C3%BC``) and real pretix shops must work.
So ``#`` is refused; a literal ``&`` is refused (inside Data it is the tail that
:func:`adapter.paygate.fields.parse_inner` glued back onto the value, in a plain request it is
in the decoded value); a ``%`` that does not start a ``%HH`` escape is refused. ``+`` and ``%HH``
are accepted as form encoding: ``order_desc_text`` is the value form-decoded once, for display
and for Alipay+, while ``order_desc`` stays the raw value. In a plain request the form layer has
already decoded the value once, so it is not decoded again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from adapter.net.errors import InvalidUrl
from adapter.net.urls import MAX_URL_LENGTH, parse_shop_url
from adapter.paygate.currencies import is_known_currency
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, is_parameter_name
from adapter.paygate.request import RawRequest
from adapter.paygate.response import custom_pieces, is_result_field
from adapter.paygate.screening import (
    has_control_characters,
    refuse_card_data,
    refuse_control_characters,
)

Device = Literal["DesktopWEB", "MobileWAP", "APP", "MINI_APP"]
OsType = Literal["IOS", "ANDROID"]

_AMOUNT = re.compile(r"[1-9][0-9]{0,9}")
_AMOUNT_TOO_LONG = re.compile(r"[1-9][0-9]{10,}")
_ALPHA3 = re.compile(r"[A-Z]{3}")
_ALPHA2 = re.compile(r"[A-Za-z]{2}")
_PAY_ID = re.compile(r"[0-9A-Za-z]{32}")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")

# Keyed by the value upper-cased without spaces and with "-" as "_": the page itself spells the
# options "DesktopWEB", "Desktop WEB", "Mobile" and "MINI-APP"; bnl's old Alipay sent "Mobile".
_DEVICES: dict[str, Device] = {
    "DESKTOPWEB": "DesktopWEB",
    "WEB": "DesktopWEB",
    "MOBILEWAP": "MobileWAP",
    "MOBILE": "MobileWAP",
    "WAP": "MobileWAP",
    "APP": "APP",
    "MINI_APP": "MINI_APP",
    "MINIAPP": "MINI_APP",
}
_OS_TYPES: dict[str, OsType] = {"IOS": "IOS", "ANDROID": "ANDROID"}
_MANDATORY = ("TransID", "Amount", "Currency", "OrderDesc", "URLSuccess", "URLFailure", "URLNotify")
# Documented spellings, so that an error names the parameter as mapping.yaml knows it.
_DOCUMENTED = {
    name.lower(): name
    for name in (
        "MerchantID", "Len", "Data", "MAC", "TransID", "RefNr", "Amount", "Currency",
        "CountryCode", "OrderDesc", "URLSuccess", "URLFailure", "URLNotify", "URLBack",
        "Response", "UserData", "ReqId", "CustomerID", "Device", "osType", "FxCurrency",
        "sdFirstName", "sdLastName", "sdcountryCode", "sdState", "sdCity", "sdStreet",
        "sdStreet2", "sdZip", "Plain", "Custom", "Language",
    )
}  # fmt: skip
_SHIPPING_NAMES = ("sdFirstName", "sdLastName", "sdcountryCode")


@dataclass(frozen=True)
class ShippingAddress:
    """The optional shipping address; first name, last name and country come together."""

    first_name: str | None
    last_name: str | None
    country_code: str | None
    state: str | None
    city: str | None
    street: str | None
    street2: str | None
    zip: str | None


@dataclass(frozen=True)
class PaymentRequest:
    """A valid ``alipayplus.aspx`` request; optional values are ``None`` when absent."""

    merchant_id: str
    trans_id: str
    ref_nr: str | None
    amount: int  # minor units
    amount_raw: str  # exactly as sent: the MAC covers this string
    currency: str
    country_code: str | None
    order_desc: str  # raw, as sent
    order_desc_text: str  # form-decoded once when the shop form-encoded it
    url_success: str
    url_failure: str
    url_notify: str
    url_back: str | None
    response_encrypt: bool
    user_data: str | None
    req_id: str | None
    customer_id: str | None
    device: Device
    os_type: OsType | None
    fx_currency: str | None
    shipping: ShippingAddress | None
    plain: str | None
    custom: str | None
    language: str | None


def require(fields: Fields, name: str) -> str:
    """The value of a mandatory parameter; absent or empty is MISSING."""
    value = fields.get(name)
    if not value:
        raise PaygateError(Category.MISSING, name, f"{name} is mandatory")
    return value


def check_length(name: str, value: str, max_len: int) -> None:
    """``ans..max_len``: at most ``max_len`` characters."""
    if len(value) > max_len:
        raise PaygateError(Category.TOO_LONG, name, f"{name} is longer than {max_len} characters")


def parse_amount(value: str, parameter: str = "Amount") -> int:
    """``n..10`` in minor units: digits only, no sign, point, exponent, space or leading zero."""
    if _AMOUNT.fullmatch(value):
        return int(value)
    if _AMOUNT_TOO_LONG.fullmatch(value):
        raise PaygateError(Category.TOO_LONG, parameter, f"{parameter} has more than 10 digits")
    raise PaygateError(
        Category.FORMAT,
        parameter,
        f"{parameter} must be a whole number of minor units (e.g. 1234 for 12.34 EUR)",
    )


def check_currency(value: str, parameter: str = "Currency") -> str:
    """An ISO 4217 alpha-3 code in upper case that is in use."""
    if not _ALPHA3.fullmatch(value):
        raise PaygateError(
            Category.FORMAT, parameter, f"{parameter} must be three upper-case letters (ISO 4217)"
        )
    if not is_known_currency(value):
        raise PaygateError(
            Category.NOT_ALLOWED, parameter, f"{parameter} is not an ISO 4217 currency in use"
        )
    return value


def is_pay_id(value: str) -> bool:
    """Whether ``value`` has the form of a PayID (``an32``), i.e. could name a payment."""
    return bool(_PAY_ID.fullmatch(value))


def check_pay_id(value: str) -> str:
    """``an32``: the PayID we generated, 32 letters or digits."""
    if not is_pay_id(value):
        raise PaygateError(Category.FORMAT, "PayID", "PayID must be 32 letters or digits")
    return value


def _text(fields: Fields, name: str, max_len: int) -> str | None:
    value = fields.get(name) or None
    if value is not None:
        check_length(name, value, max_len)
    return value


def _two_letters(fields: Fields, name: str, *, upper: bool) -> str | None:
    value = _text(fields, name, 2)
    if value is None:
        return None
    if not _ALPHA2.fullmatch(value):
        raise PaygateError(Category.FORMAT, name, f"{name} must be two letters")
    return value.upper() if upper else value.lower()


def _url(name: str, value: str) -> str:
    """An absolute http(s) URL; which hosts may be used is the caller's merchant-level check."""
    check_length(name, value, MAX_URL_LENGTH)
    try:
        return parse_shop_url(value).original
    except InvalidUrl as error:
        raise PaygateError(Category.FORMAT, name, f"{name} {error.reason}") from None


def _custom(fields: Fields) -> str | None:
    """Custom ``k=v|k=v`` whose keys are parameter names and no result field (module docstring)."""
    custom = _text(fields, "Custom", 1024)
    seen: set[str] = set()
    for key, _ in custom_pieces(custom or ""):
        if not is_parameter_name(key):
            raise PaygateError(
                Category.FORMAT, "Custom", "Custom keys must be names of letters, digits, _ . -"
            )
        if is_result_field(key):
            raise PaygateError(
                Category.NOT_ALLOWED,
                "Custom",
                f"Custom must not use the result field name {key}",
            )
        if key.lower() in seen:
            # The shop would get two values for one key (PHP keeps the last, ASP.NET joins them).
            raise PaygateError(Category.DUPLICATE, "Custom", f"Custom names the key {key} twice")
        seen.add(key.lower())
    return custom


def _order_desc(value: str, *, encrypted: bool) -> str:
    """Check OrderDesc (module docstring) and return its display text."""
    check_length("OrderDesc", value, 768)
    if "#" in value:
        raise PaygateError(Category.FORMAT, "OrderDesc", "OrderDesc must not contain '#'")
    if "&" in value:
        raise PaygateError(
            Category.FORMAT, "OrderDesc", "OrderDesc must not contain '&' (form-encode it as %26)"
        )
    if _BARE_PERCENT.search(value):
        raise PaygateError(
            Category.FORMAT, "OrderDesc", "OrderDesc may contain '%' only as a %HH escape"
        )
    if not encrypted or not ("+" in value or _PERCENT_ESCAPE.search(value)):
        return value
    try:
        text = unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        text = unquote_plus(value, encoding="latin-1")
    if has_control_characters(text):
        raise PaygateError(
            Category.FORMAT, "OrderDesc", "OrderDesc must not encode control characters"
        )
    return text


def _device(fields: Fields) -> tuple[Device, OsType | None]:
    value = fields.get("Device") or None
    device: Device = "DesktopWEB"
    if value is not None:
        key = value.upper().replace(" ", "").replace("-", "_")
        if key not in _DEVICES:
            raise PaygateError(
                Category.NOT_ALLOWED,
                "Device",
                "Device must be DesktopWEB, MobileWAP, APP or MINI_APP",
            )
        device = _DEVICES[key]
    os_value = fields.get("osType") or None
    if os_value is None:
        if device != "DesktopWEB":
            raise PaygateError(
                Category.MISSING, "osType", f"osType is mandatory for Device {device}"
            )
        return device, None
    if os_value.upper() not in _OS_TYPES:
        raise PaygateError(Category.NOT_ALLOWED, "osType", "osType must be IOS or ANDROID")
    return device, _OS_TYPES[os_value.upper()]


def _shipping(fields: Fields) -> ShippingAddress | None:
    present = [name for name in _SHIPPING_NAMES if fields.get(name)]
    if present:
        for name in _SHIPPING_NAMES:
            if name not in present:
                raise PaygateError(
                    Category.MISSING,
                    name,
                    f"{name} is mandatory when {present[0]} is present",
                )
    address = ShippingAddress(
        first_name=_text(fields, "sdFirstName", 128),
        last_name=_text(fields, "sdLastName", 128),
        country_code=_two_letters(fields, "sdcountryCode", upper=True),
        state=_text(fields, "sdState", 8),
        city=_text(fields, "sdCity", 32),
        street=_text(fields, "sdStreet", 254),
        street2=_text(fields, "sdStreet2", 256),
        zip=_text(fields, "sdZip", 32),
    )
    return address if any(vars(address).values()) else None


def _check_envelope(fields: Fields) -> None:
    """Rules that apply to the request as a whole, before any single parameter."""
    refuse_card_data(fields)
    for name in _MANDATORY:
        require(fields, name)
    refuse_control_characters(fields, _DOCUMENTED)


def validate_payment_request(raw: RawRequest, *, min_amount: int = 1) -> PaymentRequest:
    """Check an ``alipayplus.aspx`` request and return its typed values."""
    fields = raw.fields
    _check_envelope(fields)

    trans_id = require(fields, "TransID")
    check_length("TransID", trans_id, 64)
    if "&" in trans_id or "=" in trans_id:
        # Echoed in every result and covered by its MAC: it could not come back unchanged.
        raise PaygateError(Category.FORMAT, "TransID", "TransID must not contain '&' or '='")
    ref_nr = _text(fields, "RefNr", 40)

    amount_raw = require(fields, "Amount")
    amount = parse_amount(amount_raw)
    if amount < min_amount:
        raise PaygateError(
            Category.NOT_ALLOWED,
            "Amount",
            f"Amount is below this merchant's minimum of {min_amount}",
        )
    currency = check_currency(require(fields, "Currency"))
    country_code = _two_letters(fields, "CountryCode", upper=True)

    order_desc = require(fields, "OrderDesc")
    order_desc_text = _order_desc(order_desc, encrypted=raw.encrypted)

    url_success = _url("URLSuccess", require(fields, "URLSuccess"))
    url_failure = _url("URLFailure", require(fields, "URLFailure"))
    url_notify = _url("URLNotify", require(fields, "URLNotify"))
    back = fields.get("URLBack") or None
    url_back = None if back is None else _url("URLBack", back)

    response_encrypt = (fields.get("Response") or "").strip().lower() == "encrypt"
    user_data = _text(fields, "UserData", 1024)
    req_id = _text(fields, "ReqId", 32)
    customer_id = _text(fields, "CustomerID", 64)
    device, os_type = _device(fields)

    # The page marks FxCurrency mandatory, but real clients (pretix) never send it: it stays
    # optional and the caller falls back to the merchant's settlement currency.
    fx_value = fields.get("FxCurrency") or None
    fx_currency = None if fx_value is None else check_currency(fx_value, "FxCurrency")

    shipping = _shipping(fields)
    plain = _text(fields, "Plain", 50)
    custom = _custom(fields)
    language = _two_letters(fields, "Language", upper=False)

    return PaymentRequest(
        merchant_id=raw.merchant_id,
        trans_id=trans_id,
        ref_nr=ref_nr,
        amount=amount,
        amount_raw=amount_raw,
        currency=currency,
        country_code=country_code,
        order_desc=order_desc,
        order_desc_text=order_desc_text,
        url_success=url_success,
        url_failure=url_failure,
        url_notify=url_notify,
        url_back=url_back,
        response_encrypt=response_encrypt,
        user_data=user_data,
        req_id=req_id,
        customer_id=customer_id,
        device=device,
        os_type=os_type,
        fx_currency=fx_currency,
        shipping=shipping,
        plain=plain,
        custom=custom,
        language=language,
    )
