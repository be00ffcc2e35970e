"""Who is who in a benchmark run: the shop's keys, both RSA key pairs and where each server is.

Written once to a JSON file that every process of the run reads, so the adapter, the floor,
the fake Alipay+ and the load generator's request bodies all use the same keys.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapter.alipayplus.signing import generate_private_key, load_private_key, private_key_pem
from adapter.paygate.blowfish import BlowfishCipher

CLIENT_ID = "BENCH_CLIENT"
KEY_VERSION = "1"
NOTIFY_PATH = "/alipayplus/notify"
# Every payment of the run is this large: a credit takes 1 cent, a reversal all of it.
AMOUNT = 100_000
CURRENCY = "EUR"


@dataclass(frozen=True)
class World:
    merchant_id: str
    hmac_key: str
    blowfish_key: str
    acqp_private_pem: str  # ours: the adapter and the floor sign with it
    alipay_private_pem: str  # the fake Alipay+ signs answers and notifies with it
    upstream_url: str
    shop_url: str

    @classmethod
    def create(cls, upstream_url: str, shop_url: str) -> World:
        return cls(
            merchant_id="BenchShop",
            hmac_key=secrets.token_hex(16),
            blowfish_key=secrets.token_hex(8),
            acqp_private_pem=private_key_pem(generate_private_key()),
            alipay_private_pem=private_key_pem(generate_private_key()),
            upstream_url=upstream_url,
            shop_url=shop_url,
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> World:
        return cls(**json.loads(path.read_text()))

    @cached_property
    def cipher(self) -> BlowfishCipher:
        """The shop's Blowfish key, scheduled once (this process builds many requests)."""
        return BlowfishCipher(self.blowfish_key.encode())

    @cached_property
    def acqp_key(self) -> RSAPrivateKey:
        return load_private_key(self.acqp_private_pem)

    @cached_property
    def alipay_key(self) -> RSAPrivateKey:
        return load_private_key(self.alipay_private_pem)

    @property
    def acqp_public_key(self) -> RSAPublicKey:
        return self.acqp_key.public_key()

    @property
    def alipay_public_key(self) -> RSAPublicKey:
        return self.alipay_key.public_key()

    @property
    def checkout_base(self) -> str:
        """Where the fake Alipay+ sends shoppers: every 303 must point here."""
        return f"{self.upstream_url}/checkout/"

    @property
    def shop_notify_url(self) -> str:
        return f"{self.shop_url}/notify"
