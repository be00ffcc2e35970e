"""Benchmark: inquire.aspx on a final payment (no upstream call) and credit.aspx (one refund).

Run: ``.venv/bin/python -m tests.bench.s2s [--seconds 10] [--connections 8]`` (needs ``wrk``:
``apt-get install -y wrk``).

The sandbox and the adapter (SQLite) run as their own processes through the CLI, as an operator
runs them; wrk drives them over loopback from a third process, like the floor's measurement in
``docs/performance.md#floor``. Prints requests per second, p50/p99 and the ratio to that
floor. Figures, not assertions: these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import yaml

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from tests.support.s2s import S2SClient
from tests.support.servers import free_port, reserve_port, serve
from tests.support.shop import Received, ShopKeys, create_test_shop
from tests.support.waiting import wait_until

# docs/performance.md#floor, one worker on this kind of machine.
FLOOR = {"inquire": 2400.0, "credit": 200.0}
GOAL = {"inquire": 0.70, "credit": 0.80}
CLIENT_ID = "BENCH_CLIENT"
PAYMENTS = 1000  # enough that no payment sees two credits at once during a run


@contextmanager
def _process(args: list[str], url: str) -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-m", "adapter.cli", *args])

    def answering() -> bool:
        assert process.poll() is None, f"{args[0]} exited with {process.returncode}"
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(answering, timeout=60, message=f"{args[0]} did not start")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _write_config(
    tmp: Path, shop: ShopKeys, adapter_port: int, sandbox_port: int, shop_port: int
) -> Path:
    acqp, alipay = generate_private_key(), generate_private_key()
    (tmp / "acqp.pem").write_text(private_key_pem(acqp))
    (tmp / "acqp.pub.pem").write_text(public_key_pem(acqp.public_key()))
    (tmp / "sandbox.pem").write_text(private_key_pem(alipay))
    (tmp / "sandbox.pub.pem").write_text(public_key_pem(alipay.public_key()))
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
            "alipay_public_key": {"file": "sandbox.pub.pem"},
        },
        "merchants": [
            {
                "merchant_id": shop.merchant_id,
                "hmac_keys": [shop.hmac_key],
                "blowfish_key": shop.blowfish_key,
                "allowed_hosts": [f"127.0.0.1:{shop_port}"],  # no port: the default one only
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
    path = tmp / "adapter.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _paid_payments(
    s2s: S2SClient, sandbox_url: str, shop_url: str, database: Path
) -> dict[str, str]:
    """PayID -> TransID of payments of the largest Amount, paid and known as paid here."""
    for n in range(PAYMENTS):
        fields = {
            "TransID": f"BENCH-{n}",
            "Amount": "9999999999",
            "Currency": "EUR",
            "OrderDesc": "bench",
            "URLSuccess": f"{shop_url}/ok",
            "URLFailure": f"{shop_url}/no",
            "URLNotify": f"{shop_url}/notify",
        }
        response = s2s.http.post(
            f"{s2s.adapter_url}/alipayplus.aspx", data=s2s.keys.request(fields)
        )
        assert response.status_code == 303, response.text
    with sqlite3.connect(database) as conn:
        pay_ids = dict(conn.execute("SELECT pay_id, trans_id FROM payments").fetchall())
    for pay_id in pay_ids:
        s2s.http.post(f"{sandbox_url}/_sim/payments/{pay_id}/complete", json={"status": "S"})
    unpaid = set(pay_ids)

    def all_paid() -> bool:
        unpaid.difference_update([p for p in unpaid if s2s.inquire(p)["Status"] == "OK"])
        return not unpaid

    wait_until(all_paid, timeout=60, message=lambda: f"payments not paid: {sorted(unpaid)}")
    return pay_ids


def _wrk_script(tmp: Path, name: str, bodies: list[str]) -> Path:
    script = tmp / f"{name}.lua"
    script.write_text(
        "local bodies = " + json.dumps(bodies).replace("[", "{").replace("]", "}") + "\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\n"
        "end\n"
    )
    return script


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if re.search(r"Non-2xx", out):
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    return rps, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    shop = ShopKeys("BenchShop", secrets.token_hex(16), secrets.token_hex(8))
    adapter_port, sandbox_port, shop_port = free_port(), free_port(), reserve_port()
    adapter_url, sandbox_url = (
        f"http://127.0.0.1:{adapter_port}",
        f"http://127.0.0.1:{sandbox_port}",
    )
    received = Received()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        config = _write_config(tmp, shop, adapter_port, sandbox_port, shop_port)
        sandbox = [
            "sandbox",
            "--port",
            str(sandbox_port),
            "--client-id",
            CLIENT_ID,
            "--acqp-public-key",
            str(tmp / "acqp.pub.pem"),
            "--private-key",
            str(tmp / "sandbox.pem"),
        ]
        with (
            _process(sandbox, f"{sandbox_url}/_sim/calls"),
            _process(
                ["serve", "--config", str(config), "--port", str(adapter_port)],
                f"{adapter_url}/healthz",
            ),
            httpx.Client(timeout=30) as http,
            serve(create_test_shop(received), shop_port) as shop_url,
        ):
            s2s = S2SClient(shop, adapter_url, http)
            pay_ids = _paid_payments(s2s, sandbox_url, shop_url, tmp / "adapter.sqlite3")
            # Let the set-up payments' URLNotify deliveries finish: they are not measured.
            wait_until(
                lambda: len(received.notifies) >= len(pay_ids),
                timeout=120,
                message="the set-up payments' URLNotify deliveries did not all arrive",
            )
            first = next(iter(pay_ids))
            bodies = {
                "inquire": [urlencode(s2s.outer({"PayID": first}))],
                # The payment's own TransID: every request is a new credit of 1 cent.
                "credit": [
                    urlencode(
                        s2s.outer(
                            {"PayID": pay_id, "TransID": trans_id, "Amount": "1", "Currency": "EUR"}
                        )
                    )
                    for pay_id, trans_id in pay_ids.items()
                ],
            }
            print(
                f"{'endpoint':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'floor':>7}"
                f" {'ratio':>6} {'goal':>5}"
            )
            answer = s2s.inquire(first)
            assert (answer["Status"], answer["AmountCap"]) == ("OK", "9999999999"), answer
            for name, endpoint_bodies in bodies.items():
                script = _wrk_script(tmp, name, endpoint_bodies)
                rps, p50, p99 = _wrk(
                    f"{adapter_url}/{name}.aspx", script, args.seconds, args.connections
                )
                ratio = rps / FLOOR[name]
                label = f"{name}.aspx" + (" (final payment)" if name == "inquire" else " (refund)")
                print(
                    f"{label:<28} {rps:8.1f} {p50:8.2f} {p99:8.2f} {FLOOR[name]:7.0f}"
                    f" {ratio:6.0%} {GOAL[name]:5.0%}"
                )
            print(
                f"(wrk -t1 -c{args.connections} -d{args.seconds}s; adapter and sandbox: one "
                "uvicorn process each, SQLite)"
            )
            ours = sum(int(s2s.inquire(pay_id)["AmountCred"]) for pay_id in pay_ids)
            theirs = sum(
                http.get(f"{sandbox_url}/_sim/payments/{pay_id}").json()["refunded"]
                for pay_id in pay_ids
            )
            print(f"credited after the run: ours {ours}, the sandbox's {theirs} (cents)")
            assert ours == theirs > 0


if __name__ == "__main__":
    main()
