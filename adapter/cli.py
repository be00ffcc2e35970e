"""``paygate-adapter``: serve the adapter, run the sandbox alone, run the demo, check a config,
list what needs an operator, and the operator commands (URLNotify, reconcile, keys, schema,
console passwords)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import getpass
import logging
import os
import re
import secrets
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
import yaml
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from adapter.alipayplus.signing import (
    generate_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from adapter.config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Settings, load_settings
from adapter.console.passwords import hash_password
from adapter.core.attention import Attention, find_attention, report
from adapter.core.context import Context
from adapter.core.operator import (
    Actor,
    Reconciled,
    Resent,
    queries,
    reconcile_many,
    resend_notifications,
)
from adapter.core.outbox import OutboxWorker
from adapter.errors import ConfigError
from adapter.mapping import MAPPING_ENV, ResultCodes, load_mapping
from adapter.observability.logs import LOG_FORMAT_ENV, LOG_LEVEL_ENV, configure_logging
from adapter.observability.metrics import MULTIPROCESS_ENV
from adapter.runtime import open_context
from adapter.sandbox.app import create_sandbox_app
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.store.db import MIGRATIONS, Database, migrate, serves_one_process
from adapter.store.payments import NotificationSelection
from adapter.store.queries import Attempt, Backlog, NotificationLine
from adapter.web.app import create_app
from adapter.web.serving import CoalescingHttpToolsProtocol

DEMO_MERCHANT = "DemoShop"
DEMO_CLIENT_ID = "SANDBOX_DEMO_CLIENT"


def _server(app: Any, host: str, port: int, *, grace: float | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=CoalescingHttpToolsProtocol,
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
    # The event loop uvicorn itself would pick (uvloop where installed): on plain asyncio every
    # request costs measurably more CPU (docs/performance.md#known-traps).
    loop_factory = uvicorn.Config(app="", log_config=None).get_loop_factory()
    with (
        contextlib.suppress(KeyboardInterrupt, _Terminated),
        asyncio.Runner(loop_factory=loop_factory) as runner,
    ):
        runner.run(serving)
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
        app = create_app(settings, codes, freeze_after_startup=True)
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
            http=CoalescingHttpToolsProtocol,
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


# --- operator commands ------------------------------------------------------------------------
#
# Exit codes, the same for every operator command (README, "Operator commands"):
EXIT_OK = 0  # done, and nothing is left for an operator
EXIT_ATTENTION = 1  # done, but something still needs an operator (listed in the output)
EXIT_FAILED = 2  # could not run: arguments, configuration, database or files

EXIT_CODES = """exit codes:
  0  done, and nothing is left for an operator
  1  done, but something still needs an operator (it is listed)
  2  could not run: arguments, configuration, database or files"""

T = TypeVar("T")


class _CannotRun(Exception):
    """A problem that stops an operator command before it does anything (exit 2)."""


def _errors() -> Console:
    return Console(stderr=True)


def _output() -> Console:
    # Piped into a file or a pager, a table keeps its columns instead of folding at 80.
    return Console(width=None if sys.stdout.isatty() else 200)


def _progress() -> Progress:
    """Progress on standard error, so standard output keeps only the report."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_errors(),
    )


def _settings_and_codes(args: argparse.Namespace) -> tuple[Settings, ResultCodes]:
    try:
        return load_settings(args.config), load_mapping(args.mapping)
    except ConfigError as exc:
        raise _CannotRun("\n".join(exc.problems)) from None


def _run_operator_command(work: Callable[[], int]) -> int:
    """Run a command; problems that stop it become one line on stderr and exit code 2."""
    # Each hop is in the journal; its log lines would only break up the progress bar.
    adapter_log = logging.getLogger("adapter")
    level = adapter_log.level
    adapter_log.setLevel(logging.WARNING)
    try:
        return work()
    except _CannotRun as exc:
        print(str(exc), file=sys.stderr)
    except (SQLAlchemyError, OSError) as exc:
        # Only the error's class: its text can carry the database URL and its password.
        print(
            f"cannot use the adapter's database ({type(exc).__name__}); "
            "is it reachable, and migrated (paygate-adapter migrate)?",
            file=sys.stderr,
        )
    finally:
        adapter_log.setLevel(level)
    return EXIT_FAILED


async def _with_context(
    settings: Settings, codes: ResultCodes, work: Callable[[Context], Awaitable[T]]
) -> T:
    async with open_context(settings, codes, run_migrations=False) as ctx:
        try:
            return await work(ctx)
        finally:
            await ctx.journal.flush()  # what the command's actions noted, before it exits


def _actor(args: argparse.Namespace) -> Actor:
    return Actor(args.operator, "cli")


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _attempt_outcome(attempt: Attempt | None) -> str:
    if attempt is None:
        return "-"
    return f"HTTP {attempt.http_status}" if attempt.http_status else (attempt.error or "-")


def _last_attempt(line: NotificationLine) -> str:
    attempt = line.last_attempt
    if attempt is None:
        return "-"
    return f"{_when(attempt.attempted_at)} {_attempt_outcome(attempt)}"


def notifies_list(args: argparse.Namespace) -> int:
    def work() -> int:
        settings, codes = _settings_and_codes(args)

        async def read(ctx: Context) -> list[NotificationLine]:
            return await queries(ctx).notifications(
                Backlog(args.show), merchant_id=args.merchant, pay_id=args.pay_id, limit=args.limit
            )

        lines: list[NotificationLine] = asyncio.run(_with_context(settings, codes, read))
        table = Table(title=f"URLNotify deliveries: {args.show}", title_justify="left")
        for column in ("Id", "Queued", "Merchant", "TransID", "PayID", "State", "Status"):
            table.add_column(column)
        table.add_column("Attempts", justify="right")
        for column in ("Last attempt", "Next attempt", "URL"):
            table.add_column(column)
        for line in lines:
            table.add_row(
                str(line.id),
                _when(line.created_at),
                line.merchant_id,
                line.trans_id,
                line.pay_id,
                line.final_state.value,
                line.status,
                str(line.attempts),
                _last_attempt(line),
                _when(line.next_attempt_at) if line.status == "pending" else "-",
                line.url,
            )
        output = _output()
        output.print(table)
        output.print(f"{len(lines)} shown (at most {args.limit}, the newest first)")
        return EXIT_OK

    return _run_operator_command(work)


def _selection(args: argparse.Namespace) -> NotificationSelection:
    selection = NotificationSelection(
        ids=tuple(args.id or ()),
        pay_id=args.pay_id,
        merchant_id=args.merchant,
        dead_only=args.all_dead,
    )
    if selection.is_empty:
        raise _CannotRun("say which: --id, --pay-id, --merchant or --all-dead")
    return selection


def notifies_requeue(args: argparse.Namespace) -> int:
    """Resend the selected notifications now, one attempt each, with progress; exit 1 when
    one was not delivered."""

    def work() -> int:
        settings, codes = _settings_and_codes(args)
        selection = _selection(args)
        with _progress() as progress:
            task = progress.add_task("Resending URLNotify", total=None)

            async def resend(ctx: Context) -> list[Resent]:
                worker = OutboxWorker(ctx)
                try:
                    return await resend_notifications(
                        ctx,
                        selection,
                        _actor(args),
                        worker,
                        on_requeued=lambda count: progress.update(task, total=count),
                        on_resent=lambda _: progress.advance(task),
                    )
                finally:
                    await worker.aclose()

            resent: list[Resent] = asyncio.run(_with_context(settings, codes, resend))
        output = _output()
        if not resent:
            output.print("Nothing to resend: no undelivered notification matches.")
            return EXIT_OK
        table = Table(title="Resent now", title_justify="left")
        for column in ("Id", "PayID", "State", "Outcome", "Attempts", "This attempt"):
            table.add_column(column)
        for item in resent:
            notification = item.notification
            table.add_row(
                str(notification.id),
                notification.pay_id,
                notification.final_state.value,
                notification.status,
                str(notification.attempts),
                _attempt_outcome(item.attempt),
            )
        output.print(table)
        undelivered = sum(1 for item in resent if not item.delivered)
        output.print(f"{len(resent) - undelivered} delivered, {undelivered} not delivered")
        return EXIT_ATTENTION if undelivered else EXIT_OK

    return _run_operator_command(work)


_RELATIVE = re.compile(r"(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``12h``, ``3d`` ago, or an ISO date or time (UTC unless it says otherwise)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r}: give 30m, 12h, 3d, or a date or time such as 2026-12-01T08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _since_argument(text: str) -> datetime:
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _reconcile_report(results: Sequence[Reconciled], output: Console) -> None:
    outcomes = Counter(result.outcome for result in results)
    summary = Table(title="Reconciled", title_justify="left")
    summary.add_column("Outcome")
    summary.add_column("Payments", justify="right")
    for outcome, count in sorted(outcomes.items()):
        summary.add_row(outcome, str(count))
    output.print(summary)
    changed = [r for r in results if r.before != r.after or not r.settled]
    if not changed:
        return
    shown = 50
    table = Table(title="Changed, or still open", title_justify="left")
    for column in ("PayID", "Was", "Now", "Open steps"):
        table.add_column(column)
    for result in changed[:shown]:
        table.add_row(
            result.pay_id,
            result.before.value if result.before else "-",
            result.outcome,
            str(result.open_steps),
        )
    output.print(table)
    if len(changed) > shown:
        output.print(f"... and {len(changed) - shown} more")


def reconcile(args: argparse.Namespace) -> int:
    """Ask Alipay+ about every open payment now (and re-send open steps), with progress and a
    summary; exit 1 when something is still open afterwards."""

    def work() -> int:
        settings, codes = _settings_and_codes(args)
        with _progress() as progress:
            task = progress.add_task("Reconciling", total=None)

            async def run(ctx: Context) -> list[Reconciled]:
                pay_ids = args.pay_id or await queries(ctx).reconcile_candidates(
                    merchant_id=args.merchant, since=args.since
                )
                progress.update(task, total=len(pay_ids))
                return await reconcile_many(
                    ctx, pay_ids, _actor(args), on_reconciled=lambda _: progress.advance(task)
                )

            results: list[Reconciled] = asyncio.run(_with_context(settings, codes, run))
        output = _output()
        if not results:
            output.print("Nothing to reconcile: no open payment or step matches.")
            return EXIT_OK
        _reconcile_report(results, output)
        return EXIT_OK if all(result.settled for result in results) else EXIT_ATTENTION

    return _run_operator_command(work)


def keygen(args: argparse.Namespace) -> int:
    """An RSA key pair for Alipay+: PEM files, and the public key as the bare base64 the
    Alipay+ Developer Center asks for."""
    out = Path(args.out)
    private_file = out / f"{args.name}_private.pem"
    public_file = out / f"{args.name}_public.pem"
    bare_file = out / f"{args.name}_public.txt"
    existing = [str(f) for f in (private_file, public_file, bare_file) if f.exists()]
    if existing and not args.force:
        print(f"not overwriting {', '.join(existing)} (use --force)", file=sys.stderr)
        return EXIT_FAILED
    key = generate_private_key()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bare = base64.b64encode(der).decode("ascii")
    try:
        out.mkdir(parents=True, exist_ok=True)
        private_file.unlink(missing_ok=True)  # created anew, so it is never readable by others
        descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(private_key_pem(key))
        public_file.write_text(public_key_pem(key.public_key()), encoding="ascii")
        bare_file.write_text(bare + "\n", encoding="ascii")
    except OSError as exc:
        print(f"cannot write the keys: {exc.strerror} ({exc.filename})", file=sys.stderr)
        return EXIT_FAILED
    print(f"private key (keep it secret, mode 0600): {private_file}")
    print(f"public key, PEM: {public_file}")
    print(f"public key, bare base64 (upload this in the Alipay+ Developer Center): {bare_file}")
    print(bare)
    print(f"configure it as  alipayplus.private_key: {{file: {private_file}}}")
    return EXIT_OK


def _revisions(url: str) -> tuple[str | None, str]:
    """The database's schema revision (None: empty), and the newest one the adapter has."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head() or ""

    def revision(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async def current() -> str | None:
        db = Database(url)
        try:
            return await db.read(revision)
        finally:
            await db.dispose()

    return asyncio.run(current()), head


def migrate_database(args: argparse.Namespace) -> int:
    def work() -> int:
        settings, _ = _settings_and_codes(args)
        before, head = _revisions(settings.database_url)
        if before == head:
            print(f"the database is at revision {head}, the newest: nothing to do")
            return EXIT_OK
        with _errors().status(f"migrating from {before or 'an empty database'} to {head}"):
            asyncio.run(migrate(settings.database_url))
        after, _ = _revisions(settings.database_url)
        print(f"migrated the database from revision {before or '(empty)'} to {after}")
        return EXIT_OK

    return _run_operator_command(work)


def _password_from_stdin() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise _CannotRun("the two passwords differ")
        return password
    text = sys.stdin.read()
    return text.removesuffix("\n").removesuffix("\r")


def hash_password_command(args: argparse.Namespace) -> int:
    """Print the argon2 hash of the password read from stdin, for console.operators."""

    def work() -> int:
        password = _password_from_stdin()
        if not password:
            raise _CannotRun("no password on standard input")
        if len(password) < 12:
            warning = "warning: a password of fewer than 12 characters is easy to guess"
            print(warning, file=sys.stderr)
        print(hash_password(password))
        return EXIT_OK

    return _run_operator_command(work)


def _operator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator",
        default=_default_operator(),
        help="the name the journal records for this action (default: your login name)",
    )


def _operator_command(
    commands: Any, name: str, help_text: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=f"{help_text}.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _add_operator_commands(commands: Any) -> None:
    notifies = commands.add_parser("notifies", help="list and resend the shops' URLNotify")
    which = notifies.add_subparsers(dest="notifies_command", required=True)

    p = _operator_command(which, "list", "list URLNotify deliveries that failed", notifies_list)
    _config_option(p)
    p.add_argument(
        "--show",
        choices=[b.value for b in Backlog],
        default=Backlog.FAILED.value,
        help="failed: failing or dead (default); failing: retries left; dead: retries ran out; "
        "undelivered: also those not tried yet",
    )
    p.add_argument("--merchant", default=None, help="only this merchant's")
    p.add_argument("--pay-id", default=None, help="only this payment's")
    p.add_argument("--limit", type=int, default=200, help="show at most this many (200)")

    p = _operator_command(
        which,
        "requeue",
        "resend undelivered URLNotify now, one attempt each, and show how each went",
        notifies_requeue,
    )
    _config_option(p)
    p.add_argument("--id", type=int, action="append", help="a notification's id (repeatable)")
    p.add_argument("--pay-id", default=None, help="the payment's undelivered notifications")
    p.add_argument("--merchant", default=None, help="the merchant's undelivered notifications")
    p.add_argument("--all-dead", action="store_true", help="every dead notification")
    _operator_option(p)

    p = _operator_command(
        commands,
        "reconcile",
        "ask Alipay+ about every open payment now and re-send open credits and reversals",
        reconcile,
    )
    _config_option(p)
    p.add_argument("--merchant", default=None, help="only this merchant's payments")
    p.add_argument(
        "--since",
        type=_since_argument,
        default=None,
        help="only payments created since: 30m, 12h, 3d, or an ISO date or time (UTC)",
    )
    p.add_argument("--pay-id", action="append", help="only this payment (repeatable)")
    _operator_option(p)

    p = _operator_command(
        commands, "keygen", "make an RSA key pair for Alipay+ (PEM and bare base64)", keygen
    )
    p.add_argument("--out", default="keys", help="folder to write the keys to (keys)")
    p.add_argument("--name", default="acqp", help="file name prefix (acqp)")
    p.add_argument("--force", action="store_true", help="overwrite existing key files")

    p = _operator_command(
        commands, "migrate", "bring the database schema to the adapter's newest", migrate_database
    )
    _config_option(p)

    _operator_command(
        commands,
        "hash-password",
        "print the argon2 hash of a console password read from standard input",
        hash_password_command,
    )


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

    _add_operator_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(getattr(args, "log_format", "console"), getattr(args, "log_level", "INFO"))
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
