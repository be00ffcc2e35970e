"""Blowfish-ECB ``Data``/``Len``: strict when we encrypt, tolerant when shops do (§4.3, §4.5)."""

from __future__ import annotations

import binascii

from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from adapter.paygate.errors import Category, PaygateError

BLOCK = 8
_CLIENT_PADDING = bytes(range(0, 9))  # zero, PKCS#7 and zero+PKCS#7 padding bytes


def _library_key(key: bytes) -> bytes:
    """The PHP reference cycles the key to 72 bytes; repeating a short key is the same."""
    if not key:
        key = b" "
    if len(key) > 56:
        raise ValueError("Blowfish keys longer than 56 bytes are not supported")
    while len(key) < 4:
        key += key
    return key


class BlowfishCipher:
    """One per merchant key: building the key schedule costs more than a request's decrypt."""

    def __init__(self, key: bytes) -> None:
        self._cipher = Cipher(Blowfish(_library_key(key)), modes.ECB())  # noqa: S305 - Paygate's wire format

    def __repr__(self) -> str:
        return "BlowfishCipher(<key>)"

    def encrypt(self, plaintext: str) -> tuple[int, str]:
        """(Len in characters, UPPER hex) with space padding, as every client can read it."""
        data = plaintext.encode("utf-8")
        data += b" " * (-len(data) % BLOCK)
        encryptor = self._cipher.encryptor()
        return len(plaintext), (encryptor.update(data) + encryptor.finalize()).hex().upper()

    def decrypt(self, data_hex: str, length: str) -> str:
        if not length:
            raise PaygateError(Category.MISSING, "Len", "Len is missing")
        if not length.isdigit() or not length.isascii() or len(length) > 7:
            raise PaygateError(Category.FORMAT, "Len", "Len must be a whole number")
        try:
            data = binascii.unhexlify(data_hex.strip())
        except (binascii.Error, ValueError):
            raise PaygateError(Category.CRYPTO, "Data", "Data is not hexadecimal") from None
        if not data or len(data) % BLOCK:
            raise PaygateError(
                Category.CRYPTO, "Data", "Data is not a whole number of 8-byte blocks"
            )
        wanted = int(length)
        if wanted > len(data):
            raise PaygateError(Category.INVALID, "Len", "Len is larger than the decrypted Data")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            # Old PHP shops send ISO-8859-1; Latin-1 decodes any byte string.
            text = plain.decode("latin-1")
        return text[:wanted].rstrip(_CLIENT_PADDING.decode("latin-1"))
