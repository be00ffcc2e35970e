"""Request authentication and response signing at the sandbox's Alipay+ API boundary.

The rules are in docs/alipayplus.md#signing and docs/alipayplus.md#transport-and-authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from adapter.alipayplus.signing import (
    SignatureHeaderError,
    generate_private_key,
    parse_signature_header,
    signed_headers,
    signing_content,
    verify,
)
from adapter.sandbox.codes import ApiError
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.sandbox.validation import parse_time


@cache
def wrong_key() -> RSAPrivateKey:
    """A key nobody trusts, for signatures that must fail verification."""
    return generate_private_key()


def authenticate(
    config: SandboxConfig, path: str, headers: Mapping[str, str], body: bytes
) -> SandboxClient:
    """The calling client, once its signature over the raw body bytes verifies."""
    client_id = headers.get("client-id", "")
    client = config.clients.get(client_id)
    if client is None:
        raise ApiError("INVALID_CLIENT", f"unknown Client-Id {client_id!r}")
    header = headers.get("signature")
    if not header:
        raise ApiError("INVALID_SIGNATURE", "the Signature header is missing")
    try:
        parsed = parse_signature_header(header)
    except SignatureHeaderError as exc:
        raise ApiError("INVALID_SIGNATURE", str(exc)) from None
    public_key = client.acqp_public_keys.get(parsed.key_version)
    if public_key is None:
        raise ApiError("KEY_NOT_FOUND", f"no key with keyVersion {parsed.key_version!r}")
    stamp = headers.get("request-time", "")
    if parse_time(stamp) is None:
        raise ApiError("INVALID_SIGNATURE", "Request-Time is missing or not ISO-8601")
    content = signing_content("POST", path, client_id, stamp, body)
    if not verify(content, parsed.signature, public_key):
        raise ApiError("INVALID_SIGNATURE", "the signature does not verify")
    return client


def response_headers(
    config: SandboxConfig,
    path: str,
    client_id: str,
    body: bytes,
    now: datetime,
    *,
    key: RSAPrivateKey | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, str]:
    """Lowercase client-id, response-time, signature: the official SDKs look them up so."""
    headers = signed_headers(
        uri=path,
        client_id=client_id,
        body=body,
        private_key=key or config.private_key,
        key_version=config.key_version,
        now=now,
        time_header="Response-Time",
    )
    return {name: value for name, value in headers.items() if name not in drop}
