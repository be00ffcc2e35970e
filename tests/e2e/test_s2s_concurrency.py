"""Simultaneous credits and reversals for one payment: the money rule holds and ledgers agree."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from adapter.paygate.fields import Fields
from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient, answer_fields


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def money_stack(request: pytest.FixtureRequest, s2s_stack: Stack) -> Stack:
    if request.param == "sqlite":
        return s2s_stack
    postgres: Stack = request.getfixturevalue("s2s_postgres_stack")
    return postgres


@pytest.fixture
def client(money_stack: Stack, s2s: S2SClient) -> S2SClient:
    return S2SClient(money_stack.shop, money_stack.adapter_url, s2s.http)


def _send_all(stack: Stack, requests: list[tuple[str, dict[str, str]]]) -> list[Fields]:
    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{stack.adapter_url}/{endpoint}.aspx", data=params)
                    for endpoint, params in requests
                )
            )

    return [answer_fields(stack.shop, response) for response in asyncio.run(send())]


def test_fifty_concurrent_credits_of_ten_against_a_hundred_refund_exactly_a_hundred(
    money_stack: Stack, client: S2SClient
) -> None:
    pay_id = money_stack.paid_payment("CC-FIFTY", "100")
    requests = [
        (
            "credit",
            client.outer(
                {"PayID": pay_id, "TransID": f"CC-F-{i}", "Amount": "10", "Currency": "EUR"}
            ),
        )
        for i in range(50)
    ]
    answers = _send_all(money_stack, requests)
    assert Counter(answer["Code"] for answer in answers) == {"00000000": 10, "21500140": 40}
    assert all(answer["Status"] in ("OK", "FAILED") for answer in answers)
    ledger = money_stack.ledger(pay_id)
    assert ledger["refunded"] == 100
    succeeded = {a["XID"] for a in answers if a["Code"] == "00000000"}
    assert {r["refundRequestId"] for r in ledger["refunds"]} == succeeded
    assert all(r["status"] == "SUCCESS" for r in ledger["refunds"])
    assert client.call("inquire", {"PayID": pay_id})["AmountCred"] == "100"


def test_two_concurrent_reverses_cancel_once(money_stack: Stack, client: S2SClient) -> None:
    pay_id = money_stack.paid_payment("CC-REV", "100")
    requests = [
        (
            "reverse",
            client.outer(
                {"PayID": pay_id, "TransID": f"CC-R-{i}", "Amount": "100", "Currency": "EUR"}
            ),
        )
        for i in range(2)
    ]
    codes = sorted(answer["Code"] for answer in _send_all(money_stack, requests))
    assert codes == ["00000000", "21500042"]
    calls: dict[str, dict[str, int]] = money_stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    assert calls[pay_id]["cancelPayment"] == 1
    assert money_stack.ledger(pay_id)["state"] == "CANCELLED"


def test_a_reverse_racing_credits_never_returns_money_twice(
    money_stack: Stack, client: S2SClient
) -> None:
    pay_id = money_stack.paid_payment("CC-MIX", "100")
    credit = [
        (
            "credit",
            client.outer(
                {"PayID": pay_id, "TransID": f"CC-M-{i}", "Amount": "30", "Currency": "EUR"}
            ),
        )
        for i in range(5)
    ]
    reverse = (
        "reverse",
        client.outer({"PayID": pay_id, "TransID": "CC-M-X", "Amount": "100", "Currency": "EUR"}),
    )
    answers = _send_all(money_stack, [*credit[:2], reverse, *credit[2:]])
    reversed_ok = answers[2]["Code"] == "00000000"
    credits_ok = sum(1 for a in answers[:2] + answers[3:] if a["Code"] == "00000000")
    ledger = money_stack.ledger(pay_id)
    if reversed_ok:
        assert (credits_ok, ledger["refunded"], ledger["cancelled"]) == (0, 0, True)
    else:
        assert answers[2]["Code"] == "21500044"
        assert (credits_ok, ledger["refunded"], ledger["cancelled"]) == (3, 90, False)
