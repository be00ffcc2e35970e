"""Operators for tests, and a stack whose adapter runs from a configuration file with the
console on: adapter, Alipay+ sandbox and a test shop as uvicorn servers on loopback.

The file is what the operator CLI reads too, so the CLI's commands run against the same
database and Alipay+ as the serving adapter, as they would in production.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Select

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from adapter.config import load_settings
from adapter.console.passwords import hash_password
from adapter.mapping import load_mapping
from adapter.web.app import create_app
from tests.e2e.conftest import CLIENT_ID, Stack
from tests.support.sandbox import fast_sandbox
from tests.support.servers import reserve_port, serve
from tests.support.shop import Received, ShopKeys, create_test_shop

OPERATOR = "alice"
PASSWORD = "correct horse battery staple"
OTHER_OPERATOR = "bob"


@functools.cache
def password_hash(password: str = PASSWORD) -> str:
    return hash_password(password)


def console_section(**changes: object) -> dict[str, Any]:
    """A console with two operators, ``alice`` (:data:`PASSWORD`) and ``bob``."""
    return {
        "operators": [
            {"name": OPERATOR, "password_hash": password_hash()},
            {"name": OTHER_OPERATOR, "password_hash": password_hash("bob's own password")},
        ],
        **changes,
    }


@dataclass
class ConsoleStack(Stack):
    config_path: Path

    @property
    def console_url(self) -> str:
        return f"{self.adapter_url}/console"

    def column(self, query: Select[Any]) -> list[str]:
        # On a thread of its own: Playwright's sync API keeps an event loop running in the
        # test's thread, where asyncio.run refuses to start another.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(super().column, query).result()


def _merchant(keys: ShopKeys, shop_port: int, reference: str) -> dict[str, Any]:
    return {
        "merchant_id": keys.merchant_id,
        "hmac_keys": [keys.hmac_key],
        "blowfish_key": keys.blowfish_key,
        "allowed_hosts": [f"127.0.0.1:{shop_port}"],
        "allow_http": True,
        "allow_private_targets": True,
        "alipay": {
            "reference_merchant_id": reference,
            "mcc": "5732",
            "name": reference,
            "region": "DE",
        },
    }


@contextmanager
def running_console_stack(
    tmp_path: Path,
    received: Received,
    *,
    adapter_settings: Mapping[str, object] | None = None,
    console: Mapping[str, object] | None = None,
) -> Iterator[ConsoleStack]:
    """The servers, and the adapter's configuration file in ``tmp_path / "adapter.yaml"``.

    Only operators reconcile here (the reconciler's first look is 10 minutes away), and a
    URLNotify the shop refuses is retried once after 0.2 s, then dead.
    """
    acqp, alipay = generate_private_key(), generate_private_key()
    (tmp_path / "acqp.pem").write_text(private_key_pem(acqp))
    (tmp_path / "alipay.pub.pem").write_text(public_key_pem(alipay.public_key()))
    shop = ShopKeys("TestShop", secrets.token_hex(16), secrets.token_hex(8))
    other_shop = ShopKeys("OtherShop", secrets.token_hex(16), secrets.token_hex(8))
    adapter_port, sandbox_port, shop_port = reserve_port(), reserve_port(), reserve_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    config = {
        "adapter": {
            "public_url": f"http://127.0.0.1:{adapter_port}",
            "database_url": "sqlite+aiosqlite:///adapter.sqlite3",
            "token_secret": secrets.token_hex(16),
            "return_wait_seconds": 1,
            "reconcile_interval_seconds": 0.2,
            "operation_budget_seconds": 2,
            "reconcile_after_seconds": 600,
            "notify_retry_seconds": [0.2],
            **(adapter_settings or {}),
        },
        "alipayplus": {
            "gateway_url": sandbox_url,
            "client_id": CLIENT_ID,
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pub.pem"},
            "timeout_seconds": 1,
        },
        "merchants": [
            _merchant(shop, shop_port, "M-1"),
            _merchant(other_shop, shop_port, "M-2"),
        ],
        "console": {**console_section(), **(console or {})},
    }
    config_path = tmp_path / "adapter.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    settings = load_settings(config_path)
    sandbox_app = fast_sandbox(CLIENT_ID, acqp.public_key(), alipay, sandbox_url)
    with (
        serve(sandbox_app, sandbox_port),
        serve(create_test_shop(received), shop_port) as shop_url,
        serve(create_app(settings, load_mapping()), adapter_port) as adapter_url,
    ):
        yield ConsoleStack(
            adapter_url,
            sandbox_url,
            shop_url,
            shop,
            received,
            settings,
            other_shop,
            config_path,
        )
