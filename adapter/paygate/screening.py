"""Rules every Paygate request meets on every endpoint, before the endpoint's own rules.

Card data: the adapter takes no card payments, so a card field means a shop sends data it must
not, and holding it for even one log line would bring the adapter into PCI scope. Any field of
the family is refused, inside or outside Data, and its value is never repeated.

Control characters: C0, DEL and C1 in a value (or a name) would end up in result texts, logs or
Alipay+ fields. C1 (0x80-0x9F) only arises from a Latin-1 reading of bytes that are not UTF-8,
so a shop sending Windows-1252 text (where 0x80 is the euro sign) is refused too; it has to
send UTF-8.

Parameter count: a few hundred is far above any real request (the documented ones number about
forty), and a cap keeps a request of ten thousand tiny parameters from costing more than its
bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, is_parameter_name

MAX_PARAMETERS = 300

# Lower-case names of card fields: Computop's own (CCNr, CCCVC, CCExpiry, CCBrand, CardHolder,
# the pseudo card number PCNr, the JSON ``card`` object) and the usual names elsewhere.
CARD_FIELDS = frozenset(
    {
        "ccnr",
        "cccvc",
        "cccvv",
        "ccexpiry",
        "ccbrand",
        "cccardholder",
        "cardholder",
        "cardholdername",
        "creditcardholder",
        "ccnumber",
        "cardnumber",
        "creditcardnumber",
        "card",
        "pan",
        "pcnr",
        "cvc",
        "cvc2",
        "cvv",
        "cvv2",
    }
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` contains a C0 or C1 control character or DEL."""
    return bool(_CONTROL.search(text))


# The longest value a valid request carries in a field that answers echo (UserData, Custom).
MAX_ECHOED_LENGTH = 1024


def echoable(value: str | None) -> str:
    """``value`` as an answer may repeat it: empty when absent, when it has control characters
    or when it is longer than any echoed field may be.

    Answers echo a request's TransID, RefNr, UserData (and, beside a result, Custom and Plain)
    even when the request is refused, so the shop can match them. A value refused for its
    control characters must not travel on into the shop's parsers and logs in the refusal, and
    one refused for its length must not make the refusal a URL too long for browsers and shops
    to follow (a 32 kB UserData made a 65 kB Location).
    """
    if value is None or len(value) > MAX_ECHOED_LENGTH or has_control_characters(value):
        return ""
    return value


def refuse_card_data(fields: Fields) -> None:
    """Raise NOT_ALLOWED ``CardData`` when any card field has a value."""
    for key, value in fields.items():
        if value and key.lower() in CARD_FIELDS:
            raise PaygateError(
                Category.NOT_ALLOWED, "CardData", "card data is never accepted by this service"
            )


def refuse_control_characters(fields: Fields, documented: Mapping[str, str]) -> None:
    """Raise FORMAT for the first name or value with a control character.

    The error names the parameter as ``documented`` spells it (keyed by lower-case name); a name
    that is not a parameter name is not repeated at all, because the reason is shown to people.
    """
    for key, value in fields.items():
        if has_control_characters(key) or has_control_characters(value):
            name = documented.get(key.lower(), key if is_parameter_name(key) else "Request")
            raise PaygateError(Category.FORMAT, name, f"{name} contains control characters")


def check_parameter_count(count: int) -> None:
    """Raise TOO_LONG ``Request`` when a request has more than :data:`MAX_PARAMETERS`.

    ``count`` is what arrived, duplicates included: outer parameters plus those inside Data.
    """
    if count > MAX_PARAMETERS:
        raise PaygateError(
            Category.TOO_LONG,
            "Request",
            f"the request has more than {MAX_PARAMETERS} parameters",
        )
