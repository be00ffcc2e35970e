"""A minimal Alipay+ for the benchmark: verifies each request's signature, keeps a ledger, signs.

Both the adapter and the floor call this one process, so the upstream's cost is the same for
both sides. It does only what an upstream must (verify, decide against the ledger, sign), far
less than the project's sandbox, so the benchmark's ratios are not flattened by a slow
upstream. The ledger refuses what Alipay+ refuses (a refund beyond the payment, a cancel after
refunds, an id reused with other values), and the benchmark compares it with each side's
database after every run.

Run: ``python -m tests.bench.fake_alipay --world world.json --port 8001``
"""

from __future__ import annotations

import argparse
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapter.alipayplus.messages import encode_body
from adapter.alipayplus.models import MessageError, decode_object
from adapter.alipayplus.signing import signed_headers, verify_message
from tests.bench.serving import serve_forever
from tests.bench.world import CLIENT_ID, KEY_VERSION, World

API_PREFIX = "/aps/api/v1/payments/"


def _result(code: str = "SUCCESS", status: str = "S") -> dict[str, str]:
    return {"resultCode": code, "resultStatus": status, "resultMessage": code.lower()}


@dataclass
class LedgerPayment:
    amount: int
    currency: str
    state: str  # PENDING | SUCCESS | CANCELLED
    payment_id: str = field(default_factory=lambda: secrets.token_hex(12))
    refunded: int = 0
    refunds: int = 0


@dataclass(frozen=True)
class LedgerRefund:
    payment_request_id: str
    amount: int
    answer: dict[str, Any]


@dataclass
class Ledger:
    """What Alipay+ knows; every method is one synchronous step, so nothing interleaves."""

    checkout_base: str
    payments: dict[str, LedgerPayment] = field(default_factory=dict)
    refunds: dict[str, LedgerRefund] = field(default_factory=dict)

    def seed(self, request_id: str, amount: int, currency: str, state: str) -> None:
        self.payments[request_id] = LedgerPayment(amount, currency, state)

    def pay(self, body: dict[str, Any]) -> dict[str, Any]:
        request_id = str(body["paymentRequestId"])
        amount = body["paymentAmount"]
        value, currency = int(amount["value"]), str(amount["currency"])
        payment = self.payments.get(request_id)
        if payment is None:
            payment = LedgerPayment(value, currency, "PENDING")
            self.payments[request_id] = payment
        elif (payment.amount, payment.currency) != (value, currency):
            return {"result": _result("REPEAT_REQ_INCONSISTENT", "F")}
        if payment.state == "CANCELLED":
            return {"result": _result("ORDER_IS_CLOSED", "F")}
        answer: dict[str, Any] = {"paymentId": payment.payment_id, "paymentAmount": amount}
        if payment.state == "SUCCESS":
            return {"result": _result(), **answer}
        return {
            "result": _result("PAYMENT_IN_PROCESS", "U"),
            **answer,
            "normalUrl": f"{self.checkout_base}{payment.payment_id}",
        }

    def inquiry(self, body: dict[str, Any]) -> dict[str, Any]:
        request_id = str(body["paymentRequestId"])
        payment = self.payments.get(request_id)
        if payment is None:
            return {"result": _result("ORDER_NOT_EXIST", "F")}
        outcome = {
            "SUCCESS": _result(),
            "CANCELLED": _result("ORDER_IS_CLOSED", "F"),
            "PENDING": _result("PAYMENT_IN_PROCESS", "U"),
        }[payment.state]
        answer: dict[str, Any] = {
            "result": _result(),
            "paymentResult": outcome,
            "paymentRequestId": request_id,
            "paymentId": payment.payment_id,
            "paymentAmount": {"currency": payment.currency, "value": str(payment.amount)},
        }
        return answer

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        payment = self.payments.get(str(body["paymentRequestId"]))
        if payment is None:
            return {"result": _result("ORDER_NOT_EXIST", "F")}
        if payment.refunds:
            return {"result": _result("PROCESS_FAIL", "F")}
        payment.state = "CANCELLED"
        return {"result": _result()}

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        request_id = str(body["paymentRequestId"])
        refund_request_id = str(body["refundRequestId"])
        value = int(body["refundAmount"]["value"])
        earlier = self.refunds.get(refund_request_id)
        if earlier is not None:
            if (earlier.payment_request_id, earlier.amount) != (request_id, value):
                return {"result": _result("REPEAT_REQ_INCONSISTENT", "F")}
            return earlier.answer
        payment = self.payments.get(request_id)
        if payment is None:
            return {"result": _result("ORDER_NOT_EXIST", "F")}
        answer: dict[str, Any]
        if payment.state != "SUCCESS":
            answer = {"result": _result("ORDER_STATUS_INVALID", "F")}
        elif payment.refunded + value > payment.amount:
            answer = {"result": _result("REFUND_AMOUNT_EXCEED", "F")}
        else:
            payment.refunded += value
            payment.refunds += 1
            answer = {
                "result": _result(),
                "refundId": secrets.token_hex(12),
                "refundTime": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "refundAmount": body["refundAmount"],
            }
        self.refunds[refund_request_id] = LedgerRefund(request_id, value, answer)
        return answer

    def view(self, request_ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {rid: self.payments.get(rid) for rid in request_ids}
        return {
            rid: {
                "state": p.state,
                "amount": p.amount,
                "refunded": p.refunded,
                "refunds": p.refunds,
            }
            for rid, p in found.items()
            if p is not None
        }

    def counts(self) -> dict[str, int]:
        states = Counter(payment.state for payment in self.payments.values())
        return {
            **states,
            "refunds": sum(p.refunds for p in self.payments.values()),
            "refunded": sum(p.refunded for p in self.payments.values()),
        }


def create_fake_alipay(world: World) -> Starlette:
    ledger = Ledger(world.checkout_base)
    handlers = {
        "pay": ledger.pay,
        "inquiryPayment": ledger.inquiry,
        "cancelPayment": ledger.cancel,
        "refund": ledger.refund,
    }
    acqp_public_key = world.acqp_public_key
    alipay_key = world.alipay_key

    def signed(path: str, answer: dict[str, Any]) -> Response:
        raw = encode_body(answer)
        headers = signed_headers(
            uri=path,
            client_id=CLIENT_ID,
            body=raw,
            private_key=alipay_key,
            key_version=KEY_VERSION,
            now=datetime.now(UTC),
            time_header="Response-Time",
        )
        return Response(raw, headers=headers)

    async def api(request: Request) -> Response:
        path = request.url.path
        handler = handlers.get(path.removeprefix(API_PREFIX))
        if handler is None:
            return signed(path, {"result": _result("NO_INTERFACE_DEF", "F")})
        raw = await request.body()
        if request.headers.get("client-id") != CLIENT_ID or not verify_message(
            uri=path,
            headers=request.headers,
            body=raw,
            public_key=acqp_public_key,
            time_header="Request-Time",
        ):
            return signed(path, {"result": _result("INVALID_SIGNATURE", "F")})
        try:
            body = decode_object(raw)
            return signed(path, handler(body))
        except (MessageError, KeyError, TypeError, ValueError):
            return signed(path, {"result": _result("PARAM_ILLEGAL", "F")})

    async def seed(request: Request) -> Response:
        for entry in json.loads(await request.body()):
            ledger.seed(entry["id"], int(entry["amount"]), entry["currency"], entry["state"])
        return JSONResponse({"seeded": True})

    async def view(request: Request) -> Response:
        return JSONResponse(ledger.view(json.loads(await request.body())))

    async def counts(request: Request) -> Response:
        return JSONResponse(ledger.counts())

    return Starlette(
        routes=[
            Route(API_PREFIX + "{api}", api, methods=["POST"]),
            Route("/_fake/seed", seed, methods=["POST"]),
            Route("/_fake/ledger", view, methods=["POST"]),
            Route("/_fake/counts", counts),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve_forever(create_fake_alipay(World.load(Path(args.world))), args.port)


if __name__ == "__main__":
    main()
