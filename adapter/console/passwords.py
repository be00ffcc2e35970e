"""Operators' passwords: argon2id hashes (argon2-cffi, with its recommended parameters).

Checking takes a deliberate quarter of a second of CPU, so it runs in a thread; a name nobody
has is checked against a hash all the same, so the answer's timing does not tell which names
exist.
"""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from adapter.config import Operator

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@functools.cache
def _nobody() -> str:
    return _HASHER.hash(secrets.token_hex(16))


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(operator: Operator | None, password: str) -> bool:
    """Whether ``password`` is the operator's; always False for no operator, in as much time."""
    password_hash = operator.password_hash if operator is not None else _nobody()
    matched = await asyncio.to_thread(_matches, password_hash, password)
    return matched and operator is not None
