"""``paygate-adapter``: serve the adapter, run the sandbox alone, run the demo, check a config,
list what needs an operator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from sqlalchemy.exc import SQLAlchemyError

from adapter.alipayplus.signing import (
    generate_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from adapter.config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Settings, load_settings
from adapter.core.attention import Attention, find_attention, report
from adapter.errors import ConfigError
from adapter.mapping import MAPPING_ENV, ResultCodes, load_mapping
from adapter.observability.logs import LOG_FORMAT_ENV, LOG_LEVEL_ENV, configure_logging
from adapter.observability.metrics import MULTIPROCESS_ENV
from adapter.runtime import open_context
from adapter.sandbox.app import create_sandbox_app
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.store.db import migrate, serves_one_process
from adapter.web.app import create_app

DEMO_MERCHANT = "DemoShop"
DEMO_CLIENT_ID = "SANDBOX_DEMO_CLIENT"


def _server(app: Any, host: str, port: int, *, grace: float | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=None if grace is None else int(grace + 0.999),
    )
    return uvicorn.Server(config)


class _Terminated(Exception):
    """SIGTERM arrived (uvicorn raises it again once its graceful shutdown is done)."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _until_stopped(serving: Coroutine[Any, Any, object]) -> int:
    """Serve until Ctrl+C or SIGTERM, then say goodbye and exit 0 (the stop was asked for)."""
    signal.signal(signal.SIGTERM, _terminated)
    with contextlib.suppress(KeyboardInterrupt, _Terminated):
        asyncio.run(serving)
    _goodbye()
    return 0


def _goodbye() -> None:
    # A log line, so that a JSON log stays JSON from its first line to its last.
    logging.getLogger("adapter.cli").info("Stopped. Goodbye.")


def check_config(args: argparse.Namespace) -> int:
    path = args.path or None
    try:
        settings = load_settings(path)
        load_mapping(args.mapping)
    except ConfigError as exc:
        print(f"configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"configuration OK: {len(settings.merchants)} merchant(s),"
        f" gateway {settings.alipay.gateway_url}"
    )
    return 0


def serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl+C: then take no new requests and no new background work,
    and give what is under way ``shutdown_grace_seconds`` to finish."""
    try:
        settings = load_settings(args.config)
        codes = load_mapping(args.mapping)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    grace = settings.shutdown_grace_seconds
    if args.workers == 1:
        app = create_app(settings, codes)
        return _until_stopped(_server(app, args.host, args.port, grace=grace).serve())
    if serves_one_process(settings.database_url):
        print(
            "--workers needs PostgreSQL: SQLite is for one process "
            "(set adapter.database_url to postgresql://…, or serve with one worker)",
            file=sys.stderr,
        )
        return 2
    asyncio.run(migrate(settings.database_url))  # once, before the workers start
    # The workers are new processes: they read the same files, named in their environment,
    # log the same way, and add their metrics up in one directory.
    os.environ[LOG_FORMAT_ENV], os.environ[LOG_LEVEL_ENV] = args.log_format, args.log_level
    os.environ.setdefault(MULTIPROCESS_ENV, tempfile.mkdtemp(prefix="paygate-metrics-"))
    os.environ[CONFIG_ENV] = str(
        Path(args.config or os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_PATH)).resolve()
    )
    if args.mapping:
        os.environ[MAPPING_ENV] = str(Path(args.mapping).resolve())
    signal.signal(signal.SIGTERM, _terminated)
    with contextlib.suppress(KeyboardInterrupt, _Terminated):
        uvicorn.run(
            "adapter.web.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=int(grace + 0.999),
        )
    _goodbye()
    return 0


async def _attention_in(settings: Settings, codes: ResultCodes, now: datetime) -> Attention:
    async with open_context(settings, codes, run_migrations=False) as ctx:
        return await find_attention(
            ctx.payments,
            ctx.operations,
            now=now,
            cancel_open_after=timedelta(seconds=settings.cancel_open_after_seconds),
        )


def attention(args: argparse.Namespace) -> int:
    """Exit 1 when money must be returned by hand, so a monitoring check can alert on it."""
    try:
        settings = load_settings(args.config)
        codes = load_mapping(args.mapping)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    try:
        found = asyncio.run(_attention_in(settings, codes, now))
    except (SQLAlchemyError, OSError) as exc:
        # Only the error's class: its text can carry the database URL and its password.
        print(f"cannot read the adapter's database ({type(exc).__name__})", file=sys.stderr)
        return 2
    print("\n".join(report(found, now=now)))
    return 1 if found.money_to_return else 0


def _write_demo_files(data_dir: Path, host: str, ports: tuple[int, int, int]) -> dict[str, Any]:
    """Fresh keys for every demo run, written where the user can look at them."""
    adapter_port, sandbox_port, shop_port = ports
    keys = data_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    acqp, alipay = generate_private_key(), generate_private_key()
    (keys / "acqp_private.pem").write_text(private_key_pem(acqp))
    (keys / "acqp_public.pem").write_text(public_key_pem(acqp.public_key()))
    (keys / "alipay_private.pem").write_text(private_key_pem(alipay))
    (keys / "alipay_public.pem").write_text(public_key_pem(alipay.public_key()))
    hmac_key, blowfish_key = secrets.token_urlsafe(24), secrets.token_hex(8)
    config = {
        "adapter": {
            "public_url": f"http://{host}:{adapter_port}",
            "database_url": "sqlite+aiosqlite:///adapter.sqlite3",
            "token_secret": secrets.token_urlsafe(32),
        },
        "alipayplus": {
            "gateway_url": f"http://{host}:{sandbox_port}",
            "client_id": DEMO_CLIENT_ID,
            "private_key": {"file": "keys/acqp_private.pem"},
            "alipay_public_key": {"file": "keys/alipay_public.pem"},
            "key_version": "1",
        },
        "merchants": [
            {
                "merchant_id": DEMO_MERCHANT,
                "hmac_keys": [hmac_key],
                "blowfish_key": blowfish_key,
                "allowed_hosts": [f"{host}:{shop_port}"],
                "allow_http": True,
                "allow_private_targets": True,
                "alipay": {
                    "reference_merchant_id": "DEMO-M-1",
                    "mcc": "5732",
                    "name": "Demo Shop",
                    "region": "DE",
                },
            }
        ],
    }
    (data_dir / "adapter.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return {"hmac_key": hmac_key, "blowfish_key": blowfish_key, "alipay": alipay, "acqp": acqp}


def demo(args: argparse.Namespace) -> int:
    from adapter.demo.shop import create_shop_app

    host = args.host
    ports = (args.port, args.port + 1, args.port + 2)
    data_dir = Path(args.data_dir).resolve()
    made = _write_demo_files(data_dir, host, ports)
    settings = load_settings(data_dir / "adapter.yaml")
    adapter_app = create_app(settings, load_mapping(args.mapping))
    sandbox_app = create_sandbox_app(
        SandboxConfig(
            clients={
                DEMO_CLIENT_ID: SandboxClient(
                    client_id=DEMO_CLIENT_ID,
                    acqp_public_keys={"1": made["acqp"].public_key()},
                    acquirer_id="DEMO_ACQUIRER",
                )
            },
            private_key=made["alipay"],
            public_url=f"http://{host}:{ports[1]}",
        )
    )
    shop_app = create_shop_app(
        merchant_id=DEMO_MERCHANT,
        hmac_key=made["hmac_key"],
        blowfish_key=made["blowfish_key"],
        paygate_url=f"http://{host}:{ports[0]}",
        public_url=f"http://{host}:{ports[2]}",
    )
    print(f"Paygate adapter   http://{host}:{ports[0]}   (config {data_dir / 'adapter.yaml'})")
    print(f"Alipay+ sandbox   http://{host}:{ports[1]}")
    print(f"Demo shop         http://{host}:{ports[2]}   <- open this in your browser")
    print("Press Ctrl+C to stop.", flush=True)

    async def run_all() -> None:
        servers = [
            _server(adapter_app, host, ports[0]),
            _server(sandbox_app, host, ports[1]),
            _server(shop_app, host, ports[2]),
        ]
        await asyncio.gather(*(server.serve() for server in servers))

    return _until_stopped(run_all())


def sandbox(args: argparse.Namespace) -> int:
    key_file = Path(args.private_key)
    if not key_file.exists():
        key_file.write_text(private_key_pem(generate_private_key()))
        print(f"generated the sandbox key pair in {key_file}")
    from adapter.alipayplus.signing import load_private_key

    private_key = load_private_key(key_file.read_text())
    public_file = key_file.with_suffix(".pub.pem")
    public_file.write_text(public_key_pem(private_key.public_key()))
    acqp_key = load_public_key(Path(args.acqp_public_key).read_text())
    app = create_sandbox_app(
        SandboxConfig(
            clients={
                args.client_id: SandboxClient(
                    client_id=args.client_id,
                    acqp_public_keys={args.key_version: acqp_key},
                    acquirer_id=args.acquirer_id,
                )
            },
            private_key=private_key,
            public_url=args.public_url or f"http://{args.host}:{args.port}",
        )
    )
    print(f"Alipay+ sandbox on http://{args.host}:{args.port}; its public key: {public_file}")
    return _until_stopped(_server(app, args.host, args.port).serve())


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=None,
        help=f"config file (default ${CONFIG_ENV} or {DEFAULT_CONFIG_PATH})",
    )


_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paygate-adapter", description=__doc__)
    parser.add_argument("--mapping", default=None, help="mapping.yaml (default: the project's)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the adapter")
    _config_option(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes (more than one needs PostgreSQL)",
    )
    p.add_argument(
        "--log-format",
        choices=["json", "console"],
        default="json",
        help="json: one JSON object per line (default); console: for people",
    )
    p.add_argument("--log-level", default="INFO", type=str.upper, choices=_LEVELS)
    p.set_defaults(func=serve)

    p = commands.add_parser("demo", help="adapter + Alipay+ sandbox + demo shop on SQLite")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="adapter port; sandbox +1, shop +2")
    p.add_argument("--data-dir", default="var/demo", help="where keys, config and SQLite go")
    p.set_defaults(func=demo)

    p = commands.add_parser("sandbox", help="run the Alipay+ sandbox alone")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--public-url", default=None)
    p.add_argument("--client-id", required=True)
    p.add_argument("--acqp-public-key", required=True, help="PEM file of the adapter's public key")
    p.add_argument("--key-version", default="1")
    p.add_argument("--acquirer-id", default="SANDBOX_ACQUIRER")
    p.add_argument("--private-key", default="sandbox_private.pem", help="created when missing")
    p.set_defaults(func=sandbox)

    p = commands.add_parser(
        "attention", help="list money to return by hand and steps still open; exit 1 on the first"
    )
    _config_option(p)
    p.set_defaults(func=attention)

    p = commands.add_parser("check-config", help="validate a configuration file")
    p.add_argument("path", nargs="?", default=None)
    p.set_defaults(func=check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(getattr(args, "log_format", "console"), getattr(args, "log_level", "INFO"))
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
