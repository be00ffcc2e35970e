"""notifyPayment: checking Alipay+'s signature and signing our ack.

See docs/alipayplus.md#notify-signatures.

Both directions sign over the path the notification was posted to, never a full URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapter.alipayplus.models import ACK_BODY
from adapter.alipayplus.signing import (
    message_headers,
    sign,
    signed_headers,
    signing_content,
    timestamp,
    verify_message,
)


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


class AnswerSigner:
    """Signs our answers to notifyPayment, keeping the last signature for the next answer.

    An RSA-2048 signature costs about 0.9 ms of CPU, most of what a notify costs. What is
    signed is the path, our client id, the Response-Time to the second and the body, and
    RSASSA-PKCS1-v1_5 is deterministic: two acks on the same path in the same second are the
    same bytes to sign and get the same signature, so a burst of notifies signs once a second
    (docs/performance.md#known-traps).
    """

    def __init__(self, *, client_id: str, private_key: RSAPrivateKey, key_version: str) -> None:
        self._client_id = client_id
        self._private_key = private_key
        self._key_version = key_version
        self._signed = b""
        self._signature = ""

    def headers(self, *, uri: str, body: bytes, now: datetime) -> dict[str, str]:
        stamp = timestamp(now)
        content = signing_content("POST", uri, self._client_id, stamp, body)
        if content != self._signed:
            self._signature = sign(content, self._private_key)
            self._signed = content
        return message_headers(
            self._client_id, "Response-Time", stamp, self._signature, self._key_version
        )
