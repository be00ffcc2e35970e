"""The Alipay+ HTTP client: signs exactly the bytes it sends, verifies the raw answer.

It never retries: the caller decides, reusing the same request ids (idempotent upstream).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapter.alipayplus.messages import (
    PayOrder,
    build_cancel_body,
    build_inquiry_body,
    build_pay_body,
    build_refund_body,
    encode_body,
)
from adapter.alipayplus.models import Amount, Api, MessageError, Reply, Result, decode_object
from adapter.alipayplus.signing import signed_headers, verify_message
from adapter.core.clock import utc_now


class UpstreamUnknown(Exception):
    """No trustworthy answer: what was asked may or may not have happened upstream."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClientSettings:
    gateway_url: str
    client_id: str
    private_key: RSAPrivateKey = field(repr=False)
    alipay_public_key: RSAPublicKey = field(repr=False)
    key_version: str = "1"
    max_connections: int = 8  # a larger pool was slower under load (performance.md)


class AlipayPlusClient:
    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=settings.gateway_url,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
        )

    async def __aenter__(self) -> AlipayPlusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self, api: Api, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> Reply:
        settings = self.settings
        raw_request = encode_body(body)
        headers = signed_headers(
            uri=api.path,
            client_id=settings.client_id,
            body=raw_request,
            private_key=settings.private_key,
            key_version=settings.key_version,
            now=self._clock(),
            time_header="Request-Time",
        )
        try:
            response = await self._http.post(
                api.path, content=raw_request, headers=headers, timeout=timeout or api.timeout
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnknown(f"{api.value}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise UpstreamUnknown(f"{api.value}: HTTP {response.status_code}")
        raw = response.content
        try:
            obj = decode_object(raw)
            result = Result.from_json(obj.get("result"))
        except MessageError as exc:
            raise UpstreamUnknown(f"{api.value}: {exc}") from None
        has_signature = any(
            name in response.headers for name in ("signature", "response-time", "client-id")
        )
        # Unsigned answers are trusted only as F or U (alipayplus.md §2.5).
        if (has_signature or result.status == "S") and not verify_message(
            uri=api.path,
            headers=dict(response.headers),
            body=raw,
            public_key=settings.alipay_public_key,
            time_header="Response-Time",
        ):
            raise UpstreamUnknown(f"{api.value}: response signature not valid")
        return Reply(api, result, obj, raw)

    async def pay(self, order: PayOrder, *, timeout: float | None = None) -> Reply:
        return await self.call(Api.PAY, build_pay_body(order), timeout=timeout)

    async def inquiry_payment(self, payment_request_id: str) -> Reply:
        return await self.call(Api.INQUIRY_PAYMENT, build_inquiry_body(payment_request_id))

    async def cancel_payment(self, payment_request_id: str) -> Reply:
        return await self.call(Api.CANCEL_PAYMENT, build_cancel_body(payment_request_id))

    async def refund(
        self, payment_request_id: str, refund_request_id: str, amount: Amount, reason: str | None
    ) -> Reply:
        body = build_refund_body(payment_request_id, refund_request_id, amount, reason)
        return await self.call(Api.REFUND, body)
