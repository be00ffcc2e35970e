"""The adapter's configuration: one YAML file listing the merchants and the Alipay+ connection.

The file's path comes from ``PAYGATE_ADAPTER_CONFIG`` (default ``adapter.yaml``). A key may be
given inline (a plain string), as ``{file: path}`` (relative to the config file) or as
``{env: NAME}``. Keys are wrapped in :class:`~adapter.secret.Secret` as soon as they are read,
so they never reach a repr or a log line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from adapter.alipayplus.signing import load_private_key, load_public_key
from adapter.errors import ConfigError
from adapter.secret import Secret

CONFIG_ENV = "PAYGATE_ADAPTER_CONFIG"
DEFAULT_CONFIG_PATH = "adapter.yaml"

SuccessStatus = Literal["OK", "AUTHORIZED"]
ReturnMethod = Literal["post", "get"]

_HOST_PATTERN = re.compile(r"^(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")
_MERCHANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,30}$")


@dataclass(frozen=True)
class AlipayMerchant:
    """How the merchant is presented to Alipay+ in ``order.merchant``."""

    reference_merchant_id: str
    mcc: str
    name: str
    region: str
    display_name: str | None = None


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    hmac_keys: tuple[Secret, ...]  # newest first: it signs, all of them verify
    blowfish_key: Secret
    allowed_hosts: tuple[str, ...]
    alipay: AlipayMerchant
    success_status: SuccessStatus = "OK"
    return_method: ReturnMethod = "post"
    allow_http: bool = False
    allow_private_targets: bool = False
    min_amount: int = 1
    settlement_currency: str | None = None

    @property
    def signing_key(self) -> Secret:
        return self.hmac_keys[0]

    def host_allowed(self, host: str, port: int | None) -> bool:
        """Whether ``host[:port]`` matches an allowlist entry (``*.`` matches subdomains)."""
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            name, _, entry_port = entry.lower().partition(":")
            if entry_port and (port is None or int(entry_port) != port):
                continue
            if name.startswith("*."):
                if host.endswith(name[1:]) and host != name[2:]:
                    return True
            elif host == name:
                return True
        return False


@dataclass(frozen=True)
class AlipayConnection:
    gateway_url: str
    client_id: str
    private_key: RSAPrivateKey = field(repr=False)
    alipay_public_key: RSAPublicKey = field(repr=False)
    key_version: str = "1"
    timeout_seconds: float | None = None  # caps every call's timeout (default: 8 s, inquiry 5 s)


@dataclass(frozen=True)
class Settings:
    """Everything the adapter process needs, read once at start-up."""

    public_url: str  # how browsers and Alipay+ reach this adapter
    database_url: str
    token_secret: Secret
    alipay: AlipayConnection
    merchants: Mapping[str, Merchant]
    return_wait_seconds: float = 2.0  # how long the browser return waits for a final state
    max_body_bytes: int = 65536
    reconcile_interval_seconds: float = 30.0  # how often open payments are inquired
    reconcile_after_seconds: float = 60.0  # how long a payment or step stays open before that
    # Later checks of one payment or step come rarer: doubling, up to this interval.
    reconcile_max_interval_seconds: float = 600.0
    reconcile_concurrency: int = 16  # payments and steps the reconciler works on at once
    # How long alipayplus.aspx retries pay (the browser waits), each attempt with the same id.
    pay_budget_seconds: float = 12.0
    # How long a credit/reverse/inquire may retry Alipay+ before answering "pending".
    operation_budget_seconds: float = 15.0
    req_id_answer_days: float = 30.0  # how long a ReqId's answer is replayed byte for byte
    # A payment Alipay+ has not settled this long after its creation is cancelled: the Cashier
    # checkout expires after 10 minutes, so nobody can still pay it.
    cancel_open_after_seconds: float = 900.0

    def merchant(self, merchant_id: str) -> Merchant | None:
        return self.merchants.get(merchant_id)


class _Reader:
    """Walks the parsed YAML and collects every problem instead of stopping at the first."""

    def __init__(self, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self.environ = environ
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def section(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, Mapping):
            self.problem(f"{path}{key}", "missing or not a mapping")
            return {}
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{path}{key}", "required text is missing")
            return ""
        return value.strip()

    def optional_text(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        if data.get(key) is None:
            return None
        return self.text(data, key, path)

    def flag(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{path}{key}", "must be true or false")
            return default
        return value

    def secret(self, value: Any, path: str) -> Secret | None:
        if isinstance(value, str) and value:
            return Secret(value)
        if isinstance(value, Mapping) and len(value) == 1:
            ((kind, ref),) = value.items()
            if kind == "env" and isinstance(ref, str):
                if ref not in self.environ:
                    self.problem(path, f"environment variable {ref} is not set")
                    return None
                return Secret(self.environ[ref])
            if kind == "file" and isinstance(ref, str):
                file = Path(ref) if Path(ref).is_absolute() else self.base_dir / ref
                try:
                    return Secret(file.read_text(encoding="utf-8").strip())
                except OSError as exc:
                    self.problem(path, f"cannot read key file {ref}: {exc.strerror}")
                    return None
            if kind == "value" and isinstance(ref, str) and ref:
                return Secret(ref)
        self.problem(path, "a key must be a string, {env: NAME}, {file: path} or {value: ...}")
        return None


def _read_alipay(reader: _Reader, data: Mapping[str, Any]) -> AlipayConnection | None:
    path = "alipayplus."
    gateway_url = reader.text(data, "gateway_url", path)
    if gateway_url and not re.match(r"^https?://", gateway_url):
        reader.problem(f"{path}gateway_url", "must be an http(s) URL")
    client_id = reader.text(data, "client_id", path)
    key_version = reader.text(data, "key_version", path, default="1")
    private = reader.secret(data.get("private_key"), f"{path}private_key")
    public = reader.secret(data.get("alipay_public_key"), f"{path}alipay_public_key")
    private_key = public_key = None
    if private is not None:
        try:
            private_key = load_private_key(private.reveal())
        except (ValueError, TypeError):
            reader.problem(f"{path}private_key", "not an RSA private key (PEM or base64 DER)")
    if public is not None:
        try:
            public_key = load_public_key(public.reveal())
        except (ValueError, TypeError):
            reader.problem(f"{path}alipay_public_key", "not an RSA public key (PEM or base64)")
    timeout = data.get("timeout_seconds")
    if timeout is not None and (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 60
    ):
        reader.problem(f"{path}timeout_seconds", "must be a number of seconds from 0 to 60")
        timeout = None
    if private_key is None or public_key is None:
        return None
    return AlipayConnection(
        gateway_url.rstrip("/"),
        client_id,
        private_key,
        public_key,
        key_version,
        None if timeout is None else float(timeout),
    )


def _read_merchant(reader: _Reader, data: Any, index: int) -> Merchant | None:
    path = f"merchants[{index}]."
    if not isinstance(data, Mapping):
        reader.problem(f"merchants[{index}]", "must be a mapping")
        return None
    before = len(reader.problems)
    merchant_id = reader.text(data, "merchant_id", path)
    if merchant_id and not _MERCHANT_ID_PATTERN.match(merchant_id):
        reader.problem(f"{path}merchant_id", "use 1-30 letters, digits, '_', '.' or '-'")
    raw_keys = data.get("hmac_keys")
    hmac_keys: list[Secret] = []
    if not isinstance(raw_keys, list) or not raw_keys:
        reader.problem(f"{path}hmac_keys", "a list with at least one key is required")
    else:
        for n, raw in enumerate(raw_keys):
            key = reader.secret(raw, f"{path}hmac_keys[{n}]")
            if key is not None:
                hmac_keys.append(key)
    blowfish = reader.secret(data.get("blowfish_key"), f"{path}blowfish_key")
    if blowfish is not None and not 1 <= len(blowfish.reveal_bytes()) <= 56:
        reader.problem(f"{path}blowfish_key", "must be 1 to 56 bytes long")
    hosts = data.get("allowed_hosts")
    if not isinstance(hosts, list) or not hosts:
        reader.problem(f"{path}allowed_hosts", "list the hosts of URLSuccess/URLFailure/URLNotify")
        hosts = []
    for n, host in enumerate(hosts):
        if not isinstance(host, str) or not _HOST_PATTERN.match(host):
            reader.problem(
                f"{path}allowed_hosts[{n}]", "must be a host name, '*.domain' or host:port"
            )
    alipay = reader.section(data, "alipay", path)
    alipay_path = f"{path}alipay."
    alipay_merchant = AlipayMerchant(
        reference_merchant_id=reader.text(alipay, "reference_merchant_id", alipay_path),
        mcc=reader.text(alipay, "mcc", alipay_path),
        name=reader.text(alipay, "name", alipay_path),
        region=reader.text(alipay, "region", alipay_path),
        display_name=reader.optional_text(alipay, "display_name", alipay_path),
    )
    if alipay_merchant.mcc and not re.fullmatch(r"\d{4}", alipay_merchant.mcc):
        reader.problem(f"{alipay_path}mcc", "must be a 4-digit merchant category code")
    if alipay_merchant.region and not re.fullmatch(r"[A-Z]{2}", alipay_merchant.region):
        reader.problem(f"{alipay_path}region", "must be an ISO 3166 alpha-2 code, e.g. DE")
    success_status = data.get("success_status", "OK")
    if success_status not in ("OK", "AUTHORIZED"):
        reader.problem(f"{path}success_status", "must be OK or AUTHORIZED")
    return_method = data.get("return_method", "post")
    if return_method not in ("post", "get"):
        reader.problem(f"{path}return_method", "must be post or get")
    min_amount = data.get("min_amount", 1)
    if not isinstance(min_amount, int) or isinstance(min_amount, bool) or min_amount < 1:
        reader.problem(f"{path}min_amount", "must be a whole number of at least 1")
        min_amount = 1
    settlement = reader.optional_text(data, "settlement_currency", path)
    if settlement is not None and not re.fullmatch(r"[A-Z]{3}", settlement):
        reader.problem(f"{path}settlement_currency", "must be an ISO 4217 code such as EUR")
    allow_http = reader.flag(data, "allow_http", path, False)
    allow_private = reader.flag(data, "allow_private_targets", path, False)
    if len(reader.problems) > before or blowfish is None or not hmac_keys:
        return None
    return Merchant(
        merchant_id=merchant_id,
        hmac_keys=tuple(hmac_keys),
        blowfish_key=blowfish,
        allowed_hosts=tuple(str(h) for h in hosts),
        alipay=alipay_merchant,
        success_status=success_status,
        return_method=return_method,
        allow_http=allow_http,
        allow_private_targets=allow_private,
        min_amount=min_amount,
        settlement_currency=settlement,
    )


def parse_settings(
    data: Any, *, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build :class:`Settings` or raise :class:`ConfigError` listing every problem."""
    reader = _Reader(base_dir, os.environ if environ is None else environ)
    if not isinstance(data, Mapping):
        raise ConfigError(["(top): the file must hold a mapping"])
    adapter = reader.section(data, "adapter", "")
    public_url = reader.text(adapter, "public_url", "adapter.")
    if public_url and not re.match(r"^https?://[^/]+", public_url):
        reader.problem("adapter.public_url", "must be an absolute http(s) URL")
    database_url = reader.text(
        adapter, "database_url", "adapter.", default="sqlite+aiosqlite:///adapter.sqlite3"
    )
    token_secret = reader.secret(adapter.get("token_secret"), "adapter.token_secret")
    if token_secret is not None and len(token_secret.reveal()) < 16:
        reader.problem("adapter.token_secret", "use at least 16 characters")
    return_wait = adapter.get("return_wait_seconds", 2.0)
    if not isinstance(return_wait, int | float) or not 0 <= return_wait <= 10:
        reader.problem("adapter.return_wait_seconds", "must be a number from 0 to 10")
        return_wait = 2.0
    intervals: dict[str, float] = {}
    for key, default in (
        ("reconcile_interval_seconds", 30.0),
        ("reconcile_after_seconds", 60.0),
        ("reconcile_max_interval_seconds", 600.0),
        ("operation_budget_seconds", 15.0),
        ("pay_budget_seconds", 12.0),
        ("req_id_answer_days", 30.0),
        ("cancel_open_after_seconds", 900.0),
    ):
        value = adapter.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            unit = "days" if key.endswith("_days") else "seconds"
            reader.problem(f"adapter.{key}", f"must be a positive number of {unit}")
            value = default
        intervals[key] = float(value)
    if intervals["reconcile_after_seconds"] <= intervals["operation_budget_seconds"]:
        # The reconciler must never re-send a step its own request is still retrying.
        reader.problem(
            "adapter.reconcile_after_seconds", "must be longer than operation_budget_seconds"
        )
    if intervals["cancel_open_after_seconds"] < 2 * intervals["pay_budget_seconds"]:
        # A pay still retried, or still in flight at Alipay+, must not meet our cancel.
        reader.problem(
            "adapter.cancel_open_after_seconds", "must be at least twice pay_budget_seconds"
        )
    concurrency = adapter.get("reconcile_concurrency", 16)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not concurrency >= 1:
        reader.problem("adapter.reconcile_concurrency", "must be a whole number of at least 1")
        concurrency = 16
    alipay = _read_alipay(reader, reader.section(data, "alipayplus", ""))
    merchants: dict[str, Merchant] = {}
    raw_merchants = data.get("merchants")
    if not isinstance(raw_merchants, list) or not raw_merchants:
        reader.problem("merchants", "a list with at least one merchant is required")
        raw_merchants = []
    for index, raw in enumerate(raw_merchants):
        merchant = _read_merchant(reader, raw, index)
        if merchant is None:
            continue
        if merchant.merchant_id in merchants:
            reader.problem(f"merchants[{index}].merchant_id", "listed twice")
        merchants[merchant.merchant_id] = merchant
    if reader.problems or alipay is None or token_secret is None:
        raise ConfigError(reader.problems or ["alipayplus: incomplete"])
    return Settings(
        public_url=public_url.rstrip("/"),
        database_url=_resolve_sqlite_path(database_url, base_dir),
        token_secret=token_secret,
        alipay=alipay,
        merchants=merchants,
        return_wait_seconds=float(return_wait),
        reconcile_interval_seconds=intervals["reconcile_interval_seconds"],
        reconcile_after_seconds=intervals["reconcile_after_seconds"],
        reconcile_max_interval_seconds=intervals["reconcile_max_interval_seconds"],
        reconcile_concurrency=concurrency,
        operation_budget_seconds=intervals["operation_budget_seconds"],
        pay_budget_seconds=intervals["pay_budget_seconds"],
        req_id_answer_days=intervals["req_id_answer_days"],
        cancel_open_after_seconds=intervals["cancel_open_after_seconds"],
    )


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Relative SQLite paths are relative to the config file, not the working directory."""
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and not url[len(prefix) :].startswith("/"):
        return prefix + str((base_dir / url[len(prefix) :]).resolve())
    return url


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the configuration file named by ``path``, ``$PAYGATE_ADAPTER_CONFIG`` or the default."""
    file = Path(path or os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_PATH))
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{file}: not valid YAML: {exc}"]) from None
    return parse_settings(data, base_dir=file.parent.resolve())
