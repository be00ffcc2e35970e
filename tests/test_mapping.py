from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import adapter
from adapter.errors import ConfigError
from adapter.mapping import load_mapping, parse_mapping
from adapter.resources import DEFAULT_MAPPING

NOTE_CODES = [
    "SUCCESS",
    "PAYMENT_IN_PROCESS",
    "UNKNOWN_EXCEPTION",
    "REQUEST_TRAFFIC_EXCEED_LIMIT",
    "PARAM_ILLEGAL",
    "ACCESS_DENIED",
    "INVALID_SIGNATURE",
    "INVALID_CLIENT",
    "KEY_NOT_FOUND",
    "MEDIA_TYPE_NOT_ACCEPTABLE",
    "METHOD_NOT_SUPPORTED",
    "NO_INTERFACE_DEF",
    "REPEAT_REQ_INCONSISTENT",
    "MERCHANT_NOT_REGISTERED",
    "CURRENCY_NOT_SUPPORT",
    "BUSINESS_NOT_SUPPORT",
    "INVALID_CONTRACT",
    "ORDER_IS_CLOSED",
    "PAYMENT_AMOUNT_EXCEED_LIMIT",
    "PAYMENT_COUNT_EXCEED_LIMIT",
    "RISK_REJECT",
    "REGULATION_RESTRICTION",
    "USER_BALANCE_NOT_ENOUGH",
    "USER_AMOUNT_EXCEED_LIMIT",
    "USER_NOT_EXIST",
    "USER_STATUS_ABNORMAL",
    "USER_KYC_NOT_QUALIFIED",
    "USER_PAYMENT_VERIFICATION_FAILED",
    "UNAVAILABLE_PAYMENT_METHOD",
    "PROCESS_FAIL",
    "CANCEL_WINDOW_EXCEED",
    "ORDER_NOT_EXIST",
    "REFUND_AMOUNT_EXCEED",
    "REFUND_WINDOW_EXCEED",
    "ORDER_STATUS_INVALID",
    "MULTIPLE_REFUNDS_NOT_SUPPORTED",
    "PAYMENT_NOT_EXIST",
]


def test_every_alipay_code_of_the_protocol_note_is_mapped() -> None:
    mapping = load_mapping()
    assert sorted(set(NOTE_CODES) - set(mapping.alipay_results)) == []


def test_a_u_result_never_maps_to_failed() -> None:
    mapping = load_mapping()
    for code in [*NOTE_CODES, "SOMETHING_NEW"]:
        assert mapping.alipay(code, "U").status == "AUTHORIZE_REQUEST"
        assert mapping.alipay(code, "U").code.startswith("6")


def test_descriptions_survive_every_client_parser() -> None:
    for result in load_mapping().alipay_results.values():
        assert not re.search(r"[&=+%]", result.description)


def test_a_code_whose_first_digit_contradicts_its_status_is_refused() -> None:
    data = yaml.safe_load(DEFAULT_MAPPING.read_text())
    data["alipayplus_results"]["SUCCESS"]["code"] = "20000000"
    data["alipayplus_results"]["SUCCESS"]["status"] = "OK"
    with pytest.raises(ConfigError, match=r"alipayplus_results.SUCCESS.code"):
        parse_mapping(data)


def test_error_codes_follow_paygate_structure() -> None:
    mapping = load_mapping()
    assert mapping.error_code("missing", "Amount") == "40100007"
    assert mapping.error_code("invalid", "MAC") == "20120004"
    assert mapping.terminal_type("MobileWAP") == "WAP"


def test_every_adapter_result_the_code_asks_for_exists() -> None:
    """A missing name would only show up as a KeyError on that one rare path."""
    source = "\n".join(p.read_text() for p in Path(adapter.__file__).parent.rglob("*.py"))
    names = set(re.findall(r'(?:\.adapter|_refused)\((?:ctx, )?"(\w+)"\)', source))
    assert {"operation_pending", "unknown_payment", "not_refundable"} <= names
    assert sorted(names - set(load_mapping().adapter_results)) == []
