"""ReqId: the first finished answer per (merchant, endpoint, ReqId) is replayed byte for byte."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.s2s import S2SClient, answer_fields


def _refund_calls(stack: Stack, pay_id: str) -> int:
    """Refund calls the sandbox received for this payment, retries included.

    Counted by the refundRequestIds in its ledger (declined refunds are listed there too), so
    whatever else the shared stack does meanwhile does not count.
    """
    by_id: dict[str, dict[str, int]] = stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    refund_ids = {r["refundRequestId"] for r in stack.ledger(pay_id)["refunds"]}
    return sum(by_id.get(rid, {}).get("refund", 0) for rid in refund_ids)


@pytest.mark.parametrize("key", ["ReqId", "ReqID", "reqid"])
def test_a_repeated_credit_gets_the_same_bytes_and_alipay_is_asked_once(
    s2s_stack: Stack, s2s: S2SClient, key: str
) -> None:
    pay_id = s2s_stack.paid_payment(f"RQ-CR-{key}", "1000")
    params = s2s.outer(
        {
            "PayID": pay_id,
            "TransID": "RQ-CR-1",
            "Amount": "300",
            "Currency": "EUR",
            key: f"r-1-{key}",
        }
    )
    before = _refund_calls(s2s_stack, pay_id)
    first = s2s.send("credit", params)
    again = s2s.send("credit", params)
    assert answer_fields(s2s_stack.shop, first)["Code"] == "00000000"
    assert again.content == first.content
    assert _refund_calls(s2s_stack, pay_id) == before + 1
    assert s2s_stack.ledger(pay_id)["refunded"] == 300


def test_a_repeat_in_a_new_request_with_the_same_req_id_replays_even_with_a_new_trans_id(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """Paygate semantics: the ReqId, not the TransID, names the action (bnl reuses RefNr)."""
    pay_id = s2s_stack.paid_payment("RQ-NEWTRANS", "1000")
    base = {"PayID": pay_id, "Amount": "300", "Currency": "EUR", "ReqId": "r-2"}
    first = s2s.send("credit", s2s.outer({**base, "TransID": "RQ-NT-1"}))
    again = s2s.send("credit", s2s.outer({**base, "TransID": "RQ-NT-2"}))
    assert again.content == first.content
    assert s2s_stack.ledger(pay_id)["refunded"] == 300


@pytest.mark.parametrize("change", [{"Amount": "301"}, {"Currency": "USD"}, {"PayID": "f" * 32}])
def test_the_same_req_id_with_other_values_is_refused(
    s2s_stack: Stack, s2s: S2SClient, change: dict[str, str]
) -> None:
    pay_id = s2s_stack.paid_payment(f"RQ-DIFF-{sorted(change)[0]}", "1000")
    base = {
        "PayID": pay_id,
        "TransID": "RQ-D-1",
        "Amount": "300",
        "Currency": "EUR",
        "ReqId": f"r-diff-{sorted(change)[0]}",
    }
    assert s2s.call("credit", base)["Code"] == "00000000"
    before = _refund_calls(s2s_stack, pay_id)
    refused = s2s.call("credit", {**base, **change, "TransID": "RQ-D-2"})
    assert (refused["Status"], refused["Code"], refused["TransID"]) == (
        "FAILED",
        "20170016",
        "RQ-D-2",
    )
    assert _refund_calls(s2s_stack, pay_id) == before
    assert s2s_stack.ledger(pay_id)["refunded"] == 300


def test_req_ids_are_scoped_per_endpoint(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("RQ-SCOPE", "1000")
    inquiry = s2s.call("inquire", {"PayID": pay_id, "ReqId": "r-scope"})
    credit = {
        "PayID": pay_id,
        "TransID": "RQ-SC-1",
        "Amount": "1000",
        "Currency": "EUR",
        "ReqId": "r-scope",
    }
    refund = s2s.call("credit", credit)
    assert (inquiry["AmountCred"], refund["Code"]) == ("0", "00000000")
    assert s2s_stack.ledger(pay_id)["refunded"] == 1000


def test_req_ids_are_scoped_per_merchant(s2s_stack: Stack, s2s: S2SClient) -> None:
    mine = s2s_stack.paid_payment("RQ-MINE", "1000")
    credit = {
        "PayID": mine,
        "TransID": "RQ-M-1",
        "Amount": "100",
        "Currency": "EUR",
        "ReqId": "r-merchant",
    }
    assert s2s.call("credit", credit)["Code"] == "00000000"
    other = S2SClient(s2s_stack.other_shop, s2s_stack.adapter_url, s2s.http)
    # The other merchant's ReqId is its own: not a replay of ours, and our PayID is unknown to it.
    answer = other.call("credit", credit)
    assert answer["Code"] == "20160032"


def test_a_reverse_repeated_by_req_id_is_replayed(s2s_stack: Stack, s2s: S2SClient) -> None:
    pay_id = s2s_stack.paid_payment("RQ-REV", "1000")
    params = s2s.outer(
        {
            "PayID": pay_id,
            "TransID": "RQ-RV-1",
            "Amount": "1000",
            "Currency": "EUR",
            "ReqId": "r-rev",
        }
    )
    first = s2s.send("reverse", params)
    again = s2s.send("reverse", params)
    assert answer_fields(s2s_stack.shop, first)["Code"] == "00000000"
    assert again.content == first.content
    calls: dict[str, dict[str, int]] = s2s_stack.sim("calls")["by_request_id"]  # type: ignore[assignment]
    assert calls[pay_id]["cancelPayment"] == 1


def test_an_inquire_of_an_open_payment_is_not_frozen_by_its_req_id(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """bnl polls with its RefNr as ReqId: a pending answer must not be replayed forever."""
    pay_id = s2s_stack.open_payment("RQ-POLL", "1000")
    params = s2s.outer({"PayID": pay_id, "ReqId": "r-poll"})
    pending = answer_fields(s2s_stack.shop, s2s.send("inquire", params))
    assert pending["Status"] == "AUTHORIZE_REQUEST"
    s2s_stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    s2s_stack.await_state(pay_id, "SUCCESS")
    paid = s2s.send("inquire", params)
    assert answer_fields(s2s_stack.shop, paid)["Status"] == "OK"
    assert s2s.send("inquire", params).content == paid.content


def test_an_inquire_repeated_by_req_id_answers_the_current_state(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    """inquire moves no money: no copy is kept, so a credit in between shows in the repeat."""
    pay_id = s2s_stack.paid_payment("RQ-NOW", "1000")
    params = s2s.outer({"PayID": pay_id, "ReqId": "r-now"})
    assert answer_fields(s2s_stack.shop, s2s.send("inquire", params))["AmountCred"] == "0"
    credit = {"PayID": pay_id, "TransID": "RQ-N-1", "Amount": "300", "Currency": "EUR"}
    assert s2s.call("credit", credit)["Code"] == "00000000"
    assert answer_fields(s2s_stack.shop, s2s.send("inquire", params))["AmountCred"] == "300"


def test_a_pending_credit_is_not_stored_and_its_repeat_returns_the_final_outcome(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("RQ-PEND", "1000")
    # Until cleared: with full jitter any number of quick retries may fit into the budget.
    s2s_stack.sim("faults", {"api": "refund", "mode": "http_500", "count": 1000})
    params = s2s.outer(
        {
            "PayID": pay_id,
            "TransID": "RQ-P-1",
            "Amount": "500",
            "Currency": "EUR",
            "ReqId": "r-pending",
        }
    )
    pending = answer_fields(s2s_stack.shop, s2s.send("credit", params))
    assert (pending["Status"], pending["Code"]) == ("AUTHORIZE_REQUEST", "61500003")
    s2s_stack.clear_faults()
    final = answer_fields(s2s_stack.shop, s2s.send("credit", params))
    assert (final["Status"], final["Code"], final["XID"]) == ("OK", "00000000", pending["XID"])
    ledger = s2s_stack.ledger(pay_id)
    assert [(r["refundRequestId"], r["amount"]) for r in ledger["refunds"]] == [
        (pending["XID"], 500)
    ]


def test_concurrent_repeats_of_one_req_id_make_one_upstream_call(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("RQ-CONC", "1000")
    params = s2s.outer(
        {
            "PayID": pay_id,
            "TransID": "RQ-C-1",
            "Amount": "250",
            "Currency": "EUR",
            "ReqId": "r-concurrent",
        }
    )
    # The first one is slow upstream, so the others arrive while it is still running.
    s2s_stack.sim("faults", {"api": "refund", "mode": "delay", "delay_seconds": 0.5})
    before = _refund_calls(s2s_stack, pay_id)

    async def send_all() -> list[bytes]:
        async with httpx.AsyncClient(timeout=30) as client:
            url = f"{s2s_stack.adapter_url}/credit.aspx"
            responses = await asyncio.gather(*(client.post(url, data=params) for _ in range(20)))
        return [response.content for response in responses]

    bodies = asyncio.run(send_all())
    assert len(set(bodies)) == 1
    answer = answer_fields(
        s2s_stack.shop, httpx.post(f"{s2s_stack.adapter_url}/credit.aspx", data=params)
    )
    assert answer["Code"] == "00000000"
    assert _refund_calls(s2s_stack, pay_id) == before + 1
    assert s2s_stack.ledger(pay_id)["refunded"] == 250


def test_a_credit_repeated_after_its_stored_answer_was_forgotten_is_not_refunded_again(
    s2s_stack: Stack, s2s: S2SClient
) -> None:
    pay_id = s2s_stack.paid_payment("RQ-FORGOT", "1000")
    params = s2s.outer(
        {
            "PayID": pay_id,
            "TransID": "RQ-F-1",
            "Amount": "300",
            "Currency": "EUR",
            "ReqId": "r-forgotten",
        }
    )
    first = answer_fields(s2s_stack.shop, s2s.send("credit", params))
    s2s_stack.forget_req_id_answers()  # what the retention does after adapter.req_id_answer_days
    before = _refund_calls(s2s_stack, pay_id)
    again = answer_fields(s2s_stack.shop, s2s.send("credit", params))
    assert (
        (again["Code"], again["XID"]) == (first["Code"], first["XID"]) == ("00000000", first["XID"])
    )
    assert _refund_calls(s2s_stack, pay_id) == before
    assert s2s_stack.ledger(pay_id)["refunded"] == 300
