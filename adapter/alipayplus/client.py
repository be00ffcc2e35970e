"""The Alipay+ HTTP client: signs exactly the bytes it sends, verifies the raw answer.

It never retries: the caller decides, re-sending with the same request ids (Alipay+ is
idempotent on them). Nothing here logs keys, signatures or bodies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from adapter.errors import UpstreamUnknown
from adapter.net.pooled import PooledTransport

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClientSettings:
    gateway_url: str  # scheme + host; the signed URI is always the bare API path
    client_id: str
    private_key: RSAPrivateKey = field(repr=False)
    alipay_public_key: RSAPublicKey = field(repr=False)
    key_version: str = "1"
    # As many as the requests a worker serves at once: fewer, and requests queue here for a
    # connection (docs/performance.md#known-traps).
    max_connections: int = 32
    timeout_cap: float | None = None  # operators may shorten every call's timeout


@dataclass(frozen=True)
class CallReport:
    """What one call did, for the caller's journal and metrics: ids, result or error, time."""

    api: Api
    payment_request_id: str
    request_id: str  # the id this call is idempotent on (refundRequestId for a refund)
    result: Result | None  # None: no trustworthy answer, see ``error``
    error: str | None
    seconds: float


def _unknown(api: Api, exc: Exception, seconds: float) -> UpstreamUnknown:
    if isinstance(exc, UpstreamUnknown):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamUnknown(f"{api.value}: no answer within {seconds:g} s")
    return UpstreamUnknown(f"{api.value}: {type(exc).__name__}")


class AlipayPlusClient:
    """One shared connection pool per process: the httpx client costs more than the RSA sign."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
        observer: Callable[[CallReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._observer = observer
        gateway = httpx.URL(settings.gateway_url.rstrip("/"))
        # Parsed once: building a URL per call cost more than the rest of the request object.
        self._urls = {
            api: gateway.copy_with(path=gateway.path.rstrip("/") + api.path) for api in Api
        }
        # The transport is called directly: httpx's client layer (default headers, cookies,
        # auth and redirect flows) did nothing for these calls and cost 0.2 ms each. So no
        # redirect is ever followed (it would re-POST unsigned content) and no proxy or CA
        # bundle from the environment can reroute a payment.
        self._transport = transport or PooledTransport(max_connections=settings.max_connections)

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
        await self._transport.aclose()

    async def call(
        self, api: Api, body: Mapping[str, Any], *, timeout: float | None = None
    ) -> Reply:
        """POST one signed request; raise :class:`UpstreamUnknown` unless the answer is sure."""
        seconds = api.timeout if timeout is None else timeout
        if self.settings.timeout_cap is not None:
            seconds = min(seconds, self.settings.timeout_cap)
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
        started = time.monotonic()
        try:
            # httpx applies the timeout per phase (connect, write, read, pool); the outer
            # deadline keeps the whole exchange inside the caller's budget.
            async with asyncio.timeout(seconds):
                response = await self._post(api, raw_request, headers, seconds)
            reply = self._read(api, response)
        except (TimeoutError, httpx.HTTPError, UpstreamUnknown) as exc:
            unknown = _unknown(api, exc, seconds)
            self._report(api, body, started, error=unknown.reason)
            raise unknown from None
        self._report(api, body, started, result=reply.result)
        log.debug("alipayplus %s: %s %s", api.value, reply.result.status, reply.result.code)
        return reply

    async def _post(
        self, api: Api, content: bytes, headers: dict[str, str], seconds: float
    ) -> httpx.Response:
        request = httpx.Request(
            "POST",
            self._urls[api],
            content=content,
            headers=headers,
            extensions={"timeout": httpx.Timeout(seconds).as_dict()},
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    def _report(
        self,
        api: Api,
        body: Mapping[str, Any],
        started: float,
        *,
        result: Result | None = None,
        error: str | None = None,
    ) -> None:
        if self._observer is not None:
            self._observer(
                CallReport(
                    api=api,
                    payment_request_id=str(body.get("paymentRequestId", "")),
                    request_id=str(body.get("refundRequestId") or body.get("paymentRequestId")),
                    result=result,
                    error=error,
                    seconds=time.monotonic() - started,
                )
            )

    def _read(self, api: Api, response: httpx.Response) -> Reply:
        # Alipay+ reports business errors as HTTP 200 + result; anything else says nothing.
        if response.status_code != 200:
            raise UpstreamUnknown(f"{api.value}: HTTP {response.status_code}")
        raw = response.content
        try:
            obj = decode_object(raw)
            result = Result.from_json(obj.get("result"))
        except MessageError as exc:
            raise UpstreamUnknown(f"{api.value}: {exc}") from None
        headers = response.headers  # case-insensitive lookups
        signed = "signature" in headers or "response-time" in headers
        if not signed:
            # The gateway answers some errors (e.g. a bad request signature) unsigned; those can
            # only be F or U. An unsigned S could be forged into "paid", so it proves nothing.
            if result.status == "S":
                raise UpstreamUnknown(f"{api.value}: unsigned S answer")
            return Reply(api, result, obj, raw)
        if headers.get("client-id") != self.settings.client_id:
            raise UpstreamUnknown(f"{api.value}: answer for another client-id")
        if not verify_message(
            uri=api.path,
            headers=dict(headers.items()),
            body=raw,
            public_key=self.settings.alipay_public_key,
            time_header="Response-Time",
        ):
            raise UpstreamUnknown(f"{api.value}: answer signature missing or invalid")
        return Reply(api, result, obj, raw)

    async def pay(self, order: PayOrder, *, timeout: float | None = None) -> Reply:
        return await self.call(Api.PAY, build_pay_body(order), timeout=timeout)

    async def inquiry_payment(
        self, payment_request_id: str, *, timeout: float | None = None
    ) -> Reply:
        body = build_inquiry_body(payment_request_id)
        return await self.call(Api.INQUIRY_PAYMENT, body, timeout=timeout)

    async def cancel_payment(
        self, payment_request_id: str, *, timeout: float | None = None
    ) -> Reply:
        body = build_cancel_body(payment_request_id)
        return await self.call(Api.CANCEL_PAYMENT, body, timeout=timeout)

    async def refund(
        self,
        payment_request_id: str,
        refund_request_id: str,
        amount: Amount,
        reason: str | None = None,
        *,
        timeout: float | None = None,
    ) -> Reply:
        body = build_refund_body(payment_request_id, refund_request_id, amount, reason)
        return await self.call(Api.REFUND, body, timeout=timeout)
