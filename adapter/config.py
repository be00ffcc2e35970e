"""The adapter's configuration: one YAML file listing the merchants and the Alipay+ connection.

The file's path comes from ``PAYGATE_ADAPTER_CONFIG`` (default ``adapter.yaml``). The models
below state every key once, with its default and what it does; :func:`config_reference` renders
them as the annotated example the README shows. Validation is strict (a boolean is never a
number, an unknown key is an error) and reports every problem at once as ``path: message``.

A key may be given inline (a plain string or ``{value: ...}``), as ``{file: path}`` (relative to
the config file) or as ``{env: NAME}``. Keys are wrapped in :class:`~adapter.secret.Secret` as
soon as they are read, so they never reach a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from adapter.alipayplus.signing import load_private_key, load_public_key
from adapter.errors import ConfigError
from adapter.net.allowlist import Allowlist, entry_problem
from adapter.secret import Secret

CONFIG_ENV = "PAYGATE_ADAPTER_CONFIG"
DEFAULT_CONFIG_PATH = "adapter.yaml"

SuccessStatus = Literal["OK", "AUTHORIZED"]
ReturnMethod = Literal["post", "get"]


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("config", message)


def _must(test: Callable[[Any], bool], message: str) -> AfterValidator:
    """A rule on an already typed value; ``message`` says what a good value looks like."""

    def check(value: Any) -> Any:
        if not test(value):
            raise _problem(message)
        return value

    return AfterValidator(check)


def _matches(pattern: str, message: str) -> AfterValidator:
    return _must(lambda text: re.fullmatch(pattern, text) is not None, message)


def _number_as_text(value: object) -> object:
    # YAML reads `client_id: 12345` or `mcc: 5732` as a number; the text is what was meant.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# A BeforeValidator runs before the constraints to its left, so they check the text.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), BeforeValidator(_number_as_text)
]
AbsoluteUrl = Annotated[
    Text,
    _matches(r"https?://[^/\s]+\S*", "must be an absolute http(s) URL"),
    AfterValidator(lambda url: url.rstrip("/")),
]


def _read_key(value: object, info: ValidationInfo) -> Secret:
    """A key as the file gives it: a string, ``{value: ...}``, ``{env: NAME}``, ``{file: path}``."""
    if isinstance(value, Secret):  # built in code, not read from a file
        return value
    context = info.context or {}
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, ref),) = value.items()
        if kind == "env" and isinstance(ref, str):
            environ = context.get("environ", os.environ)
            if ref not in environ:
                raise _problem(f"environment variable {ref} is not set")
            return Secret(environ[ref])
        if kind == "file" and isinstance(ref, str):
            try:  # an absolute ref replaces base_dir
                text = Path(context.get("base_dir", "."), ref).read_text(encoding="utf-8")
            except OSError as exc:
                raise _problem(f"cannot read key file {ref}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise _problem(f"key file {ref} is not UTF-8 text") from None
            return Secret(text.strip())
        if kind == "value":
            value = ref
    if isinstance(value, str) and value:
        return Secret(value)
    raise _problem("a key must be a string, {env: NAME}, {file: path} or {value: ...}")


def _rsa_key(load: Callable[[str], object], kind: type[object], message: str) -> PlainValidator:
    def read(value: object, info: ValidationInfo) -> object:
        if isinstance(value, kind):  # built in code, not read from a file
            return value
        key = _read_key(value, info)
        try:
            return load(key.reveal())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise _problem(message) from None

    return PlainValidator(read)


Key = Annotated[Secret, PlainValidator(_read_key)]
PrivateKey = Annotated[
    RSAPrivateKey,
    _rsa_key(load_private_key, RSAPrivateKey, "not an RSA private key (PEM or base64 DER)"),
]
PublicKey = Annotated[
    RSAPublicKey,
    _rsa_key(load_public_key, RSAPublicKey, "not an RSA public key (PEM or base64)"),
]
TokenSecret = Annotated[
    Key, _must(lambda key: len(key.reveal()) >= 16, "use at least 16 characters")
]
BlowfishKey = Annotated[
    Key, _must(lambda key: 1 <= len(key.reveal_bytes()) <= 56, "must be 1 to 56 bytes long")
]


def _allowlist_entry(entry: str) -> str:
    problem = entry_problem(entry)
    if problem is not None:
        raise _problem(problem)
    return entry


Host = Annotated[str, AfterValidator(_allowlist_entry)]
Mcc = Annotated[Text, _matches(r"\d{4}", "must be a 4-digit merchant category code")]
Region = Annotated[Text, _matches(r"[A-Z]{2}", "must be an ISO 3166 alpha-2 code, e.g. DE")]
Currency = Annotated[Text, _matches(r"[A-Z]{3}", "must be an ISO 4217 code such as EUR")]
Seconds = Annotated[float, Field(gt=0)]
# Not Field(min_length=1): pydantic counts only the valid entries, so one bad entry would
# also be reported as an empty list.
NonEmpty = _must(bool, "must list at least one")


def _listed_once(merchant_id: str, info: ValidationInfo) -> str:
    # The file's merchants are validated in order with one shared context, so the second
    # merchant with an id is the one reported, under its own path.
    if info.context is not None:
        seen: set[str] = info.context.setdefault("merchant_ids", set())
        if merchant_id in seen:
            raise _problem("listed twice")
        seen.add(merchant_id)
    return merchant_id


def _resolve_sqlite_path(url: str, info: ValidationInfo) -> str:
    """Relative SQLite paths are relative to the config file, not the working directory."""
    prefix = "sqlite+aiosqlite:///"
    base_dir = (info.context or {}).get("base_dir")
    if base_dir is None or not url.startswith(prefix) or url[len(prefix) :].startswith("/"):
        return url
    return prefix + str((Path(base_dir) / url[len(prefix) :]).resolve())


class _Model(BaseModel):
    # validate_default: a default goes through the same rules (the SQLite path is resolved,
    # the cancel delay is compared with the pay budget).
    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


class AlipayMerchant(_Model):
    """How the merchant is presented to Alipay+ in ``order.merchant``."""

    reference_merchant_id: Text = Field(
        description="the merchant's id at Alipay+ (referenceMerchantId)", examples=["M-0001"]
    )
    mcc: Mcc = Field(description="merchant category code, 4 digits", examples=["5732"])
    name: Text = Field(description="the merchant's name", examples=["My Shop"])
    region: Region = Field(description="the merchant's country, ISO 3166 alpha-2", examples=["DE"])
    display_name: Text | None = Field(
        None, description="the name shown to the shopper, if not name", examples=["My Shop Online"]
    )


class Merchant(_Model):
    """A shop that speaks Paygate to the adapter, with its keys and its allowlist."""

    merchant_id: Annotated[
        Text,
        _matches(r"[A-Za-z0-9_.-]{1,30}", "use 1-30 letters, digits, '_', '.' or '-'"),
        AfterValidator(_listed_once),
    ] = Field(description="the shop's Paygate MerchantID", examples=["MyShop"])
    hmac_keys: Annotated[tuple[Key, ...], NonEmpty] = Field(
        strict=False,  # a YAML list
        description="MAC keys, newest first; the newest signs, all of them verify",
        examples=[[{"env": "MYSHOP_HMAC"}, {"env": "MYSHOP_HMAC_OLD"}]],
    )
    blowfish_key: BlowfishKey = Field(
        description="encrypts Data, 1 to 56 bytes", examples=[{"env": "MYSHOP_BLOWFISH"}]
    )
    allowed_hosts: Annotated[tuple[Host, ...], NonEmpty] = Field(
        strict=False,  # a YAML list
        description=(
            "hosts URLSuccess/URLFailure/URLNotify may use: 'host' (default port only), "
            "'host:port', '*.domain' (subdomains)"
        ),
        examples=[["shop.example.com", "*.shop.example.com"]],
    )
    success_status: SuccessStatus = Field(
        "OK", description="Status of a paid payment; AUTHORIZED for shops that only accept that"
    )
    return_method: ReturnMethod = Field(
        "get",
        description="get: 303 redirect with the result in the query; post: auto-submitting form",
    )
    allow_http: bool = Field(False, description="accept http:// shop URLs (demo/test shops only)")
    allow_private_targets: bool = Field(
        False, description="accept shop URLs on private and loopback addresses"
    )
    min_amount: int = Field(1, ge=1, description="smallest Amount accepted, in minor units")
    settlement_currency: Currency | None = Field(
        None, description="ISO 4217 code used when the request has no FxCurrency", examples=["EUR"]
    )
    alipay: AlipayMerchant = Field(description="how Alipay+ shows the merchant")

    @property
    def signing_key(self) -> Secret:
        return self.hmac_keys[0]

    @cached_property
    def allowlist(self) -> Allowlist:
        """The only thing that vouches for a shop URL (see ``core.urls``)."""
        return Allowlist(self.allowed_hosts)


class AlipayConnection(_Model):
    """How the adapter reaches Alipay+ and signs for it."""

    gateway_url: AbsoluteUrl = Field(
        description="the Alipay+ domain of your region",
        examples=["https://open-sea-global.alipayplus.com"],
    )
    client_id: Text = Field(
        description="our client id at Alipay+", examples=["SANDBOX_5YC47N2ZQHJ004124"]
    )
    private_key: PrivateKey = Field(
        repr=False,
        description="ours, signs requests; PEM (PKCS#1/#8) or base64 DER",
        examples=[{"file": "keys/acqp_private.pem"}],
    )
    alipay_public_key: PublicKey = Field(
        repr=False,
        description="Alipay+'s, verifies its answers; PEM or base64",
        examples=[{"file": "keys/alipay_public.pem"}],
    )
    key_version: Text = Field("1", description="the keyVersion our signatures name")
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] | None = Field(
        None,
        description="caps every call's timeout, in seconds (unset: 8, inquiry 5)",
        examples=[8],
    )


def _is_argon2_hash(text: str) -> bool:
    try:
        extract_parameters(text)
    except InvalidHashError:
        return False
    return True


def _operator_listed_once(name: str, info: ValidationInfo) -> str:
    if info.context is not None:
        seen: set[str] = info.context.setdefault("operator_names", set())
        if name in seen:
            raise _problem("listed twice")
        seen.add(name)
    return name


OperatorName = Annotated[
    Text,
    _matches(r"[A-Za-z0-9_.@-]{1,64}", "use 1-64 letters, digits, '_', '.', '@' or '-'"),
    AfterValidator(_operator_listed_once),
]
PasswordHash = Annotated[
    Text,
    _must(_is_argon2_hash, "must be an argon2 hash, as printed by paygate-adapter hash-password"),
]


class Operator(_Model):
    """Someone who may log in to the console; every action is journalled with the name."""

    name: OperatorName = Field(description="the operator's login name", examples=["alice"])
    password_hash: PasswordHash = Field(
        repr=False,
        description="argon2, printed by `paygate-adapter hash-password`",
        examples=[
            "$argon2id$v=19$m=65536,t=3,p=4$Z6lZkLJDBxZv3mNKjMNqVg$"
            "xSPUAnbyMNXIGdZWJgCr6Pdz8wY4RB/UoVYGxyNKn4E"
        ],
    )


class Console(_Model):
    """The operators' web console under ``/console/``."""

    operators: tuple[Operator, ...] = Field(
        (),
        strict=False,  # a YAML list
        description="who may log in; without operators the console is off (404)",
    )
    session_hours: Annotated[float, Field(gt=0, le=720)] = Field(
        8.0, description="hours a login lasts before the operator logs in again"
    )
    login_attempts: int = Field(
        5, ge=1, description="failed logins from one address, or for one name, before a lockout"
    )
    lockout_seconds: Seconds = Field(
        900.0, description="seconds failed logins are counted, and a lockout lasts"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.operators)

    def operator(self, name: str) -> Operator | None:
        return next((op for op in self.operators if op.name == name), None)


class _AdapterSection(_Model):
    """The ``adapter:`` section; :class:`Settings` adds what the other sections hold."""

    public_url: AbsoluteUrl = Field(
        description="how browsers and Alipay+ reach this adapter",
        examples=["https://paygate.example.com"],
    )
    database_url: Annotated[Text, AfterValidator(_resolve_sqlite_path)] = Field(
        "sqlite+aiosqlite:///adapter.sqlite3",
        description="one process; several: postgresql://user@host/db",
    )
    token_secret: TokenSecret = Field(
        description="signs the return-URL tokens, at least 16 characters",
        examples=[{"env": "ADAPTER_TOKEN_SECRET"}],
    )
    return_wait_seconds: float = Field(
        2.0, ge=0, le=10, description="seconds the browser return waits for a final state (0-10)"
    )
    pay_budget_seconds: Seconds = Field(
        12.0, description="seconds alipayplus.aspx retries pay while the browser waits"
    )
    operation_budget_seconds: Seconds = Field(
        15.0, description="seconds credit/reverse/inquire retry Alipay+ before answering pending"
    )
    reconcile_interval_seconds: Seconds = Field(
        30.0, description="seconds between the reconciler's passes over what is due"
    )
    reconcile_after_seconds: Seconds = Field(
        60.0,
        description="seconds a payment or step is open before the reconciler first looks at it",
    )
    reconcile_max_interval_seconds: Seconds = Field(
        600.0, description="later looks at an open row come doubling, up to this many seconds"
    )
    reconcile_concurrency: int = Field(
        16, ge=1, description="payments and steps the reconciler works on at once"
    )
    # The Cashier checkout expires after 10 minutes, so nobody can still pay after 15.
    cancel_open_after_seconds: Seconds = Field(
        900.0,
        description="seconds after creation an unsettled payment is cancelled (>= 2 x pay budget)",
    )
    notify_retry_seconds: tuple[Seconds, ...] = Field(
        (30.0, 120.0, 600.0, 3600.0, 21600.0),
        strict=False,  # a YAML list
        description="a URLNotify the shop did not take is retried after these delays, then dead",
    )
    req_id_answer_days: Annotated[float, Field(gt=0)] = Field(
        30.0, description="days a ReqId's answer is replayed byte for byte"
    )
    journal_days: Annotated[float, Field(gt=0)] = Field(
        400.0, description="days the event journal keeps every hop of a payment"
    )
    shutdown_grace_seconds: Seconds = Field(
        30.0,
        description="on SIGTERM, seconds to finish requests and deliveries under way",
    )

    @field_validator("reconcile_after_seconds")
    @classmethod
    def _outlasts_a_step(cls, seconds: float, info: ValidationInfo) -> float:
        # The reconciler must never re-send a step its own request is still retrying.
        budget = info.data.get("operation_budget_seconds")
        if budget is not None and seconds <= budget:
            raise _problem("must be longer than operation_budget_seconds")
        return seconds

    @field_validator("cancel_open_after_seconds")
    @classmethod
    def _outlasts_pay_attempts(cls, seconds: float, info: ValidationInfo) -> float:
        # A pay still retried, or still in flight at Alipay+, must not meet our cancel.
        pay_budget = info.data.get("pay_budget_seconds")
        if pay_budget is not None and seconds < 2 * pay_budget:
            raise _problem("must be at least twice pay_budget_seconds")
        return seconds


class Settings(_AdapterSection):
    """Everything the adapter process needs, read once at start-up."""

    alipay: AlipayConnection
    merchants: Mapping[str, Merchant]  # by merchant_id
    max_body_bytes: int = Field(65536, gt=0, description="largest request body read, in bytes")
    console: Console = Console()

    def merchant(self, merchant_id: str) -> Merchant | None:
        return self.merchants.get(merchant_id)


class _ConfigFile(_Model):
    """The file as written; :func:`parse_settings` turns it into :class:`Settings`."""

    adapter: _AdapterSection = Field(description="the adapter itself")
    alipayplus: AlipayConnection = Field(description="the connection to Alipay+")
    merchants: Annotated[tuple[Merchant, ...], NonEmpty] = Field(
        strict=False, description="the shops, each with its own keys"
    )
    console: Console = Field(
        Console(), description="the operators' web console under /console/ (off without operators)"
    )


# Our wording for pydantic's error types. None of them, nor pydantic's own messages, quote the
# value, which may be a key.
_MESSAGES = {
    "missing": "required, but missing",
    "extra_forbidden": "unknown key",
    "model_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "tuple_type": "must be a list",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
}


def _describe(error: ErrorDetails) -> str:
    """``path: message``, the path as written in YAML terms: ``merchants[0].alipay.mcc``."""
    path = "".join(f"[{at}]" if isinstance(at, int) else f".{at}" for at in error["loc"])
    template = _MESSAGES.get(error["type"])
    if template is None:
        message = error["msg"]
    else:
        message = template.format(**{k: _plain(v) for k, v in error.get("ctx", {}).items()})
    return f"{path.lstrip('.') or '(top)'}: {message}"


def _plain(value: object) -> str:
    """A limit as the reader would write it: ``60`` not ``60.0``, ``OK or AUTHORIZED`` unquoted."""
    return f"{value:g}" if isinstance(value, float) else str(value).replace("'", "")


def parse_settings(
    data: Any, *, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build :class:`Settings` or raise :class:`ConfigError` listing every problem."""
    context = {"base_dir": base_dir, "environ": os.environ if environ is None else environ}
    try:
        file = _ConfigFile.model_validate(data, context=context)
    except ValidationError as error:
        # `from None`: the chained ValidationError would print the input, keys included.
        problems = [_describe(e) for e in error.errors(include_url=False, include_input=False)]
        raise ConfigError(problems) from None
    return Settings(
        **dict(file.adapter),
        alipay=file.alipayplus,
        merchants={merchant.merchant_id: merchant for merchant in file.merchants},
        console=file.console,
    )


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


def config_reference() -> str:
    """The configuration file documented from the models: each key with its default (or, when
    it has none, an example) and what it does. The README shows it; a test keeps them equal."""
    return "".join(f"{line}\n" for line in _reference_lines(_ConfigFile, ""))


def _reference_lines(model: type[BaseModel], indent: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        description = field.description
        assert description, f"{model.__name__}.{name} needs a description for the reference"
        annotation = field.annotation
        listed = get_origin(annotation) is tuple
        section = get_args(annotation)[0] if listed else annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            yield _annotated(f"{indent}{name}:", description)
            if not listed:
                yield from _reference_lines(section, indent + "  ")
                continue
            lines = list(_reference_lines(section, indent + "    "))
            yield f"{indent}  - {lines[0].lstrip()}"  # one example entry
            yield from lines[1:]
        elif field.is_required():
            yield _annotated(f"{indent}{name}: {_example(field.examples)}", description, "required")
        elif field.default is None:
            yield _annotated(f"{indent}# {name}: {_example(field.examples)}", description)
        else:
            yield _annotated(f"{indent}{name}: {_yaml(field.default)}", description)


def _annotated(line: str, description: str, note: str = "") -> str:
    comment = f"{note}: {description}" if note else description
    return f"{line:<42}  # {comment}"


def _example(examples: list[Any] | None) -> str:
    assert examples, "a key without a default needs an example for the reference"
    return _yaml(examples[0])


def _yaml(value: object) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True)).removesuffix("...\n").strip()
