from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import ValidationError

from adapter.alipayplus.signing import generate_private_key, private_key_pem, public_key_pem
from adapter.cli import main
from adapter.config import Settings, config_reference, load_settings, parse_settings
from adapter.errors import ConfigError
from adapter.net.urls import parse_shop_url
from adapter.secret import Secret
from tests.support.config import config_data, with_values, write_config


def test_keys_from_env_and_files_load_and_never_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "new-hmac-secret-value")
    settings = load_settings(write_config(tmp_path))
    merchant = settings.merchants["Shop"]
    assert merchant.signing_key.reveal() == "new-hmac-secret-value"
    assert [k.reveal() for k in merchant.hmac_keys] == ["new-hmac-secret-value", "old-hmac-key"]
    text = repr(settings) + str(merchant)
    assert "new-hmac-secret-value" not in text and "Bf16charsKey" not in text
    assert "t" * 32 not in text


def test_allowlist_matches_hosts_and_subdomains_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    merchant = load_settings(write_config(tmp_path)).merchants["Shop"]
    admitted = [
        url
        for url in (
            "https://shop.example/ok",
            "https://pay.shop.example:443/ok",
            "https://evilshop.example/",
            "https://shop.example.evil/",
            "https://shop.example:8443/",
        )
        if merchant.allowlist.admits(parse_shop_url(url))
    ]
    assert admitted == ["https://shop.example/ok", "https://pay.shop.example:443/ok"]


def test_every_problem_is_reported_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKEN", raising=False)
    monkeypatch.setenv("HMAC_NEW", "k")
    path = write_config(tmp_path, success_status="PAID", allowed_hosts=[], alipay={"mcc": "12"})
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = "\n".join(caught.value.problems)
    assert "adapter.token_secret: environment variable TOKEN is not set" in problems
    assert "merchants[0].success_status: must be OK or AUTHORIZED" in problems
    assert "merchants[0].allowed_hosts" in problems
    assert "merchants[0].alipay.mcc" in problems
    assert "merchants[0].alipay.name: required, but missing" in problems


def test_check_config_exits_1_and_names_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    assert main(["check-config", str(write_config(tmp_path))]) == 0
    assert main(["check-config", str(write_config(tmp_path, return_method="put"))]) == 1
    assert "merchants[0].return_method: must be post or get" in capsys.readouterr().err


def test_operation_budget_and_upstream_timeout_are_read_with_safe_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    defaults = load_settings(write_config(tmp_path))
    assert (defaults.operation_budget_seconds, defaults.alipay.timeout_seconds) == (15.0, None)
    assert defaults.req_id_answer_days == 30.0
    assert (defaults.pay_budget_seconds, defaults.cancel_open_after_seconds) == (12.0, 900.0)
    path = with_values(write_config(tmp_path), "adapter", operation_budget_seconds=4)
    tuned = load_settings(with_values(path, "alipayplus", timeout_seconds=2.5))
    assert (tuned.operation_budget_seconds, tuned.alipay.timeout_seconds) == (4.0, 2.5)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("adapter", "operation_budget_seconds", 0),
        ("adapter", "operation_budget_seconds", "soon"),
        ("adapter", "req_id_answer_days", -3),
        ("adapter", "pay_budget_seconds", 0),
        ("adapter", "cancel_open_after_seconds", 23),  # less than twice the pay budget
        ("alipayplus", "timeout_seconds", -1),
        ("alipayplus", "timeout_seconds", 600),
    ],
)
def test_bad_budgets_and_timeouts_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, key: str, value: object
) -> None:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    with pytest.raises(ConfigError) as caught:
        load_settings(with_values(write_config(tmp_path), section, **{key: value}))
    assert any(problem.startswith(f"{section}.{key}:") for problem in caught.value.problems)


ENV = {"TOKEN": "t" * 32, "HMAC_NEW": "new-hmac-secret-value"}


def _parse(data: object, tmp_path: Path) -> Settings:
    return parse_settings(data, base_dir=tmp_path, environ=ENV)


def _problems(data: object, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _parse(data, tmp_path)
    return caught.value.problems


def _merchant(data: dict[str, Any], index: int = 0) -> dict[str, Any]:
    merchant: dict[str, Any] = data["merchants"][index]
    return merchant


def test_unset_keys_take_their_documented_defaults(tmp_path: Path) -> None:
    settings = _parse(config_data(tmp_path), tmp_path)
    merchant = settings.merchants["Shop"]
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/adapter.sqlite3"
    assert (
        settings.return_wait_seconds,
        settings.reconcile_interval_seconds,
        settings.reconcile_after_seconds,
        settings.pay_budget_seconds,
        settings.cancel_open_after_seconds,
        settings.operation_budget_seconds,
        settings.req_id_answer_days,
        settings.max_body_bytes,
    ) == (2.0, 30.0, 60.0, 12.0, 900.0, 15.0, 30.0, 65536)
    assert (settings.alipay.key_version, settings.alipay.timeout_seconds) == ("1", None)
    assert (merchant.success_status, merchant.return_method) == ("OK", "get")
    assert (merchant.allow_http, merchant.allow_private_targets) == (False, False)
    assert (merchant.min_amount, merchant.settlement_currency) == (1, None)
    assert merchant.alipay.display_name is None


def test_every_problem_in_every_section_is_reported_at_once_with_its_yaml_path(
    tmp_path: Path,
) -> None:
    data = config_data(tmp_path)
    data["merchants"].append(copy.deepcopy(_merchant(data)))  # the same merchant_id again
    data["adapter"].update(public_url="ftp://pg.example", return_wait_seconds=11)
    data["alipayplus"].update(client_id=True, timeout_seconds=0, key_versoin="2")
    _merchant(data).update(allowed_hosts=["shop.example", "bad host"], min_amount=0)
    _merchant(data)["alipay"].update(region="de", mcc="12345")
    assert _problems(data, tmp_path) == [
        "adapter.public_url: must be an absolute http(s) URL",
        "adapter.return_wait_seconds: must be at most 10",
        "alipayplus.client_id: must be text",
        "alipayplus.timeout_seconds: must be more than 0",
        "alipayplus.key_versoin: unknown key",
        "merchants[0].allowed_hosts[1]: must not contain control, invisible or whitespace"
        " characters",
        "merchants[0].min_amount: must be at least 1",
        "merchants[0].alipay.mcc: must be a 4-digit merchant category code",
        "merchants[0].alipay.region: must be an ISO 3166 alpha-2 code, e.g. DE",
        "merchants[1].merchant_id: listed twice",
    ]


@pytest.mark.parametrize("data", [None, [], "adapter: x"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, data: object) -> None:
    assert _problems(data, tmp_path) == ["(top): must be a mapping"]


def test_missing_sections_and_keys_are_named(tmp_path: Path) -> None:
    assert _problems({}, tmp_path) == [
        "adapter: required, but missing",
        "alipayplus: required, but missing",
        "merchants: required, but missing",
    ]
    data = config_data(tmp_path)
    del data["alipayplus"]["client_id"], _merchant(data)["alipay"]["name"]
    data["merchants"].append({})
    problems = _problems(data, tmp_path)
    assert "alipayplus.client_id: required, but missing" in problems
    assert "merchants[0].alipay.name: required, but missing" in problems
    assert "merchants[1].merchant_id: required, but missing" in problems
    assert "merchants[1].alipay: required, but missing" in problems


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("adapterr", lambda data: data),
        ("adapter.return_wait_second", lambda data: data["adapter"]),
        ("alipayplus.timeout", lambda data: data["alipayplus"]),
        ("merchants[0].allowed_host", lambda data: data["merchants"][0]),
        ("merchants[0].alipay.mcc_code", lambda data: data["merchants"][0]["alipay"]),
    ],
)
def test_an_unknown_key_is_refused_with_its_path_not_ignored(
    tmp_path: Path, path: str, section: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    data = config_data(tmp_path)
    section(data)[path.rpartition(".")[2]] = 5
    assert _problems(data, tmp_path) == [f"{path}: unknown key"]


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ("adapter", "return_wait_seconds", "must be a number"),
        ("adapter", "reconcile_interval_seconds", "must be a number"),
        ("adapter", "reconcile_after_seconds", "must be a number"),
        ("adapter", "pay_budget_seconds", "must be a number"),
        ("adapter", "cancel_open_after_seconds", "must be a number"),
        ("adapter", "operation_budget_seconds", "must be a number"),
        ("adapter", "req_id_answer_days", "must be a number"),
        ("alipayplus", "timeout_seconds", "must be a number"),
        ("merchant", "min_amount", "must be a whole number"),
    ],
)
def test_a_boolean_is_never_a_number(tmp_path: Path, section: str, key: str, message: str) -> None:
    data = config_data(tmp_path)
    (_merchant(data) if section == "merchant" else data[section])[key] = True
    path = "merchants[0]" if section == "merchant" else section
    assert _problems(data, tmp_path) == [f"{path}.{key}: {message}"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("allow_http", 1, "must be true or false"),
        ("allow_private_targets", "yes", "must be true or false"),
        ("min_amount", 1.5, "must be a whole number"),
        ("min_amount", "5", "must be a whole number"),
        ("success_status", True, "must be OK or AUTHORIZED"),
        ("return_method", "put", "must be post or get"),
        ("settlement_currency", "eur", "must be an ISO 4217 code such as EUR"),
        ("settlement_currency", False, "must be text"),
        ("merchant_id", True, "must be text"),
        ("merchant_id", "My Shop", "use 1-30 letters, digits, '_', '.' or '-'"),
        ("merchant_id", "S" * 31, "use 1-30 letters, digits, '_', '.' or '-'"),
        ("merchant_id", "  ", "must not be empty"),
        ("allowed_hosts", [], "must list at least one"),
        ("allowed_hosts", "shop.example", "must be a list"),
        ("hmac_keys", [], "must list at least one"),
        ("hmac_keys", {"env": "HMAC_NEW"}, "must be a list"),
        ("alipay", ["M1"], "must be a mapping"),
    ],
)
def test_a_merchant_value_of_the_wrong_kind_is_refused(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    data = config_data(tmp_path)
    _merchant(data)[key] = value
    assert _problems(data, tmp_path) == [f"merchants[0].{key}: {message}"]


def test_numbers_are_taken_as_text_where_text_is_expected(tmp_path: Path) -> None:
    data = config_data(tmp_path, merchant_id=4711)
    data["alipayplus"].update(client_id=12345, key_version=2)
    _merchant(data)["alipay"].update(mcc=5732, reference_merchant_id=1.5)
    settings = _parse(data, tmp_path)
    merchant = settings.merchants["4711"]
    assert (settings.alipay.client_id, settings.alipay.key_version) == ("12345", "2")
    assert (merchant.alipay.mcc, merchant.alipay.reference_merchant_id) == ("5732", "1.5")


def test_text_is_stripped_and_urls_lose_their_trailing_slash(tmp_path: Path) -> None:
    data = config_data(tmp_path, settlement_currency=" EUR ")
    data["adapter"]["public_url"] = "https://pg.example/ "
    data["alipayplus"]["gateway_url"] = "https://gw.example//"
    settings = _parse(data, tmp_path)
    assert (settings.public_url, settings.alipay.gateway_url) == (
        "https://pg.example",
        "https://gw.example",
    )
    assert settings.merchants["Shop"].settlement_currency == "EUR"


def test_keys_come_from_env_files_relative_to_the_config_values_and_plain_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    (config_dir / "keys").mkdir(parents=True)
    elsewhere.mkdir()
    (config_dir / "keys" / "bf.txt").write_text("\nBf-from-a-file\n")
    (elsewhere / "hmac.txt").write_text("hmac-from-an-absolute-path")
    data = config_data(config_dir, blowfish_key={"file": "keys/bf.txt"})
    _merchant(data)["hmac_keys"] = [
        {"env": "HMAC_NEW"},
        {"value": "hmac-from-value"},
        "hmac-plain",
        {"file": str(elsewhere / "hmac.txt")},
    ]
    (config_dir / "adapter.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(elsewhere)  # relative key files are not relative to the working directory
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    merchant = load_settings(config_dir / "adapter.yaml").merchants["Shop"]
    assert all(isinstance(key, Secret) for key in (*merchant.hmac_keys, merchant.blowfish_key))
    assert [key.reveal() for key in merchant.hmac_keys] == [
        "new-hmac-secret-value",
        "hmac-from-value",
        "hmac-plain",
        "hmac-from-an-absolute-path",
    ]
    assert merchant.blowfish_key.reveal() == "Bf-from-a-file"


KEY_FORMS = "a key must be a string, {env: NAME}, {file: path} or {value: ...}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"env": "NOT_SET_ANYWHERE"}, "environment variable NOT_SET_ANYWHERE is not set"),
        ({"file": "nowhere.pem"}, "cannot read key file nowhere.pem: No such file or directory"),
        ("", KEY_FORMS),
        ({"value": ""}, KEY_FORMS),
        ({"env": "TOKEN", "file": "x"}, KEY_FORMS),
        ({"vault": "x"}, KEY_FORMS),
        ({"env": 5}, KEY_FORMS),
        (42, KEY_FORMS),
        (None, KEY_FORMS),
    ],
)
def test_a_bad_key_reference_is_refused_with_its_path(
    tmp_path: Path, value: object, message: str
) -> None:
    data = config_data(tmp_path)
    _merchant(data)["hmac_keys"] = ["good-key", value]
    data["adapter"]["token_secret"] = value
    assert _problems(data, tmp_path) == [
        f"adapter.token_secret: {message}",
        f"merchants[0].hmac_keys[1]: {message}",
    ]


@pytest.mark.parametrize(
    ("blowfish_key", "accepted"),
    [("k", True), ("k" * 56, True), ("k" * 57, False), ("ä" * 28, True), ("ä" * 29, False)],
)
def test_the_blowfish_key_is_1_to_56_bytes(
    tmp_path: Path, blowfish_key: str, accepted: bool
) -> None:
    data = config_data(tmp_path, blowfish_key=blowfish_key)
    if accepted:
        assert _parse(data, tmp_path).merchants["Shop"].blowfish_key.reveal() == blowfish_key
    else:
        assert _problems(data, tmp_path) == [
            "merchants[0].blowfish_key: must be 1 to 56 bytes long"
        ]


def test_the_token_secret_has_at_least_16_characters(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["adapter"]["token_secret"] = "t" * 15
    assert _problems(data, tmp_path) == ["adapter.token_secret: use at least 16 characters"]
    data["adapter"]["token_secret"] = "t" * 16
    assert _parse(data, tmp_path).token_secret.reveal() == "t" * 16


def test_rsa_keys_load_from_pem_or_base64_der_and_say_which_is_wrong(tmp_path: Path) -> None:
    key = generate_private_key()
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    data = config_data(tmp_path)
    data["alipayplus"]["private_key"] = {"value": base64.b64encode(der).decode()}
    loaded = _parse(data, tmp_path).alipay.private_key
    assert loaded.private_numbers() == key.private_numbers()
    data["alipayplus"].update(
        private_key={"value": "not a key"}, alipay_public_key={"file": "acqp.pem"}
    )
    assert _problems(data, tmp_path) == [
        "alipayplus.private_key: not an RSA private key (PEM or base64 DER)",
        "alipayplus.alipay_public_key: not an RSA public key (PEM or base64)",
    ]


def test_allowed_hosts_are_checked_one_by_one(tmp_path: Path) -> None:
    hosts = ["shop.example", "https://shop.example", "*.shop.example:8443", 7]
    assert _problems(config_data(tmp_path, allowed_hosts=hosts), tmp_path) == [
        "merchants[0].allowed_hosts[1]: must be a host, '*.domain' or host:port, not a URL",
        "merchants[0].allowed_hosts[3]: must be text",
    ]


def test_a_merchant_id_listed_twice_is_named_at_its_second_place(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["merchants"] += [
        {**copy.deepcopy(_merchant(data)), "merchant_id": "Other"},
        copy.deepcopy(_merchant(data)),
    ]
    assert _problems(data, tmp_path) == ["merchants[2].merchant_id: listed twice"]


def test_the_default_cancel_delay_must_also_outlast_twice_the_pay_budget(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["adapter"]["pay_budget_seconds"] = 600
    assert _problems(data, tmp_path) == [
        "adapter.cancel_open_after_seconds: must be at least twice pay_budget_seconds"
    ]
    data["adapter"]["cancel_open_after_seconds"] = 1200
    assert _parse(data, tmp_path).cancel_open_after_seconds == 1200.0


@pytest.mark.parametrize("after", [15, 10])
def test_the_reconciler_never_looks_at_a_step_before_its_retry_budget_is_spent(
    tmp_path: Path, after: float
) -> None:
    data = config_data(tmp_path)
    data["adapter"]["reconcile_after_seconds"] = after
    assert _problems(data, tmp_path) == [
        "adapter.reconcile_after_seconds: must be longer than operation_budget_seconds"
    ]
    data["adapter"]["operation_budget_seconds"] = after - 1
    assert _parse(data, tmp_path).reconcile_after_seconds == after


def test_the_reconciler_works_on_at_least_one_row_at_a_time(tmp_path: Path) -> None:
    data = config_data(tmp_path)
    data["adapter"]["reconcile_concurrency"] = 0
    assert _problems(data, tmp_path) == ["adapter.reconcile_concurrency: must be at least 1"]


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("sqlite+aiosqlite:///db/a.sqlite3", "sqlite+aiosqlite:///{base}/db/a.sqlite3"),
        ("sqlite+aiosqlite:////var/a.sqlite3", "sqlite+aiosqlite:////var/a.sqlite3"),
        ("postgresql://user@db.example/pay", "postgresql://user@db.example/pay"),
    ],
)
def test_relative_sqlite_paths_are_relative_to_the_config_file(
    tmp_path: Path, database_url: str, expected: str
) -> None:
    data = config_data(tmp_path)
    data["adapter"]["database_url"] = database_url
    settings = _parse(data, tmp_path)
    assert settings.database_url == expected.format(base=tmp_path.resolve())


SECRET = "SeCrEt"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("adapter.token_secret", SECRET),  # too short
        ("adapter.token_secret", {"value": SECRET, "env": "TOKEN"}),
        ("alipayplus.private_key", SECRET),
        ("alipayplus.private_key", f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END"),
        ("alipayplus.private_key", [SECRET]),
        ("alipayplus.alipay_public_key", {"value": SECRET * 20}),
        ("merchants[0].blowfish_key", SECRET * 20),  # too long
        ("merchants[0].blowfish_key", {SECRET: SECRET}),
        ("merchants[0].hmac_keys", {"value": SECRET}),  # not a list
        ("merchants[0].hmac_keys", [SECRET, {"value": SECRET, "x": 1}, 5]),
    ],
)
def test_no_error_message_shows_a_key(tmp_path: Path, path: str, value: object) -> None:
    data = config_data(tmp_path)
    section = _merchant(data) if path.startswith("merchants") else data[path.split(".")[0]]
    section[path.rpartition(".")[2]] = value
    with pytest.raises(ConfigError) as caught:
        _parse(data, tmp_path)
    assert any(problem.startswith(f"{path}") for problem in caught.value.problems)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_settings_are_immutable_and_their_repr_shows_no_key(tmp_path: Path) -> None:
    settings = _parse(config_data(tmp_path), tmp_path)
    with pytest.raises(ValidationError, match="frozen"):
        settings.return_wait_seconds = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        settings.merchants["Shop"].alipay.mcc = "1234"  # type: ignore[misc]
    assert "PRIVATE" not in repr(settings) and "private_key" not in repr(settings.alipay)
    assert "new-hmac-secret-value" not in repr(settings) and "Bf16charsKey" not in repr(settings)


def _readme_configuration_example() -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Configuration\n", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_shows_the_configuration_reference_rendered_from_the_models() -> None:
    assert _readme_configuration_example() == config_reference()


def test_the_configuration_reference_is_a_valid_configuration(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    key = generate_private_key()
    (tmp_path / "keys" / "acqp_private.pem").write_text(private_key_pem(key))
    (tmp_path / "keys" / "alipay_public.pem").write_text(public_key_pem(key.public_key()))
    environ = {
        "ADAPTER_TOKEN_SECRET": "t" * 16,
        "MYSHOP_HMAC": "new",
        "MYSHOP_HMAC_OLD": "old",
        "MYSHOP_BLOWFISH": "bf",
    }
    data = yaml.safe_load(config_reference())
    settings = parse_settings(data, base_dir=tmp_path, environ=environ)
    assert [key.reveal() for key in settings.merchants["MyShop"].hmac_keys] == ["new", "old"]
