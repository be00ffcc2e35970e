"""A second, independent RSA256 signer/verifier written straight from docs/alipayplus.md#signing.

The fake gateway and the notify tests use it instead of adapter.alipayplus.signing, so a
mistake in the adapter's signing cannot be mirrored by the test side and go unnoticed.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def content(method: str, uri: str, client_id: str, stamp: str, body: bytes) -> bytes:
    return f"{method} {uri}\n{client_id}.{stamp}.".encode() + body


def sign(key: rsa.RSAPrivateKey, data: bytes, *, lowercase_escapes: bool = False) -> str:
    raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    encoded = quote(base64.b64encode(raw).decode("ascii"), safe="")
    if lowercase_escapes:
        # As in the docs' notification sample (%2b, %2f, %3d).
        encoded = encoded.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")
    return encoded


def verify(key: rsa.RSAPublicKey, data: bytes, header: str) -> bool:
    """Check a whole ``algorithm=RSA256,keyVersion=…,signature=…`` header value."""
    parts = dict(item.strip().split("=", 1) for item in header.split(","))
    if parts.get("algorithm") != "RSA256":
        return False
    try:
        key.verify(
            base64.b64decode(unquote(parts["signature"])), data, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, KeyError):
        return False
    return True


def signature_header(signature: str, key_version: str = "1") -> str:
    return f"algorithm=RSA256,keyVersion={key_version},signature={signature}"
