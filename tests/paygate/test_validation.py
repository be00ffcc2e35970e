"""The alipayplus.aspx request rules: one test per rule, first problem reported."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, format_inner, parse_inner
from adapter.paygate.request import RawRequest, decode_request
from adapter.paygate.response import RESULT_FIELD_NAMES
from adapter.paygate.validation import (
    ShippingAddress,
    check_currency,
    check_length,
    check_pay_id,
    parse_amount,
    require,
    validate_payment_request,
)

BASE = {
    "MerchantID": "M",
    "TransID": "T1",
    "RefNr": "R1",
    "Amount": "1234",
    "Currency": "EUR",
    "OrderDesc": "Order 1",
    "URLSuccess": "https://shop.example/ok",
    "URLFailure": "https://shop.example/fail",
    "URLNotify": "https://shop.example/notify",
    "MAC": "AB" * 32,
    "Response": "encrypt",
}
SHIPPING = {"sdFirstName": "Ada", "sdLastName": "Lovelace", "sdcountryCode": "GB"}


def _raw(changes: Mapping[str, str | None] | None = None, *, encrypted: bool = True) -> RawRequest:
    values: dict[str, str | None] = {**BASE, **(changes or {})}
    pairs = [(key, value) for key, value in values.items() if value is not None]
    return RawRequest("M", Fields(pairs), encrypted=encrypted)


def _error(call: Callable[[], object]) -> PaygateError:
    with pytest.raises(PaygateError) as info:
        call()
    return info.value


def _refused(
    changes: dict[str, str | None], *, encrypted: bool = True, min_amount: int = 1
) -> tuple[Category, str]:
    raw = _raw(changes, encrypted=encrypted)
    error = _error(lambda: validate_payment_request(raw, min_amount=min_amount))
    return error.category, error.parameter


def test_valid_request_gives_typed_values() -> None:
    """A minimal pretix-like request: defaults for everything optional."""
    request = validate_payment_request(_raw())
    assert request.merchant_id == "M"
    assert (request.trans_id, request.ref_nr) == ("T1", "R1")
    assert (request.amount, request.amount_raw, request.currency) == (1234, "1234", "EUR")
    assert (request.order_desc, request.order_desc_text) == ("Order 1", "Order 1")
    assert request.url_notify == "https://shop.example/notify"
    assert request.url_back is None
    assert request.response_encrypt is True
    assert (request.device, request.os_type) == ("DesktopWEB", None)
    assert request.shipping is None and request.fx_currency is None
    assert request.user_data is request.req_id is request.customer_id is None
    assert request.plain is request.custom is request.language is request.country_code is None


@pytest.mark.parametrize(
    "name", ["TransID", "Amount", "Currency", "OrderDesc", "URLSuccess", "URLFailure", "URLNotify"]
)
@pytest.mark.parametrize("value", [None, ""])
def test_mandatory_parameters(name: str, value: str | None) -> None:
    """Absent or empty mandatory parameters are MISSING under their documented name."""
    assert _refused({name: value}) == (Category.MISSING, name)


def test_missing_parameters_are_reported_before_format_errors() -> None:
    """A later missing URLNotify wins over an earlier malformed Amount."""
    assert _refused({"Amount": "1.50", "URLNotify": None}) == (Category.MISSING, "URLNotify")


@pytest.mark.parametrize(
    "amount",
    ["0", "-1", "1.50", "1,50", "1e3", "+100", " 100", "100 ", "0100", "١٢٣", "00000000001"],
)
def test_amount_must_be_plain_minor_unit_digits(amount: str) -> None:
    """No zero, sign, decimal point, exponent, blank, leading zero or non-ASCII digit."""
    assert _refused({"Amount": amount}) == (Category.FORMAT, "Amount")


def test_amount_of_eleven_digits_is_too_long() -> None:
    """n..10: 10 digits pass, 11 are too long."""
    assert validate_payment_request(_raw({"Amount": "9999999999"})).amount == 9_999_999_999
    assert _refused({"Amount": "10000000000"}) == (Category.TOO_LONG, "Amount")


def test_amount_below_the_merchant_minimum_is_not_allowed() -> None:
    """Amounts below 100 need a Helpdesk switch; the minimum is per merchant.

    See docs/paygate.md#payment-request.
    """
    assert _refused({"Amount": "99"}, min_amount=100) == (Category.NOT_ALLOWED, "Amount")
    assert validate_payment_request(_raw({"Amount": "100"}), min_amount=100).amount == 100


@pytest.mark.parametrize("currency", ["eur", "Eur", "EURO", "E1R", "EU", " EUR"])
def test_currency_must_be_three_upper_case_letters(currency: str) -> None:
    """ISO 4217 alpha-3 as pretix and every client send it."""
    assert _refused({"Currency": currency}) == (Category.FORMAT, "Currency")


@pytest.mark.parametrize("currency", ["XYZ", "HRK", "XAU", "XTS"])
def test_unknown_or_unpayable_currency_is_not_allowed(currency: str) -> None:
    """Codes that are not ISO currencies in use are refused."""
    assert _refused({"Currency": currency}) == (Category.NOT_ALLOWED, "Currency")


def test_zero_and_three_decimal_currencies_are_accepted() -> None:
    """JPY and KWD are ordinary currencies here; the amount is always minor units."""
    assert validate_payment_request(_raw({"Currency": "JPY"})).currency == "JPY"
    assert validate_payment_request(_raw({"Currency": "KWD"})).currency == "KWD"


def test_trans_id_length() -> None:
    """TransID is ans..64."""
    assert validate_payment_request(_raw({"TransID": "T" * 64})).trans_id == "T" * 64
    assert _refused({"TransID": "T" * 65}) == (Category.TOO_LONG, "TransID")


@pytest.mark.parametrize("trans_id", ["A&B", "A=B"])
def test_trans_id_must_survive_the_echo(trans_id: str) -> None:
    """TransID is echoed and MAC-signed in every result, so ``&``/``=`` cannot be used."""
    assert _refused({"TransID": trans_id}, encrypted=False) == (Category.FORMAT, "TransID")


def test_ref_nr_length() -> None:
    """RefNr is ans..40."""
    assert _refused({"RefNr": "R" * 41}) == (Category.TOO_LONG, "RefNr")


@pytest.mark.parametrize(("value", "expected"), [("DE", "DE"), ("cn", "CN")])
def test_country_code_is_two_letters_in_upper_case(value: str, expected: str) -> None:
    """ISO 3166 alpha-2; Alipay+ wants upper case."""
    assert validate_payment_request(_raw({"CountryCode": value})).country_code == expected


@pytest.mark.parametrize(
    ("value", "category"),
    [("DEU", Category.TOO_LONG), ("D1", Category.FORMAT), ("D", Category.FORMAT)],
)
def test_country_code_refusals(value: str, category: Category) -> None:
    """ans..2 and letters only."""
    assert _refused({"CountryCode": value}) == (category, "CountryCode")


def test_order_desc_with_ampersand_inside_data_is_refused() -> None:
    """A literal ``&`` splits the inner text; the stray tail is detected."""
    text = format_inner({**BASE, "OrderDesc": "Books"}.items()).replace(
        "OrderDesc=Books", "OrderDesc=Books & Co"
    )
    raw = RawRequest("M", parse_inner(text), encrypted=True)
    assert raw.fields.stray == (" Co",)
    error = _error(lambda: validate_payment_request(raw))
    assert (error.category, error.parameter) == (Category.FORMAT, "OrderDesc")


def test_order_desc_with_ampersand_in_a_plain_request_is_refused() -> None:
    """The same rule for the decoded value of an unencrypted request."""
    assert _refused({"OrderDesc": "Books & Co"}, encrypted=False) == (Category.FORMAT, "OrderDesc")


def test_order_desc_with_hash_is_refused() -> None:
    """``#`` is forbidden by the page and pretix never produces it (``%23``)."""
    assert _refused({"OrderDesc": "Order #1"}) == (Category.FORMAT, "OrderDesc")


@pytest.mark.parametrize("value", ["50%", "100% off", "%G1", "x%4", "%"])
def test_order_desc_with_bare_percent_is_refused(value: str) -> None:
    """A ``%`` is only accepted as the start of a ``%HH`` escape."""
    assert _refused({"OrderDesc": value}) == (Category.FORMAT, "OrderDesc")


def test_order_desc_length() -> None:
    """ans..768, counted on the raw value."""
    assert validate_payment_request(_raw({"OrderDesc": "d" * 768})).order_desc == "d" * 768
    assert _refused({"OrderDesc": "d" * 769}) == (Category.TOO_LONG, "OrderDesc")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Order+DEMO-ABC12-P-1", "Order DEMO-ABC12-P-1"),
        ("B%C3%BCcher+%26+Co+%3D+50%25", "Bücher & Co = 50%"),
        ("Caf%E9", "Café"),  # a Latin-1 shop's form encoding
        ("Order 1", "Order 1"),
    ],
)
def test_order_desc_form_encoding_is_decoded_for_display(raw: str, text: str) -> None:
    """pretix's ``+`` and ``%HH`` are accepted; the raw value is kept for the record."""
    request = validate_payment_request(_raw({"OrderDesc": raw}))
    assert (request.order_desc, request.order_desc_text) == (raw, text)


def test_order_desc_of_a_plain_request_is_not_decoded_twice() -> None:
    """The form layer already decoded a plain request; a ``+`` left is a literal plus."""
    request = validate_payment_request(_raw({"OrderDesc": "Size 10+ %41"}, encrypted=False))
    assert request.order_desc_text == "Size 10+ %41"


def test_order_desc_must_not_encode_control_characters() -> None:
    """``%0A`` would put a line break into the wallet page."""
    assert _refused({"OrderDesc": "a%0Ab"}) == (Category.FORMAT, "OrderDesc")


URL_NAMES = ["URLSuccess", "URLFailure", "URLNotify", "URLBack"]


@pytest.mark.parametrize("name", URL_NAMES)
@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example/",
        "/relative/path",
        "shop.example/ok",
        "https://",
        "https:///path",
        "https://shop example/",
        "https://shop.example/a b",
        "http://[::1/",
        "javascript:alert(1)",
    ],
)
def test_urls_must_be_absolute_http(name: str, url: str) -> None:
    """Result URLs are absolute http(s) URLs with a host."""
    assert _refused({name: url}) == (Category.FORMAT, name)


@pytest.mark.parametrize("name", URL_NAMES)
def test_urls_are_at_most_2048_characters(name: str) -> None:
    """Longer URLs are refused as too long."""
    url = "https://shop.example/" + "a" * 2028
    assert len(url) == 2049
    assert _refused({name: url}) == (Category.TOO_LONG, name)


def test_url_back_and_plain_http_are_accepted() -> None:
    """pretix sends URLBack; http is allowed here (the merchant config decides later)."""
    request = validate_payment_request(_raw({"URLBack": "http://shop.example:8080/back?x=1"}))
    assert request.url_back == "http://shop.example:8080/back?x=1"


@pytest.mark.parametrize(("key", "value"), [("Response", "ENCRYPT"), ("response", " encrypt ")])
def test_response_encrypt_ignores_case(key: str, value: str) -> None:
    """fatchip-lib writes ``response``; key and value are case-insensitive."""
    assert validate_payment_request(_raw({"Response": None, key: value})).response_encrypt


@pytest.mark.parametrize("value", [None, "", "plain"])
def test_response_other_than_encrypt_means_plain(value: str | None) -> None:
    """Only ``encrypt`` asks for encrypted results."""
    assert not validate_payment_request(_raw({"Response": value})).response_encrypt


@pytest.mark.parametrize(
    ("key", "name", "limit"),
    [
        ("UserData", "UserData", 1024),
        ("reqid", "ReqId", 32),
        ("ReqID", "ReqId", 32),
        ("CustomerID", "CustomerID", 64),
        ("Plain", "Plain", 50),
        ("Custom", "Custom", 1024),
    ],
)
def test_optional_text_lengths(key: str, name: str, limit: int) -> None:
    """ans..N limits; the error uses the documented name whatever the spelling sent."""
    assert validate_payment_request(_raw({key: "x" * limit}))
    assert _refused({key: "x" * (limit + 1)}) == (Category.TOO_LONG, name)


def test_optional_texts_are_returned() -> None:
    """UserData, ReqId, CustomerID, Plain and Custom are passed on unchanged."""
    request = validate_payment_request(
        _raw({"UserData": "a|b", "ReqID": "r1", "CustomerID": "c1", "Plain": "p", "Custom": "k=v"})
    )
    assert (request.user_data, request.req_id, request.customer_id) == ("a|b", "r1", "c1")
    assert (request.plain, request.custom) == ("p", "k=v")


@pytest.mark.parametrize(
    ("value", "device"),
    [
        ("DesktopWEB", "DesktopWEB"),
        ("Desktop WEB", "DesktopWEB"),
        ("desktopweb", "DesktopWEB"),
        ("WEB", "DesktopWEB"),
        ("MobileWAP", "MobileWAP"),
        ("Mobile", "MobileWAP"),
        ("wap", "MobileWAP"),
        ("APP", "APP"),
        ("app", "APP"),
        ("MINI_APP", "MINI_APP"),
        ("MINI-APP", "MINI_APP"),
        ("mini app", "MINI_APP"),
    ],
)
def test_device_spellings_are_normalised(value: str, device: str) -> None:
    """Every spelling the page uses is accepted, despite its ``ans..8``."""
    request = validate_payment_request(_raw({"Device": value, "osType": "ANDROID"}))
    assert request.device == device


def test_unknown_device_is_not_allowed() -> None:
    """Only the four documented terminal types exist at Alipay+."""
    assert _refused({"Device": "TV"}) == (Category.NOT_ALLOWED, "Device")


@pytest.mark.parametrize("device", ["MobileWAP", "APP", "MINI_APP", "Mobile"])
def test_os_type_is_mandatory_off_the_desktop(device: str) -> None:
    """Alipay+ needs the OS for mobile, app and mini-app payments."""
    assert _refused({"Device": device}) == (Category.MISSING, "osType")


@pytest.mark.parametrize(("value", "os_type"), [("ios", "IOS"), ("Android", "ANDROID")])
def test_os_type_is_normalised(value: str, os_type: str) -> None:
    """IOS and ANDROID in any case."""
    assert validate_payment_request(_raw({"Device": "APP", "osType": value})).os_type == os_type


def test_unknown_os_type_is_not_allowed() -> None:
    """Only IOS and ANDROID are options."""
    assert _refused({"Device": "APP", "osType": "windows"}) == (Category.NOT_ALLOWED, "osType")


def test_fx_currency_is_optional_but_checked() -> None:
    """pretix never sends FxCurrency; when present it is a known ISO code."""
    assert validate_payment_request(_raw({"FxCurrency": "USD"})).fx_currency == "USD"
    assert _refused({"FxCurrency": "usd"}) == (Category.FORMAT, "FxCurrency")
    assert _refused({"FxCurrency": "ABC"}) == (Category.NOT_ALLOWED, "FxCurrency")


def test_full_shipping_address() -> None:
    """All shipping fields are passed on; the country is upper-cased."""
    changes = {
        **SHIPPING,
        "sdcountryCode": "gb",
        "sdState": "LDN",
        "sdCity": "London",
        "sdStreet": "12 St James's Square",
        "sdStreet2": "Flat 1",
        "sdZip": "SW1Y 4LB",
    }
    assert validate_payment_request(_raw(changes)).shipping == ShippingAddress(
        "Ada", "Lovelace", "GB", "LDN", "London", "12 St James's Square", "Flat 1", "SW1Y 4LB"
    )


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ({"sdFirstName": "Ada"}, "sdLastName"),
        ({"sdLastName": "Lovelace", "sdcountryCode": "GB"}, "sdFirstName"),
        ({"sdFirstName": "Ada", "sdLastName": "Lovelace"}, "sdcountryCode"),
    ],
)
def test_shipping_names_and_country_come_together(present: dict[str, str], missing: str) -> None:
    """One of first name, last name, country makes the other two mandatory."""
    assert _refused(dict(present)) == (Category.MISSING, missing)


def test_shipping_without_names_is_allowed() -> None:
    """Only the trio is conditional; a lone city is a partial address."""
    shipping = validate_payment_request(_raw({"sdCity": "Paris"})).shipping
    assert shipping == ShippingAddress(None, None, None, None, "Paris", None, None, None)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("sdFirstName", 128),
        ("sdLastName", 128),
        ("sdState", 8),
        ("sdCity", 32),
        ("sdStreet", 254),
        ("sdStreet2", 256),
        ("sdZip", 32),
    ],
)
def test_shipping_lengths(name: str, limit: int) -> None:
    """The page's ans..N limits."""
    assert validate_payment_request(_raw({**SHIPPING, name: "x" * limit}))
    assert _refused({**SHIPPING, name: "x" * (limit + 1)}) == (Category.TOO_LONG, name)


@pytest.mark.parametrize(
    ("value", "category"), [("GBR", Category.TOO_LONG), ("G1", Category.FORMAT)]
)
def test_shipping_country_is_two_letters(value: str, category: Category) -> None:
    """sdcountryCode is ISO 3166 alpha-2."""
    assert _refused({**SHIPPING, "sdcountryCode": value}) == (category, "sdcountryCode")


@pytest.mark.parametrize(("value", "expected"), [("de", "de"), ("EN", "en")])
def test_language_is_two_letters(value: str, expected: str) -> None:
    """pretix sends ``order.locale[:2]``."""
    assert validate_payment_request(_raw({"Language": value})).language == expected


@pytest.mark.parametrize(
    ("value", "category"), [("deu", Category.TOO_LONG), ("d1", Category.FORMAT)]
)
def test_language_refusals(value: str, category: Category) -> None:
    """Two letters or nothing."""
    assert _refused({"Language": value}) == (category, "Language")


@pytest.mark.parametrize(
    "key", ["CCNr", "ccnr", "CCCVC", "CCExpiry", "CreditCardNumber", "cardnumber", "CVV"]
)
def test_card_data_is_never_accepted(key: str) -> None:
    """Card fields in any spelling are refused, before anything else."""
    assert _refused({key: "4111111111111111", "Amount": None}) == (Category.NOT_ALLOWED, "CardData")


@pytest.mark.parametrize(
    ("key", "name"), [("userdata", "UserData"), ("RefNr", "RefNr"), ("Textfeld1", "Textfeld1")]
)
@pytest.mark.parametrize("char", ["\x00", "\n", "\r", "\t", "\x1f"])
def test_control_characters_are_refused_anywhere(key: str, name: str, char: str) -> None:
    """Any value, known or not, with a control character is a format error."""
    assert _refused({key: f"a{char}b"}) == (Category.FORMAT, name)


def test_require_returns_the_value_or_raises_missing() -> None:
    """The S2S endpoints share the mandatory-parameter rule."""
    fields = Fields([("payid", "P"), ("Amount", "")])
    assert require(fields, "PayID") == "P"
    for name in ("Amount", "Currency"):
        with pytest.raises(PaygateError) as info:
            require(fields, name)
        assert (info.value.category, info.value.parameter) == (Category.MISSING, name)


def test_parse_amount_names_its_parameter() -> None:
    """Reused for other amounts, the error carries the given parameter name."""
    assert parse_amount("500") == 500
    error = _error(lambda: parse_amount("5.00", "AmountCred"))
    assert (error.category, error.parameter) == (Category.FORMAT, "AmountCred")


def test_check_currency_names_its_parameter() -> None:
    """Reused for FxCurrency and S2S requests."""
    assert check_currency("EUR") == "EUR"
    error = _error(lambda: check_currency("QQQ", "FxCurrency"))
    assert (error.category, error.parameter) == (Category.NOT_ALLOWED, "FxCurrency")


def test_check_length_counts_characters() -> None:
    """Limits are in characters, so non-ASCII text is not penalised."""
    check_length("Reason", "ü" * 256, 256)
    error = _error(lambda: check_length("Reason", "ü" * 257, 256))
    assert (error.category, error.parameter) == (Category.TOO_LONG, "Reason")


@pytest.mark.parametrize("pay_id", ["a1b2c3d4e5f60718293a4b5c6d7e8f90", "A" * 32])
def test_check_pay_id_accepts_32_alphanumerics(pay_id: str) -> None:
    """an32, as we generate it."""
    assert check_pay_id(pay_id) == pay_id


@pytest.mark.parametrize(
    "pay_id", ["", "a" * 31, "a" * 33, "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90", "é" * 32]
)
def test_check_pay_id_refuses_anything_else(pay_id: str) -> None:
    """Wrong length or characters are a format error on PayID."""
    error = _error(lambda: check_pay_id(pay_id))
    assert (error.category, error.parameter) == (Category.FORMAT, "PayID")


RESULT_FIELDS = sorted(RESULT_FIELD_NAMES)


def _recased(name: str) -> list[str]:
    """The name as documented (where known), lower, upper and alternating case."""
    alternating = "".join(c.upper() if n % 2 else c.lower() for n, c in enumerate(name))
    return [name, name.lower(), name.upper(), alternating]


# The result fields the report names, plus the rest of what the adapter sends.
NAMED_RESULT_FIELDS = (
    "Len", "Data", "MAC", "mid", "PayID", "XID", "TransID", "refnr", "Status", "Code",
    "Description", "UserData", "AmountAuth", "AmountCap", "AmountCred", "Currency", "LastStatus",
    "Plain", "MerchantID", "Type", "pt", "CodeExt", "ErrorText",
)  # fmt: skip


@pytest.mark.parametrize(
    "key", [spelling for name in NAMED_RESULT_FIELDS for spelling in _recased(name)]
)
def test_a_custom_key_shadowing_a_result_field_is_refused(key: str) -> None:
    """``Custom=Status=OK`` would put a forged plain Status beside the encrypted result."""
    assert _refused({"Custom": f"session=1|{key}=OK"}) == (Category.NOT_ALLOWED, "Custom")


@pytest.mark.parametrize("name", RESULT_FIELDS)
def test_every_name_a_result_carries_is_refused_as_a_custom_key(name: str) -> None:
    assert _refused({"Custom": f"{name}=x"}) == (Category.NOT_ALLOWED, "Custom")


def test_the_forgery_from_the_report_is_refused() -> None:
    custom = "Status=OK|Code=00000000|MAC=" + "A" * 64
    assert _refused({"Custom": custom}) == (Category.NOT_ALLOWED, "Custom")


@pytest.mark.parametrize("key", ["Status[]", "Status[x]", " Status", "a b", "k%41", "a+b", "ü"])
def test_custom_keys_must_be_parameter_names(key: str) -> None:
    """PHP reads ``Status[]`` and `` Status`` as Status: only plain names are taken."""
    assert _refused({"Custom": f"{key}=OK"}) == (Category.FORMAT, "Custom")


@pytest.mark.parametrize("custom", ["a=1|a=2", "session=1|SESSION=2", "flag|Flag=1", "a|b|A"])
def test_a_custom_key_that_comes_twice_in_any_case_is_refused(custom: str) -> None:
    """The shop would get two values for one key beside the result."""
    assert _refused({"Custom": custom}) == (Category.DUPLICATE, "Custom")


@pytest.mark.parametrize(
    "custom", ["session=abc", "orderVars=eyJhIjoxfQ==|shop=demo", "flag", "a=1||b=2", "Stat=OK"]
)
def test_ordinary_custom_pairs_pass(custom: str) -> None:
    assert validate_payment_request(_raw({"Custom": custom})).custom == custom


@pytest.mark.parametrize("char", ["\x7f", "\x80", "\x85", "\x9b", "\x9f"])
@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("TransID", "TransID"), ("RefNr", "RefNr"), ("UserData", "UserData"), ("Plain", "Plain"),
        ("Custom", "Custom"), ("CustomerID", "CustomerID"), ("sdCity", "sdCity"),
        ("OrderDesc", "OrderDesc"), ("Textfeld1", "Textfeld1"),
    ],
)  # fmt: skip
def test_del_and_c1_are_refused_like_c0(key: str, name: str, char: str) -> None:
    assert _refused({key: f"a{char}b"}) == (Category.FORMAT, name)


def test_order_desc_must_not_encode_del_or_c1() -> None:
    assert _refused({"OrderDesc": "a%7Fb"}) == (Category.FORMAT, "OrderDesc")
    assert _refused({"OrderDesc": "a%C2%85b"}) == (Category.FORMAT, "OrderDesc")


@pytest.mark.parametrize("name", URL_NAMES)
@pytest.mark.parametrize(
    "url",
    [
        "https://[shop.example]/",
        "https://shop.example\\@evil.example/",
        "https://user:pw@shop.example/",
        "https://shop.example:99999/",
        "https://shop..example/",
        "https://2130706433/",
        "https://127.1/",
        "https://[fe80::1%25eth0]/",
        "https://shop.example/\u202e",
        "https://shop.example/\u00a0",
    ],
)
def test_hostile_urls_are_format_errors_never_crashes(name: str, url: str) -> None:
    assert _refused({name: url}) == (Category.FORMAT, name)


@pytest.mark.parametrize("name", URL_NAMES)
@pytest.mark.parametrize("char", ["\r\n", "\t", "\x00", "\x7f", "\x85"])
def test_control_characters_in_urls_are_refused(name: str, char: str) -> None:
    url = f"https://shop.example/{char}Location: https://evil.example/"
    assert _refused({name: url}) == (Category.FORMAT, name)


@pytest.mark.parametrize("name", URL_NAMES)
def test_a_2100_character_url_is_too_long(name: str) -> None:
    assert _refused({name: "https://shop.example/" + "a" * 2079}) == (Category.TOO_LONG, name)


def test_an_accepted_url_is_kept_exactly_as_sent() -> None:
    url = "HTTPS://Shop.Example.:8443/a%20b?x=1#f"
    assert validate_payment_request(_raw({"URLNotify": url})).url_notify == url


def test_card_data_outside_data_is_refused_like_inside() -> None:
    cipher = BlowfishCipher(b"key")
    length, data = cipher.encrypt(format_inner(BASE.items()))
    card = ("CCNr", "4111111111111111")
    raw = decode_request(
        Fields([("MerchantID", "M"), card, ("Len", str(length)), ("Data", data)]), cipher
    )
    assert _error(lambda: validate_payment_request(raw)).parameter == "CardData"
