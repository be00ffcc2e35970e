"""The console's configuration section: off by default, operators with argon2 hashes only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapter.config import parse_settings
from adapter.errors import ConfigError
from tests.support.config import config_data
from tests.support.console import console_section, password_hash

ENVIRON = {"TOKEN": "t" * 32, "HMAC_NEW": "k"}


def _parse(tmp_path: Path, console: Any) -> Any:
    data = config_data(tmp_path)
    data["console"] = console
    return parse_settings(data, base_dir=tmp_path, environ=ENVIRON).console


def test_without_a_console_section_the_console_is_off(tmp_path: Path) -> None:
    settings = parse_settings(config_data(tmp_path), base_dir=tmp_path, environ=ENVIRON)
    assert not settings.console.enabled and settings.console.operators == ()
    assert not _parse(tmp_path, {"operators": []}).enabled


def test_listed_operators_turn_it_on_with_the_documented_defaults(tmp_path: Path) -> None:
    console = _parse(tmp_path, {"operators": [{"name": "alice", "password_hash": password_hash()}]})
    assert console.enabled and console.operator("alice") is not None
    assert console.operator("Alice") is None and console.operator("bob") is None
    assert (console.session_hours, console.login_attempts, console.lockout_seconds) == (8, 5, 900)
    assert password_hash() not in repr(console)


@pytest.mark.parametrize(
    ("console", "problem"),
    [
        (
            {"operators": [{"name": "alice", "password_hash": "plain text"}]},
            "console.operators[0].password_hash: must be an argon2 hash",
        ),
        (
            {"operators": [{"name": "al ice", "password_hash": password_hash()}]},
            "console.operators[0].name: use 1-64 letters",
        ),
        (
            {"operators": [{"name": "alice"}]},
            "console.operators[0].password_hash: required, but missing",
        ),
        ({"session_hours": 0}, "console.session_hours: must be more than 0"),
        ({"login_attempts": 0}, "console.login_attempts: must be at least 1"),
        ({"users": []}, "console.users: unknown key"),
    ],
)
def test_a_wrong_console_section_is_refused_with_its_path(
    tmp_path: Path, console: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        _parse(tmp_path, console)
    assert any(line.startswith(problem) for line in refused.value.problems), refused.value


def test_an_operator_listed_twice_is_named_at_its_second_place(tmp_path: Path) -> None:
    twice = console_section()
    twice["operators"].append(twice["operators"][0])
    with pytest.raises(ConfigError) as refused:
        _parse(tmp_path, twice)
    assert refused.value.problems == ["console.operators[2].name: listed twice"]
