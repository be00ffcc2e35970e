"""Test doubles around the sandbox: a signing ACQP client, the control API and a notify receiver."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapter.alipayplus.signing import signed_headers, verify_message
from adapter.sandbox.config import DEFAULT_NOTIFY_SCHEDULE
from tests.support.waiting import DEFAULT_TIMEOUT, wait_until_async

PAYMENTS = "/aps/api/v1/payments/"
REDIRECT_URL = "https://shop.example/return?order=1"


def pay_body(
    payment_request_id: str,
    *,
    value: str = "1000",
    currency: str = "EUR",
    terminal: str = "WEB",
    **top_level: Any,
) -> dict[str, Any]:
    """A valid Cashier pay request; ``top_level`` replaces or adds top-level members."""
    amount = {"currency": currency, "value": value}
    env: dict[str, str] = {"terminalType": terminal}
    if terminal in {"APP", "WAP"}:
        env["osType"] = "IOS"
    body: dict[str, Any] = {
        "paymentRequestId": payment_request_id,
        "paymentAmount": amount,
        "order": {
            "referenceOrderId": f"order-{payment_request_id}",
            "orderDescription": "2 cups of coffee",
            "orderAmount": dict(amount),
            "merchant": {"referenceMerchantId": "M-1", "merchantName": "Coffee & Co"},
            "env": env,
        },
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isCashierPayment": "true", "presentmentMode": "UNIFIED"},
        "paymentRedirectUrl": REDIRECT_URL,
    }
    return body | top_level


def refund_body(
    payment_request_id: str, refund_request_id: str, value: str = "10", currency: str = "EUR"
) -> dict[str, Any]:
    return {
        "paymentRequestId": payment_request_id,
        "refundRequestId": refund_request_id,
        "refundAmount": {"currency": currency, "value": value},
    }


@dataclass
class Acqp:
    """Calls the sandbox's Alipay+ API the way an ACQP does: signed requests, verified answers."""

    http: httpx.AsyncClient
    base_url: str
    key: RSAPrivateKey
    sandbox_public: RSAPublicKey
    client_id: str

    def headers(
        self,
        path: str,
        body: bytes,
        *,
        key: RSAPrivateKey | None = None,
        key_version: str = "1",
        client_id: str | None = None,
    ) -> dict[str, str]:
        return signed_headers(
            uri=path,
            client_id=client_id or self.client_id,
            body=body,
            private_key=key or self.key,
            key_version=key_version,
            now=datetime.now(UTC),
            time_header="Request-Time",
        )

    async def post(
        self,
        api: str,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        **signing: Any,
    ) -> httpx.Response:
        """POST to an API name (``pay``) or a full path; signed unless ``headers`` is given."""
        path = api if api.startswith("/") else PAYMENTS + api
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = headers if headers is not None else self.headers(path, raw, **signing)
        return await self.http.post(self.base_url + path, content=raw, headers=sent)

    def verified(self, path: str, response: httpx.Response) -> bool:
        return verify_message(
            uri=path,
            headers=response.headers,
            body=response.content,
            public_key=self.sandbox_public,
            time_header="Response-Time",
        )

    async def call(self, api: str, body: dict[str, Any] | bytes, **signing: Any) -> Any:
        """The JSON answer of a call that must come back as a signed HTTP 200."""
        response = await self.post(api, body, **signing)
        assert response.status_code == 200, response.text
        assert self.verified(PAYMENTS + api, response)
        return response.json()

    async def code(self, api: str, body: dict[str, Any] | bytes, **signing: Any) -> str:
        """Just ``result.resultCode``."""
        answer = await self.call(api, body, **signing)
        code: str = answer["result"]["resultCode"]
        return code

    async def paid(self, payment_request_id: str, **pay: Any) -> dict[str, Any]:
        """A payment the shopper has paid through the control API; its pay answer."""
        answer: dict[str, Any] = await self.call("pay", pay_body(payment_request_id, **pay))
        response = await self.http.post(
            f"{self.base_url}/_sim/payments/{payment_request_id}/complete", json={"status": "S"}
        )
        assert response.status_code == 200, response.text
        return answer


@dataclass
class Sim:
    """The sandbox's /_sim/ control API."""

    http: httpx.AsyncClient
    base_url: str

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, f"{self.base_url}/_sim{path}", json=body)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.request(method, path, body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def payment(self, payment_request_id: str) -> Any:
        return await self.ok("GET", f"/payments/{payment_request_id}")

    async def fault(self, **spec: Any) -> Any:
        return await self.ok("POST", "/faults", spec)

    async def advance(self, seconds: float) -> datetime:
        answer = await self.ok("POST", "/clock/advance", {"seconds": seconds})
        return datetime.fromisoformat(answer["now"])

    async def attempts(self) -> list[dict[str, Any]]:
        answer = await self.ok("GET", "/notifications")
        attempts: list[dict[str, Any]] = answer["attempts"]
        return attempts

    async def attempts_until(
        self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> list[dict[str, Any]]:
        """The attempt log once ``check`` holds: the receiver sees a delivery before its ack
        is judged and recorded."""
        seen: list[dict[str, Any]] = []

        async def checked() -> bool:
            seen[:] = await self.attempts()
            return check(seen)

        await wait_until_async(
            checked, timeout=timeout, message=lambda: f"attempts never matched: {seen}"
        )
        return seen

    async def acked(self, payment_request_id: str) -> list[dict[str, Any]]:
        """The payment's attempts once one is acknowledged: the sender stops at an ack, so
        this is all there will ever be."""
        log = await self.attempts_until(
            lambda log: any(a["acked"] for a in _of(log, payment_request_id))
        )
        return _of(log, payment_request_id)

    async def policy(self, mode: str, delay_seconds: float = 0.0) -> Any:
        return await self.ok(
            "POST", "/notify-policy", {"mode": mode, "delay_seconds": delay_seconds}
        )


def _of(log: list[dict[str, Any]], payment_request_id: str) -> list[dict[str, Any]]:
    return [a for a in log if a["payment_request_id"] == payment_request_id]


# A head start for the rounds already due when a marker starts (see all_rounds_passed).
MARKER_HEAD_START_SECONDS = 0.3


async def all_rounds_passed(acqp: Acqp, sim: Sim) -> None:
    """Return once every notification round the sandbox had scheduled before this call has
    come and gone, so a test can assert that nothing more was sent.

    A marker payment paid now is notified to a URL that never acknowledges, so it goes through
    the whole schedule. Its last round comes after every round already due: the same schedule,
    started later, and held back a further head start (the policy delay, read when a delivery
    starts). Leaves the notify policy at normal with that delay; each test resets the sandbox.
    """
    marker = f"marker-{secrets.token_hex(6)}"
    await sim.policy("normal", delay_seconds=MARKER_HEAD_START_SECONDS)
    await acqp.paid(marker, paymentNotifyUrl=f"{acqp.base_url}/never-acknowledges")
    rounds = len(DEFAULT_NOTIFY_SCHEDULE)
    await sim.attempts_until(lambda log: len(_of(log, marker)) == rounds)


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    raw: bytes
    verified: bool
    received: float  # time.monotonic()

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class Receiver:
    """The ACQP's notification endpoint: verifies the sandbox and answers a scripted reply.

    Replies, one per delivery then "ack": "ack" (signed S; refused with 401 when the
    notification's signature is bad), "unsigned" (S without signature), "result_f" (signed F),
    "http_500", "slow" (a signed ack after 0.4 s).
    """

    def __init__(self, key: RSAPrivateKey, sandbox_public: RSAPublicKey, client_id: str) -> None:
        self._key = key
        self._sandbox_public = sandbox_public
        self._client_id = client_id
        self.deliveries: list[Delivery] = []
        self.replies: list[str] = []
        self.app = Starlette(routes=[Route("/acqp/notify", self._notify, methods=["POST"])])

    def reset(self) -> None:
        self.deliveries.clear()
        self.replies.clear()

    async def _notify(self, request: Request) -> Response:
        raw = await request.body()
        verified = verify_message(
            uri=request.url.path,
            headers=request.headers,
            body=raw,
            public_key=self._sandbox_public,
            time_header="Request-Time",
        )
        self.deliveries.append(
            Delivery(request.url.path, dict(request.headers), raw, verified, time.monotonic())
        )
        reply = self.replies.pop(0) if self.replies else "ack"
        if reply == "http_500":
            return Response(status_code=500)
        if reply == "ack" and not verified:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if reply == "slow":
            await asyncio.sleep(0.4)
        status = "F" if reply == "result_f" else "S"
        body = json.dumps(
            {"result": {"resultCode": "SUCCESS", "resultStatus": status, "resultMessage": "ok"}}
        ).encode()
        headers = signed_headers(
            uri=request.url.path,
            client_id=self._client_id,
            body=body,
            private_key=self._key,
            key_version="1",
            now=datetime.now(UTC),
            time_header="Response-Time",
        )
        if reply == "unsigned":
            headers = {"content-type": "application/json"}
        return Response(body, headers=headers)
