"""notifyPayment sender: signed POSTs to the ACQP, resent until it acks.

See docs/alipayplus.md#notification-sender.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from adapter.alipayplus.signing import (
    SignatureHeaderError,
    parse_signature_header,
    signed_headers,
    verify_message,
)
from adapter.sandbox.clock import SimClock, china_timestamp
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.sandbox.engine import payment_result
from adapter.sandbox.security import wrong_key
from adapter.sandbox.store import Payment


class NotifyMode(StrEnum):
    NORMAL = "normal"
    WITHHOLD = "withhold"  # scheduled deliveries send nothing; /_sim/.../send still does
    DUPLICATE = "duplicate"  # every scheduled delivery goes out twice, concurrently
    BAD_SIGNATURE = "bad_signature"  # signed with a key the ACQP does not know


@dataclass(frozen=True)
class NotifyPolicy:
    mode: NotifyMode = NotifyMode.NORMAL
    delay_seconds: float = 0.0  # real seconds before the first send, on top of the schedule


def parse_policy(data: Any) -> NotifyPolicy:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    try:
        mode = NotifyMode(data.get("mode", ""))
    except ValueError:
        raise ValueError(f"mode must be one of {[m.value for m in NotifyMode]}") from None
    delay = data.get("delay_seconds", 0.0)
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise ValueError("delay_seconds must be a non-negative number")
    return NotifyPolicy(mode, float(delay))


@dataclass(frozen=True)
class Attempt:
    payment_request_id: str
    client_id: str
    url: str | None
    time: datetime
    status_code: int | None
    acked: bool
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"time": self.time.isoformat()}


def notification_body(payment: Payment, acquirer_id: str) -> bytes:
    body: dict[str, Any] = {
        "paymentResult": payment_result(payment),
        "paymentRequestId": payment.payment_request_id,
        "paymentId": payment.payment_id,
        "acquirerId": acquirer_id,
        "paymentAmount": payment.amount.to_json(),
    }
    if payment.payment_time is not None:
        body |= {
            "pspId": payment.psp_id,
            "customerId": payment.customer_id,
            "paymentTime": china_timestamp(payment.payment_time),
            "walletBrandName": payment.wallet_brand_name,
        }
    return json.dumps(body).encode()


class Notifier:
    """Owns the HTTP client and the pending deliveries; use as ``async with`` in the lifespan."""

    def __init__(
        self,
        config: SandboxConfig,
        clock: SimClock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.policy = NotifyPolicy()
        self.attempts: list[Attempt] = []

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(transport=self._transport)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel_pending()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def schedule(self, payment: Payment) -> None:
        """Start delivering the final state of ``payment``; the engine calls this."""
        acquirer_id = self._config.clients[payment.client_id].acquirer_id
        payment.notification = notification_body(payment, acquirer_id)
        task = asyncio.get_running_loop().create_task(self._deliver(payment))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_pending(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        await self.cancel_pending()
        self.policy = NotifyPolicy()
        self.attempts.clear()

    async def _deliver(self, payment: Payment) -> None:
        # The policy is read at every round so a test can switch it while resends are due.
        await asyncio.sleep(self.policy.delay_seconds)
        for wait in self._config.notify_schedule:
            await asyncio.sleep(wait * self._config.time_scale)
            policy = self.policy
            if policy.mode is NotifyMode.WITHHOLD:
                continue
            copies = 2 if policy.mode is NotifyMode.DUPLICATE else 1
            bad = policy.mode is NotifyMode.BAD_SIGNATURE
            sent = await asyncio.gather(
                *(self.send(payment, bad_signature=bad) for _ in range(copies))
            )
            if any(attempt.acked for attempt in sent):
                return

    async def send(self, payment: Payment, *, bad_signature: bool = False) -> Attempt:
        """One delivery attempt of the stored notification, recorded whatever happens."""
        if payment.notification is None:
            raise ValueError("the payment has no final state to notify")
        client = self._config.clients[payment.client_id]
        now = self._clock.now()
        status_code: int | None = None
        if payment.notify_url is None:
            error: str | None = "no paymentNotifyUrl and no default notify URL"
        else:
            try:
                status_code, error = await self._post(
                    client, payment.notify_url, payment.notification, bad_signature
                )
            except (httpx.HTTPError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        attempt = Attempt(
            payment_request_id=payment.payment_request_id,
            client_id=payment.client_id,
            url=payment.notify_url,
            time=now,
            status_code=status_code,
            acked=error is None,
            error=error,
        )
        self.attempts.append(attempt)
        return attempt

    async def _post(
        self, client: SandboxClient, url: str, body: bytes, bad_signature: bool
    ) -> tuple[int, str | None]:
        if self._http is None:
            raise RuntimeError("the notifier is not started (app lifespan not running)")
        path = urlsplit(url).path or "/"
        headers = signed_headers(
            uri=path,
            client_id=client.client_id,
            body=body,
            private_key=wrong_key() if bad_signature else self._config.private_key,
            key_version=self._config.key_version,
            now=self._clock.now(),
            time_header="Request-Time",
        )
        headers["content-type"] = "application/json"
        # One deadline for the whole exchange: httpx's own timeout is per read, not total.
        async with asyncio.timeout(self._config.notify_timeout):
            response = await self._http.post(url, content=body, headers=headers)
        return response.status_code, self._ack_error(client, path, response)

    def _ack_error(self, client: SandboxClient, path: str, response: httpx.Response) -> str | None:
        """Why a response is not an acknowledgement, or None if it is one."""
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        if self._config.strict_ack:
            try:
                parsed = parse_signature_header(response.headers.get("signature", ""))
            except SignatureHeaderError as exc:
                return f"ack signature header: {exc}"
            public_key = client.acqp_public_keys.get(parsed.key_version)
            if public_key is None:
                return f"no ACQP key with keyVersion {parsed.key_version!r}"
            if response.headers.get("client-id") != client.client_id:
                return "ack client-id is not the ACQP's client id"
            if not verify_message(
                uri=path,
                headers=response.headers,
                body=response.content,
                public_key=public_key,
                time_header="Response-Time",
            ):
                return "ack signature does not verify"
        try:
            status = response.json()["result"]["resultStatus"]
        except (ValueError, KeyError, TypeError):
            return "ack body has no result.resultStatus"
        return None if status == "S" else f"ack resultStatus {status!r}"
