"""A valid adapter configuration file for tests, with keys from files and the environment.

``write_config`` reads the token secret from ``$TOKEN`` and the newest HMAC key from
``$HMAC_NEW``: set both (monkeypatch) before loading it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem


def config_data(tmp_path: Path, **merchant: object) -> dict[str, Any]:
    """A valid configuration as YAML parses it; writes its two RSA key files into ``tmp_path``."""
    key = generate_private_key()
    (tmp_path / "acqp.pem").write_text(private_key_pem(key))
    (tmp_path / "alipay.pem").write_text(public_key_pem(key.public_key()))
    data: dict[str, Any] = {
        "adapter": {"public_url": "https://pg.example", "token_secret": {"env": "TOKEN"}},
        "alipayplus": {
            "gateway_url": "https://open-sea-global.alipayplus.com",
            "client_id": "C1",
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pem"},
        },
        "merchants": [
            {
                "merchant_id": "Shop",
                "hmac_keys": [{"env": "HMAC_NEW"}, "old-hmac-key"],
                "blowfish_key": "Bf16charsKey!xyz",
                "allowed_hosts": ["shop.example", "*.shop.example"],
                "alipay": {
                    "reference_merchant_id": "M1",
                    "mcc": "5732",
                    "name": "S",
                    "region": "DE",
                },
                **merchant,
            }
        ],
    }
    return data


def write_config(tmp_path: Path, **merchant: object) -> Path:
    path = tmp_path / "adapter.yaml"
    path.write_text(yaml.safe_dump(config_data(tmp_path, **merchant)))
    return path


def with_values(path: Path, section: str, **values: object) -> Path:
    data = yaml.safe_load(path.read_text())
    data[section].update(values)
    path.write_text(yaml.safe_dump(data))
    return path
