"""The Blowfish-ECB ``Data``/``Len`` layer (docs/paygate.md#blowfish).

Requests are decoded tolerantly because every client pads differently (zeros, PKCS#7, zeros plus
a PKCS#7 block) and some count Len in bytes; responses are produced in the one form every client
can parse: space padding and UPPER-case hex.
"""

from __future__ import annotations

import re

from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.numbers import ascii_number

BLOCK = 8
MIN_KEY_BYTES = 4
MAX_KEY_BYTES = 56  # the library limit; the PHP reference would take up to 72
_HEX = re.compile(r"[0-9A-Fa-f]*")
_DIGITS = re.compile(r"[0-9]+")
# Padding bytes of zero, PKCS#7 and zero+PKCS#7 clients.
_PAD_CHARS = "".join(chr(byte) for byte in range(0x09))
# What may follow the first Len characters in a correct request: padding only.
_TAIL_CHARS = _PAD_CHARS + " "


def _schedule_key(key: bytes) -> bytes:
    """The key as the library accepts it, with the same key schedule as the PHP reference.

    The schedule cycles the key bytes over 72 bytes, so whole repetitions of a short key change
    nothing; the PHP reference turns an empty password into a single space.
    """
    if not key:
        key = b" "
    if len(key) < MIN_KEY_BYTES:
        key = key * -(-MIN_KEY_BYTES // len(key))
    if len(key) > MAX_KEY_BYTES:
        raise ValueError(
            f"Blowfish keys of {len(key)} bytes are not supported: the cryptography library takes "
            f"at most {MAX_KEY_BYTES} bytes (real Paygate passwords have 16)"
        )
    return key


class BlowfishCipher:
    """One merchant's Blowfish password, with the key schedule computed once.

    ECB keeps no state from one block to the next, so one encryption and one decryption
    context serve every message (``update`` only, never ``finalize``): creating a context costs
    about 50 µs, more than encrypting a whole answer. Like those contexts, an instance belongs
    to one thread (the event loop's).
    """

    __slots__ = ("_decryptor", "_encryptor")

    def __init__(self, key: bytes) -> None:
        # ECB is what Paygate speaks (docs/paygate.md#blowfish); confidentiality rests on it,
        # integrity on the MAC.
        cipher = Cipher(Blowfish(_schedule_key(key)), modes.ECB())  # noqa: S305
        self._encryptor = cipher.encryptor()
        self._decryptor = cipher.decryptor()

    def encrypt(self, plaintext: str) -> tuple[int, str]:
        """``(Len, Data)``: Len in characters, UTF-8 space-padded to whole blocks, UPPER hex.

        Spaces, not PKCS#7 or zeros, because pretix strips spaces but not NULs and woo strips
        NULs but keeps PKCS#7 bytes; with MAC last the spaces harm no client
        (docs/paygate.md#encrypting-a-result).
        """
        raw = plaintext.encode("utf-8")
        raw += b" " * (-len(raw) % BLOCK)
        data = self._encryptor.update(raw)
        return len(plaintext), data.hex().upper()

    def decrypt(self, data_hex: str, length: str) -> str:
        """The plaintext of a request's Data, whatever padding and hex case the client used.

        Only the first Len characters are kept, then trailing ``\\x00``-``\\x08`` are removed,
        which covers zero, PKCS#7 and zero+PKCS#7 padding and clients that count Len in bytes.
        Whatever follows the kept text must be padding: anything else means a wrong Len or a
        wrong key, and is refused here rather than producing a silently truncated request.
        """
        data_hex = data_hex.strip()
        if not data_hex:
            raise PaygateError(Category.CRYPTO, "Data", "Data is empty")
        if len(data_hex) % 2 or not _HEX.fullmatch(data_hex):
            raise PaygateError(Category.CRYPTO, "Data", "Data is not hexadecimal")
        data = bytes.fromhex(data_hex)
        if len(data) % BLOCK:
            raise PaygateError(
                Category.CRYPTO, "Data", "Data is not a whole number of 8-byte Blowfish blocks"
            )
        length = length.strip()
        if not length:
            raise PaygateError(Category.MISSING, "Len", "Len is missing")
        if not _DIGITS.fullmatch(length):
            raise PaygateError(Category.FORMAT, "Len", "Len must be a decimal number")
        count = ascii_number(length, max_digits=len(str(len(data))))
        if count is None or count > len(data):
            raise PaygateError(Category.INVALID, "Len", "Len is larger than the decrypted Data")
        raw = self._decryptor.update(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Old PHP shops send ISO-8859-1; Latin-1 decodes any byte, so garbage cannot raise.
            text = raw.decode("latin-1")
        if text[count:].strip(_TAIL_CHARS):
            raise PaygateError(
                Category.CRYPTO,
                "Data",
                "Data does not decrypt to Len characters followed by padding "
                "(wrong Blowfish password or wrong Len)",
            )
        return text[:count].rstrip(_PAD_CHARS)
