"""The adapter's configuration for a benchmark run, in the operator's format (README).

The reconciler is kept away from the run's payments (``reconcile_after_seconds`` of a day):
checkouts nobody pays and payments waiting for their notify would otherwise be inquired and,
after 15 minutes, cancelled in the middle of later runs, which measures the reconciler, not
the endpoint.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from adapter.alipayplus.signing import public_key_pem
from tests.bench.world import CLIENT_ID, KEY_VERSION, World

DAY = 86_400


def write_adapter_config(directory: Path, world: World, port: int, database_url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "acqp.pem").write_text(world.acqp_private_pem)
    (directory / "alipay.pub.pem").write_text(public_key_pem(world.alipay_public_key))
    config = {
        "adapter": {
            "public_url": f"http://127.0.0.1:{port}",
            "database_url": database_url,
            "token_secret": secrets.token_hex(16),
            "reconcile_after_seconds": DAY,
            "cancel_open_after_seconds": 10 * DAY,
        },
        "alipayplus": {
            "gateway_url": world.upstream_url,
            "client_id": CLIENT_ID,
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pub.pem"},
            "key_version": KEY_VERSION,
        },
        "merchants": [
            {
                "merchant_id": world.merchant_id,
                "hmac_keys": [world.hmac_key],
                "blowfish_key": world.blowfish_key,
                # host:port: an entry without a port admits only the scheme's default port.
                "allowed_hosts": [urlsplit(world.shop_url).netloc],
                "allow_http": True,
                "allow_private_targets": True,
                "alipay": {
                    "reference_merchant_id": "B-1",
                    "mcc": "5732",
                    "name": "Bench",
                    "region": "DE",
                },
            }
        ],
    }
    path = directory / "adapter.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def adapter_command(config: Path, port: int) -> list[str]:
    """``paygate-adapter serve`` as an operator runs it."""
    script = Path(sys.executable).with_name("paygate-adapter")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "adapter.cli"]
    return [*program, "serve", "--config", str(config), "--port", str(port)]
