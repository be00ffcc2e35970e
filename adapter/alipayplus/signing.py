"""Alipay+ message signatures (RSA256 = RSASSA-PKCS1-v1_5 with SHA-256).

Content signed in both directions::

    POST <request-uri>\\n<client-id>.<request-or-response-time>.<raw body>

The body is always the exact bytes sent or received: re-serialised JSON does not verify.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "RSA256"


class SignatureHeaderError(ValueError):
    """The Signature header is missing a part or names another algorithm."""


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    algorithm: str
    key_version: str
    signature: str  # still url-encoded, as carried in the header


def signing_content(method: str, uri: str, client_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{method} {uri}\n{client_id}.{timestamp}.".encode() + body


def sign(content: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """Return the url-encoded base64 signature (upper-case escapes, fully encoded)."""
    raw = private_key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return quote(base64.b64encode(raw).decode("ascii"), safe="")


def verify(content: bytes, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    """Check a url-encoded base64 signature; escapes of any case, and a raw base64 value, pass."""
    try:
        raw = base64.b64decode(unquote(signature), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def format_signature_header(signature: str, key_version: str) -> str:
    return f"algorithm={ALGORITHM},keyVersion={key_version},signature={signature}"


def parse_signature_header(value: str) -> SignatureHeader:
    """Parse ``algorithm=RSA256, keyVersion=1, signature=…`` tolerantly (spaces, any order)."""
    parts: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key.strip().lower()] = val.strip()
    signature = parts.get("signature", "")
    algorithm = parts.get("algorithm", "")
    if not signature:
        raise SignatureHeaderError("signature part missing")
    if algorithm.upper() != ALGORITHM:
        raise SignatureHeaderError(f"unsupported algorithm {algorithm!r}")
    return SignatureHeader(algorithm, parts.get("keyversion", "1"), signature)


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM (PKCS#1 or PKCS#8) or bare base64 DER."""
    data = text.strip().encode("ascii")
    if data.startswith(b"-----"):
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(base64.b64decode(data), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """Load an RSA public key from PEM or bare base64 SubjectPublicKeyInfo."""
    data = text.strip().encode("ascii")
    if data.startswith(b"-----"):
        key = serialization.load_pem_public_key(data)
    else:
        key = serialization.load_der_public_key(base64.b64decode(data))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def timestamp(now: datetime) -> str:
    """``2025-02-20T08:51:49+00:00``: second precision, explicit offset."""
    return now.astimezone(UTC).replace(microsecond=0).isoformat()


def signed_headers(
    *,
    uri: str,
    client_id: str,
    body: bytes,
    private_key: rsa.RSAPrivateKey,
    key_version: str,
    now: datetime,
    time_header: str,
) -> dict[str, str]:
    """Headers for a signed message; ``time_header`` is Request-Time or Response-Time."""
    stamp = timestamp(now)
    signature = sign(signing_content("POST", uri, client_id, stamp, body), private_key)
    return message_headers(client_id, time_header, stamp, signature, key_version)


def message_headers(
    client_id: str, time_header: str, stamp: str, signature: str, key_version: str
) -> dict[str, str]:
    """The headers carrying a message's signature, given it."""
    return {
        "client-id": client_id,
        time_header.lower(): stamp,
        "signature": format_signature_header(signature, key_version),
        "content-type": "application/json; charset=UTF-8",
    }


def verify_message(
    *,
    uri: str,
    headers: Mapping[str, str],
    body: bytes,
    public_key: rsa.RSAPublicKey,
    time_header: str,
) -> bool:
    """Verify a signed message whose headers are looked up case-insensitively."""
    lowered = {k.lower(): v for k, v in headers.items()}
    client_id = lowered.get("client-id")
    stamp = lowered.get(time_header.lower())
    header = lowered.get("signature")
    if not client_id or not stamp or not header:
        return False
    try:
        parsed = parse_signature_header(header)
    except SignatureHeaderError:
        return False
    content = signing_content("POST", uri, client_id, stamp, body)
    return verify(content, parsed.signature, public_key)
