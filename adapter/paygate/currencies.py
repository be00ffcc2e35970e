"""ISO 4217 alpha-3 codes in use, with their minor-unit exponent.

Paygate amounts are integers in minor units, so the exponent is what turns ``1500 JPY`` into
1500 yen and ``1500 EUR`` into 15 euros. Codes without minor units (gold, SDR, the test code
``XTS``...) are left out: nothing can be paid in them. Withdrawn codes (``HRK``, ``ZWL``,
``SLL``, ``CUC``, ``ANG``) are left out too, so a typo or an outdated shop config is refused
before it reaches Alipay+.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        code: exponent
        for codes, exponent in ((_ZERO, 0), (_TWO, 2), (_THREE, 3), (_FOUR, 4))
        for code in codes.split()
    }
)

_ALPHA3 = re.compile(r"[A-Z]{3}")


def is_known_currency(code: str) -> bool:
    """Exactly three upper-case letters naming a currency in :data:`MINOR_UNITS`."""
    return bool(_ALPHA3.fullmatch(code)) and code in MINOR_UNITS
