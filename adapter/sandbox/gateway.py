"""The Alipay+ API endpoint: transport checks, authentication, injected faults, signing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from starlette.requests import Request
from starlette.responses import Response

from adapter.sandbox.calls import CallLog
from adapter.sandbox.clock import SimClock
from adapter.sandbox.codes import ApiError, result
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.sandbox.engine import Engine
from adapter.sandbox.faults import Fault, FaultBook, FaultMode
from adapter.sandbox.inbound import parse_pay, parse_payment_ref, parse_refund, request_id
from adapter.sandbox.security import authenticate, response_headers, wrong_key
from adapter.sandbox.validation import JsonObject, parse_body

PREFIX = "/aps/api/v1/payments/"
APIS = frozenset({"pay", "inquiryPayment", "cancelPayment", "refund"})

_DROPPED_HEADERS = {
    FaultMode.UNSIGNED: ("client-id", "response-time", "signature"),
    FaultMode.MISSING_SIGNATURE: ("signature",),
}


class Gateway:
    def __init__(
        self,
        config: SandboxConfig,
        clock: SimClock,
        engine: Engine,
        faults: FaultBook,
        calls: CallLog,
    ) -> None:
        self._config = config
        self._clock = clock
        self._engine = engine
        self._faults = faults
        self._calls = calls

    async def handle(self, request: Request) -> Response:
        """Every path under /aps/api: business errors are HTTP 200 with a signed result."""
        path = request.url.path
        client_id = request.headers.get("client-id", "")
        api = path.removeprefix(PREFIX) if path.startswith(PREFIX) else None
        if api not in APIS:
            return self._answer(path, client_id, ApiError("NO_INTERFACE_DEF").body())
        if request.method != "POST":
            return self._answer(path, client_id, ApiError("METHOD_NOT_SUPPORTED").body())
        content_type = request.headers.get("content-type")
        if content_type is not None and _media_type(content_type) != "application/json":
            return self._answer(path, client_id, ApiError("MEDIA_TYPE_NOT_ACCEPTABLE").body())
        raw = await request.body()
        try:
            client = authenticate(self._config, path, request.headers, raw)
            body = parse_body(raw)
        except ApiError as error:
            self._calls.record(api, None)
            return self._answer(path, client_id, error.body())
        rid = request_id(api, body)
        self._calls.record(api, rid)
        fault = self._faults.take(api, rid)
        if fault is None:
            return self._answer(path, client_id, self._process(api, client, body))
        return await self._faulty(fault, path, client, body)

    async def _faulty(
        self, fault: Fault, path: str, client: SandboxClient, body: JsonObject
    ) -> Response:
        if fault.mode is FaultMode.RESULT:
            forced = {"result": result(fault.result_code, fault.result_status)}
            return self._answer(path, client.client_id, forced)
        if fault.mode is FaultMode.HTTP_500:
            return Response(status_code=500)
        if fault.mode in (FaultMode.DELAY, FaultMode.STALL):
            await asyncio.sleep(fault.delay_seconds)
        if fault.mode is FaultMode.STALL:
            return Response(status_code=504)
        payload = self._process(fault.api, client, body)
        if fault.mode is FaultMode.DROP_AFTER_COMMIT:
            return Response(status_code=500)
        key = wrong_key() if fault.mode is FaultMode.BAD_SIGNATURE else None
        drop = _DROPPED_HEADERS.get(fault.mode, ())
        return self._answer(path, client.client_id, payload, key=key, drop=drop)

    def _process(self, api: str, client: SandboxClient, body: JsonObject) -> dict[str, Any]:
        try:
            if api == "pay":
                return self._engine.pay(client, parse_pay(body))
            if api == "inquiryPayment":
                return self._engine.inquiry(client, parse_payment_ref(body))
            if api == "cancelPayment":
                return self._engine.cancel(client, parse_payment_ref(body))
            return self._engine.refund(client, parse_refund(body))
        except ApiError as error:
            return error.body()

    def _answer(
        self,
        path: str,
        client_id: str,
        payload: dict[str, Any],
        *,
        key: RSAPrivateKey | None = None,
        drop: tuple[str, ...] = (),
    ) -> Response:
        body = json.dumps(payload).encode()
        now = self._clock.now()
        headers = response_headers(self._config, path, client_id, body, now, key=key, drop=drop)
        return Response(body, headers=headers)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()
