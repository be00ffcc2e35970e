"""The wheel alone runs the adapter: built from the checkout, installed from the hash-checked
runtime lock into a fresh virtual environment outside it, then ``check-config``, ``serve`` and
one checkout against it, with ``paygate-adapter sandbox`` from the same environment upstream."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import yaml

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from tests.support.forms import form_for_button
from tests.support.servers import free_port
from tests.support.shop import ShopKeys, parse_result_form
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "SANDBOX_WHEEL_CLIENT"
START_SECONDS = 60  # generous: the wait ends as soon as the server listens


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path


def _isolated_env() -> dict[str, str]:
    """This environment without what could point the installed interpreter back at the checkout."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and key != "VIRTUAL_ENV"
    }


def _run(args: Sequence[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=_isolated_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"{[str(a) for a in args]} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert ROOT not in base.parents, "the environment must live outside the checkout"
    # A clean copy to build from: setuptools would pack stale files left in the checkout's build/.
    source = base / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "var"),
    )
    dist = base / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "--wheel-dir", dist, source], cwd=base)
    (wheel,) = dist.glob("paygate_adapter-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=base)
    pip: list[str | Path] = [venv / "bin" / "python", "-m", "pip"]
    lock = ROOT / "requirements" / "runtime.txt"
    _run([*pip, "install", "-q", "--require-hashes", "-r", lock], cwd=base)
    _run([*pip, "install", "-q", "--no-index", "--no-deps", wheel], cwd=base)
    _run([*pip, "check"], cwd=base)  # the wheel's dependencies are all in the runtime lock
    return Installed(wheel, venv / "bin")


SHOP_HOST = "127.0.0.1:9"  # the discard port: the shop's notify is refused, which is fine here


def _write_config(directory: Path, shop: ShopKeys, adapter_port: int, sandbox_port: int) -> Path:
    """Keys for both sides and the adapter's configuration, as files in ``directory``."""
    acqp, alipay = generate_private_key(), generate_private_key()
    (directory / "acqp.pem").write_text(private_key_pem(acqp))
    (directory / "acqp.pub.pem").write_text(public_key_pem(acqp.public_key()))
    (directory / "alipay.pem").write_text(private_key_pem(alipay))
    (directory / "alipay.pub.pem").write_text(public_key_pem(alipay.public_key()))
    config = {
        "adapter": {
            "public_url": f"http://127.0.0.1:{adapter_port}",
            "database_url": "sqlite+aiosqlite:///adapter.sqlite3",
            "token_secret": secrets.token_hex(16),
        },
        "alipayplus": {
            "gateway_url": f"http://127.0.0.1:{sandbox_port}",
            "client_id": CLIENT_ID,
            "private_key": {"file": "acqp.pem"},
            "alipay_public_key": {"file": "alipay.pub.pem"},
        },
        "merchants": [
            {
                "merchant_id": shop.merchant_id,
                "hmac_keys": [shop.hmac_key],
                "blowfish_key": shop.blowfish_key,
                # The shop is on loopback: nothing is ever looked up or sent off this machine.
                "allowed_hosts": [SHOP_HOST],
                "allow_http": True,
                "allow_private_targets": True,
                "return_method": "post",  # renders the packaged result form
                "alipay": {
                    "reference_merchant_id": "M-1",
                    "mcc": "5732",
                    "name": "Wheel Shop",
                    "region": "DE",
                },
            }
        ],
    }
    path = directory / "adapter.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    """Uvicorn listens only once the app's start-up (migrations included) has finished."""

    def listening() -> bool:
        assert process.poll() is None, f"exited {process.returncode} before listening on {port}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_until(listening, timeout=START_SECONDS, message=f"not listening on {port}")


@contextmanager
def _running(args: Sequence[str | Path], cwd: Path, port: int) -> Iterator[None]:
    """A CLI server process on ``port``; its output is printed (shown if the test fails)."""
    log = cwd / f"{args[1]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=cwd, env=_isolated_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_listening(process, port)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"--- {' '.join(str(a) for a in args)}\n{log.read_text(errors='replace')}")


def test_the_wheel_carries_every_template_and_the_mapping(installed: Installed) -> None:
    templates = ROOT / "templates"
    expected = {
        f"adapter/templates/{path.relative_to(templates).as_posix()}"
        for path in templates.rglob("*")
        if path.is_file()
    }
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert expected and expected <= set(wheel.namelist())
        assert wheel.read("adapter/mapping.yaml") == (ROOT / "mapping.yaml").read_bytes()


def test_the_installed_package_is_the_wheels_not_the_checkouts(
    installed: Installed, tmp_path: Path
) -> None:
    code = "import adapter, adapter.resources as r; print(adapter.__file__, r.DEFAULT_MAPPING)"
    result = _run([installed.bin / "python", "-c", code], cwd=tmp_path)
    venv = installed.bin.parent
    for path in result.stdout.split():
        assert Path(path).is_relative_to(venv), path


def test_check_config_reads_the_packaged_mapping(installed: Installed, tmp_path: Path) -> None:
    shop = ShopKeys("WheelShop", secrets.token_hex(16), secrets.token_hex(8))
    config = _write_config(tmp_path, shop, free_port(), free_port())
    result = _run([installed.bin / "paygate-adapter", "check-config", config], cwd=tmp_path)
    assert result.stdout.startswith("configuration OK: 1 merchant(s)"), result.stdout


def test_a_checkout_through_the_served_wheel_reaches_url_success(
    installed: Installed, tmp_path: Path
) -> None:
    shop = ShopKeys("WheelShop", secrets.token_hex(16), secrets.token_hex(8))
    adapter_port, sandbox_port = free_port(), free_port()
    config = _write_config(tmp_path, shop, adapter_port, sandbox_port)
    cli = str(installed.bin / "paygate-adapter")
    sandbox = [cli, "sandbox", "--port", str(sandbox_port), "--client-id", CLIENT_ID]
    sandbox += ["--acqp-public-key", "acqp.pub.pem", "--private-key", "alipay.pem"]
    serve = [cli, "serve", "--config", str(config), "--port", str(adapter_port)]
    fields = {
        "TransID": "T-WHEEL",
        "Amount": "1250",
        "Currency": "EUR",
        "OrderDesc": "Two books",
        "URLSuccess": f"http://{SHOP_HOST}/success",
        "URLFailure": f"http://{SHOP_HOST}/failure",
        "URLNotify": f"http://{SHOP_HOST}/notify",
        "Response": "encrypt",
    }
    with (
        _running(sandbox, tmp_path, sandbox_port),
        _running(serve, tmp_path, adapter_port),
        httpx.Client(timeout=30) as client,
    ):
        started = client.post(
            f"http://127.0.0.1:{adapter_port}/alipayplus.aspx", data=shop.request(fields)
        )
        assert started.status_code == 303, started.text
        checkout_url = started.headers["location"]
        assert checkout_url.startswith(f"http://127.0.0.1:{sandbox_port}/"), checkout_url
        page = client.get(checkout_url)
        assert page.status_code == 200, page.text
        action, pairs = form_for_button(page.text, "pay")
        paid = client.post(urljoin(checkout_url, action), data=dict(pairs))
        assert paid.status_code == 303, paid.text
        returned = client.get(paid.headers["location"])
        assert returned.status_code == 200, returned.text
    url, result = parse_result_form(returned.text)
    assert url == fields["URLSuccess"]
    assert shop.decode(result)["Status"] == "OK"
