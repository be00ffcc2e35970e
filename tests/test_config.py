from __future__ import annotations

from pathlib import Path

import pytest

from adapter.cli import main
from adapter.config import load_settings
from adapter.errors import ConfigError
from tests.support.config import with_values, write_config


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
    assert merchant.host_allowed("shop.example", None)
    assert merchant.host_allowed("pay.shop.example", 443)
    assert not merchant.host_allowed("evilshop.example", None)
    assert not merchant.host_allowed("shop.example.evil", None)


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
    assert "merchants[0].alipay.name: required text is missing" in problems


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
