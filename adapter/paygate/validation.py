"""The alipayplus.aspx request rules of the Paygate Alipay+ parameter page, as pure checks.

OrderDesc: the page forbids ``#``, ``&``, ``%`` and ``+``. pretix, a real client, form-encodes
its whole plaintext (spaces as ``+``, ``&`` as ``%26``), so ``+`` and valid ``%HH`` escapes are
read as that encoding and decoded for the text sent to Alipay+; ``#``, a literal ``&`` and a
``%`` that starts no escape are refused.

FxCurrency is marked mandatory on the page, but no client studied sends it (pretix does not),
so it is optional here and the merchant's configured settlement currency is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

from adapter.paygate.currencies import is_known_currency
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.request import RawRequest

_AMOUNT = re.compile(r"[1-9][0-9]*")
_PAY_ID = re.compile(r"[0-9A-Za-z]{32}")
_TWO_LETTERS = re.compile(r"[A-Za-z]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CARD_FIELDS = ("CCNr", "CCCVC", "CCExpiry", "CreditCardNumber", "CardNumber", "CVV", "CCBrand")
_DEVICES = {
    "desktopweb": "DesktopWEB",
    "desktop web": "DesktopWEB",
    "web": "DesktopWEB",
    "mobilewap": "MobileWAP",
    "mobile": "MobileWAP",
    "wap": "MobileWAP",
    "app": "APP",
    "mini_app": "MINI_APP",
    "mini-app": "MINI_APP",
    "miniapp": "MINI_APP",
}
_MOBILE_DEVICES = frozenset({"MobileWAP", "APP", "MINI_APP"})
MAX_URL = 2048


@dataclass(frozen=True)
class ShippingAddress:
    first_name: str
    last_name: str
    country_code: str
    state: str | None = None
    city: str | None = None
    street: str | None = None
    street2: str | None = None
    zip: str | None = None


@dataclass(frozen=True)
class PaymentRequest:
    merchant_id: str
    trans_id: str
    amount: int
    amount_raw: str
    currency: str
    order_desc: str
    order_desc_text: str
    url_success: str
    url_failure: str
    url_notify: str
    device: str
    ref_nr: str | None = None
    country_code: str | None = None
    url_back: str | None = None
    response_encrypt: bool = False
    user_data: str | None = None
    req_id: str | None = None
    customer_id: str | None = None
    os_type: str | None = None
    fx_currency: str | None = None
    shipping: ShippingAddress | None = None
    plain: str | None = None
    custom: str | None = None
    language: str | None = None


def require(fields: Fields, name: str) -> str:
    value = fields.get(name)
    if value is None or not value.strip():
        raise PaygateError(Category.MISSING, name, f"{name} is missing")
    return value


def check_length(name: str, value: str, max_len: int) -> str:
    if len(value) > max_len:
        raise PaygateError(Category.TOO_LONG, name, f"{name} is longer than {max_len} characters")
    if _CONTROL.search(value):
        raise PaygateError(Category.FORMAT, name, f"{name} contains control characters")
    return value


def optional(fields: Fields, name: str, max_len: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    return check_length(name, value, max_len)


def parse_amount(value: str, parameter: str = "Amount") -> int:
    """Minor units, digits only, no sign, no decimal point, 1 to 10 digits."""
    if len(value) > 10 and value.isdigit():
        raise PaygateError(Category.TOO_LONG, parameter, f"{parameter} has more than 10 digits")
    if not _AMOUNT.fullmatch(value) or not value.isascii():
        raise PaygateError(
            Category.FORMAT,
            parameter,
            f"{parameter} must be a positive whole number in minor units",
        )
    return int(value)


def check_currency(value: str, parameter: str = "Currency") -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise PaygateError(Category.FORMAT, parameter, f"{parameter} must be three capital letters")
    if not is_known_currency(value):
        raise PaygateError(Category.NOT_ALLOWED, parameter, f"{parameter} is not an ISO 4217 code")
    return value


def check_pay_id(value: str) -> str:
    if not _PAY_ID.fullmatch(value):
        raise PaygateError(Category.FORMAT, "PayID", "PayID must be 32 letters or digits")
    return value


def _url(fields: Fields, name: str, mandatory: bool) -> str | None:
    value = require(fields, name) if mandatory else optional(fields, name, MAX_URL)
    if value is None:
        return None
    check_length(name, value, MAX_URL)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PaygateError(Category.FORMAT, name, f"{name} must be an absolute http(s) URL")
    return value


def _order_desc(fields: Fields, encrypted: bool) -> tuple[str, str]:
    raw = check_length("OrderDesc", require(fields, "OrderDesc"), 768)
    if "#" in raw:
        raise PaygateError(Category.FORMAT, "OrderDesc", "OrderDesc must not contain '#'")
    if fields.has_stray_after("OrderDesc") or (not encrypted and "&" in raw):
        raise PaygateError(Category.FORMAT, "OrderDesc", "OrderDesc must not contain '&'")
    if _BAD_PERCENT.search(raw):
        raise PaygateError(Category.FORMAT, "OrderDesc", "OrderDesc must not contain '%'")
    text = unquote_plus(raw) if ("+" in raw or "%" in raw) else raw
    return raw, text


def _device(fields: Fields) -> tuple[str, str | None]:
    raw = optional(fields, "Device", 16)
    device = "DesktopWEB" if raw is None else _DEVICES.get(raw.strip().lower(), "")
    if not device:
        raise PaygateError(
            Category.NOT_ALLOWED, "Device", "Device must be DesktopWEB, MobileWAP, APP or MINI_APP"
        )
    os_raw = optional(fields, "osType", 8)
    os_type = os_raw.upper() if os_raw else None
    if os_type is not None and os_type not in ("IOS", "ANDROID"):
        raise PaygateError(Category.NOT_ALLOWED, "osType", "osType must be IOS or ANDROID")
    if os_type is None and device in _MOBILE_DEVICES:
        raise PaygateError(Category.MISSING, "osType", f"osType is mandatory for Device {device}")
    return device, os_type


def _shipping(fields: Fields) -> ShippingAddress | None:
    names = {
        "sdFirstName": optional(fields, "sdFirstName", 128),
        "sdLastName": optional(fields, "sdLastName", 128),
        "sdcountryCode": optional(fields, "sdcountryCode", 2),
    }
    extra = {
        "state": optional(fields, "sdState", 8),
        "city": optional(fields, "sdCity", 32),
        "street": optional(fields, "sdStreet", 254),
        "street2": optional(fields, "sdStreet2", 256),
        "zip": optional(fields, "sdZip", 32),
    }
    if not any(names.values()):
        return None
    for name, value in names.items():
        if value is None:
            raise PaygateError(
                Category.MISSING, name, "sdFirstName, sdLastName and sdcountryCode go together"
            )
    country = names["sdcountryCode"] or ""
    if not _TWO_LETTERS.fullmatch(country):
        raise PaygateError(Category.FORMAT, "sdcountryCode", "sdcountryCode must be two letters")
    return ShippingAddress(
        first_name=names["sdFirstName"] or "",
        last_name=names["sdLastName"] or "",
        country_code=country.upper(),
        **extra,
    )


def _two_letters(fields: Fields, name: str) -> str | None:
    value = optional(fields, name, 2)
    if value is not None and not _TWO_LETTERS.fullmatch(value):
        raise PaygateError(Category.FORMAT, name, f"{name} must be two letters")
    return value.upper() if name == "CountryCode" and value else value


def validate_payment_request(raw: RawRequest, *, min_amount: int = 1) -> PaymentRequest:
    """The first broken rule raises; mandatory fields are checked before optional ones."""
    fields = raw.fields
    for card_field in _CARD_FIELDS:
        if card_field in fields:
            raise PaygateError(Category.NOT_ALLOWED, "CardData", "card data is never accepted here")
    trans_id = check_length("TransID", require(fields, "TransID"), 64)
    amount_raw = require(fields, "Amount")
    amount = parse_amount(amount_raw)
    if amount < min_amount:
        raise PaygateError(Category.NOT_ALLOWED, "Amount", f"Amount is below {min_amount}")
    currency = check_currency(require(fields, "Currency"))
    order_desc, order_desc_text = _order_desc(fields, raw.encrypted)
    url_success = _url(fields, "URLSuccess", True) or ""
    url_failure = _url(fields, "URLFailure", True) or ""
    url_notify = _url(fields, "URLNotify", True) or ""
    device, os_type = _device(fields)
    fx_currency = optional(fields, "FxCurrency", 3)
    response = optional(fields, "Response", 16)
    return PaymentRequest(
        merchant_id=raw.merchant_id,
        trans_id=trans_id,
        amount=amount,
        amount_raw=amount_raw,
        currency=currency,
        order_desc=order_desc,
        order_desc_text=order_desc_text,
        url_success=url_success,
        url_failure=url_failure,
        url_notify=url_notify,
        device=device,
        ref_nr=optional(fields, "RefNr", 40),
        country_code=_two_letters(fields, "CountryCode"),
        url_back=_url(fields, "URLBack", False),
        response_encrypt=(response or "").lower() == "encrypt",
        user_data=optional(fields, "UserData", 1024),
        req_id=optional(fields, "ReqId", 32),
        customer_id=optional(fields, "CustomerID", 64),
        os_type=os_type,
        fx_currency=None if fx_currency is None else check_currency(fx_currency, "FxCurrency"),
        shipping=_shipping(fields),
        plain=optional(fields, "Plain", 50),
        custom=optional(fields, "Custom", 1024),
        language=_two_letters(fields, "Language"),
    )
