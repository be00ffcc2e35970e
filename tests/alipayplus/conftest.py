"""Key pairs for both sides: ours (the ACQP) and one playing Alipay+."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def acqp_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="session")
def alipay_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="session")
def stranger_key() -> rsa.RSAPrivateKey:
    """A third key nobody trusts, for signatures that must not verify."""
    return _new_key()
