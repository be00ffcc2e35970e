"""An httpx handler playing the Alipay+ gateway: checks our signature, answers as scripted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.alipayplus import independent

CLIENT_ID = "SANDBOX_5YC47N2ZQHJ004124"
GATEWAY = "https://open-sea-global.alipayplus.com"
RESPONSE_TIME = "2025-02-20T08:51:50+00:00"


def result_body(status: str, code: str, **extra: Any) -> bytes:
    result = {"resultCode": code, "resultStatus": status, "resultMessage": code.lower()}
    return json.dumps({"result": result, **extra}).encode()


@dataclass
class Answer:
    """What the fake sends back; the defaults are a correctly signed 200."""

    body: bytes = field(default_factory=lambda: result_body("S", "SUCCESS"))
    status_code: int = 200
    signed: bool = True
    # Header names as emitted; the SDKs insist on lowercase, HTTP says any case.
    names: tuple[str, str, str] = ("client-id", "response-time", "signature")
    omit: frozenset[str] = frozenset()  # lowercase names of signing headers to leave out
    client_id: str = CLIENT_ID
    signer: rsa.RSAPrivateKey | None = None  # None: the fake's own (trusted) Alipay+ key
    lowercase_escapes: bool = False
    signed_body: bytes | None = None  # sign these bytes instead of ``body`` (tampering)
    extra_headers: tuple[tuple[str, str], ...] = ()


class FakeAlipayPlus:
    def __init__(self, *, acqp_public_key: rsa.RSAPublicKey, alipay_key: rsa.RSAPrivateKey):
        self._acqp_public_key = acqp_public_key
        self._alipay_key = alipay_key
        self.answer: Answer | Exception = Answer()
        self.requests: list[httpx.Request] = []
        self.request_signature_ok: list[bool] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.request_signature_ok.append(self._request_signature_ok(request))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self._respond(self.answer)

    def _request_signature_ok(self, request: httpx.Request) -> bool:
        data = independent.content(
            request.method,
            request.url.path,
            request.headers.get("client-id", ""),
            request.headers.get("request-time", ""),
            request.content,
        )
        return independent.verify(self._acqp_public_key, data, request.headers.get("signature", ""))

    def _respond(self, answer: Answer) -> httpx.Response:
        headers: list[tuple[str, str]] = [("content-type", "application/json")]
        headers.extend(answer.extra_headers)
        if answer.signed:
            request = self.requests[-1]
            signed_body = answer.body if answer.signed_body is None else answer.signed_body
            data = independent.content(
                "POST", request.url.path, answer.client_id, RESPONSE_TIME, signed_body
            )
            signature = independent.sign(
                answer.signer or self._alipay_key, data, lowercase_escapes=answer.lowercase_escapes
            )
            values = (answer.client_id, RESPONSE_TIME, independent.signature_header(signature))
            for name, value in zip(answer.names, values, strict=True):
                if name.lower() not in answer.omit:
                    headers.append((name, value))
        return httpx.Response(answer.status_code, headers=headers, content=answer.body)
