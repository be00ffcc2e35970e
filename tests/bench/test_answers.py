"""The answer checks refuse what a shop would refuse."""

from __future__ import annotations

from adapter.paygate.response import encrypt_response, s2s_body
from tests.bench.answers import paygate_answer, redirect_to_checkout
from tests.bench.world import World
from tests.bench.wrk import Sample

WORLD = World("BenchShop", "h" * 32, "b" * 16, "", "", "http://127.0.0.1:1", "http://127.0.0.1:2")
VALUES = {"mid": "BenchShop", "PayID": "P" * 32, "Status": "OK", "Code": "00000000"}


def _answer(values: dict[str, str], hmac_key: str = WORLD.hmac_key) -> Sample:
    length, data = encrypt_response(values, hmac_key.encode(), WORLD.cipher)
    return Sample(200, "", "", "", "", s2s_body(length, data))


def test_a_right_answer_passes() -> None:
    assert paygate_answer(WORLD, {"Status": "OK"})(_answer(VALUES)) is None


def test_a_wrong_mac_status_or_merchant_is_refused() -> None:
    check = paygate_answer(WORLD, {"Status": "OK"})
    assert check(_answer(VALUES, hmac_key="other")) == "MAC does not verify"
    assert "Status is not 'OK'" in (check(_answer({**VALUES, "Status": "FAILED"})) or "")
    assert check(_answer({**VALUES, "mid": "Other"})) == "mid is 'Other'"
    assert (check(Sample(500, "", "", "", "", "oops")) or "").startswith("HTTP 500")


def test_a_redirect_elsewhere_is_refused() -> None:
    check = redirect_to_checkout(WORLD)
    assert check(Sample(303, f"{WORLD.checkout_base}x", "", "", "", "")) is None
    assert check(Sample(303, "http://evil.test/", "", "", "", "")) is not None
