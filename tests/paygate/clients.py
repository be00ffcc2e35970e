"""What real shop clients put on the wire, re-done independently of the adapter's code.

Padding styles (docs/paygate.md#decoding-a-request): zero (bnl, Spryker, fatchip-m2, woo),
PKCS#7 (pretix, celements), zero plus a PKCS#7 block (fatchip-lib), and space (the Computop
sample's responses).
"""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
from cryptography.hazmat.primitives.ciphers import Cipher, modes

Padding = Literal["zero", "pkcs7", "zero+pkcs7", "space"]
PADDINGS: tuple[Padding, ...] = ("zero", "pkcs7", "zero+pkcs7", "space")


def pad(raw: bytes, padding: Padding) -> bytes:
    if padding == "zero":
        return raw + b"\x00" * (-len(raw) % 8)
    if padding == "space":
        return raw + b" " * (-len(raw) % 8)
    if padding == "pkcs7":
        count = 8 - len(raw) % 8
        return raw + bytes([count]) * count
    zero_padded = raw + b"\x00" * (-len(raw) % 8)
    return zero_padded + b"\x08" * 8


def client_encrypt(key: bytes, raw: bytes, padding: Padding, *, upper: bool = True) -> str:
    """Data as a client sends it: Blowfish-ECB of the padded bytes, hex."""
    encryptor = Cipher(Blowfish(key), modes.ECB()).encryptor()  # noqa: S305
    data = (encryptor.update(pad(raw, padding)) + encryptor.finalize()).hex()
    return data.upper() if upper else data


def library_decrypt(key: bytes, data_hex: str) -> bytes:
    """The raw decrypted bytes, padding included."""
    decryptor = Cipher(Blowfish(key), modes.ECB()).decryptor()  # noqa: S305
    return decryptor.update(bytes.fromhex(data_hex)) + decryptor.finalize()
