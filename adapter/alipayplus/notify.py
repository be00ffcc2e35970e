"""Checking an inbound notifyPayment's signature (the ack is signed by the caller)."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from adapter.alipayplus.signing import verify_message


def verify_notification(
    *, uri: str, headers: Mapping[str, str], body: bytes, alipay_public_key: RSAPublicKey
) -> bool:
    """Over the raw body and the path the notify was posted to (alipayplus.md §2.6)."""
    return verify_message(
        uri=uri,
        headers=headers,
        body=body,
        public_key=alipay_public_key,
        time_header="Request-Time",
    )
