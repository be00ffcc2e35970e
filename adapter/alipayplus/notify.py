"""notifyPayment: checking Alipay+'s signature and signing our ack.

See docs/alipayplus.md#notify-signatures.

Both directions sign over the path the notification was posted to, never a full URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapter.alipayplus.models import ACK_BODY
from adapter.alipayplus.signing import signed_headers, verify_message


def verify_notification(
    *, uri: str, headers: Mapping[str, str], body: bytes, alipay_public_key: RSAPublicKey
) -> bool:
    """Over the raw body as received; header names in any case."""
    return verify_message(
        uri=uri,
        headers=headers,
        body=body,
        public_key=alipay_public_key,
        time_header="Request-Time",
    )


def ack_response_headers(
    *,
    uri: str,
    client_id: str,
    private_key: RSAPrivateKey,
    key_version: str,
    now: datetime,
) -> dict[str, str]:
    """Headers for answering with :data:`ACK_BODY`; Alipay+ wants the ack signed, unlike Antom."""
    return signed_headers(
        uri=uri,
        client_id=client_id,
        body=ACK_BODY,
        private_key=private_key,
        key_version=key_version,
        now=now,
        time_header="Response-Time",
    )
