"""/healthz is liveness; /readyz checks the database and its schema, 503 with the reason."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from adapter.config import parse_settings
from adapter.mapping import load_mapping
from adapter.store.db import head_revision, migrate
from adapter.web.app import create_app
from tests.support.config import config_data
from tests.support.servers import serve


def _app_on(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Starlette:
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    data = config_data(tmp_path)
    data["adapter"]["database_url"] = database_url
    return create_app(parse_settings(data, base_dir=tmp_path), load_mapping(), run_migrations=False)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    database = tmp_path / "adapter.sqlite3"
    with serve(_app_on(tmp_path, f"sqlite+aiosqlite:///{database}", monkeypatch)) as url:
        yield url, database


def test_ready_once_the_schema_is_at_the_head_migration(served: tuple[str, Path]) -> None:
    url, database = served
    before = httpx.get(f"{url}/readyz")
    assert before.status_code == 503
    assert "run paygate-adapter migrate" in before.json()["reason"]
    asyncio.run(migrate(f"sqlite+aiosqlite:///{database}"))
    after = httpx.get(f"{url}/readyz")
    assert (after.status_code, after.json()) == (
        200,
        {"status": "ready", "schema": head_revision()},
    )
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_not_ready_while_the_database_is_unreachable_and_the_reason_shows_no_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = "postgresql://paygate:s3cret@127.0.0.1:1/nowhere"
    with serve(_app_on(tmp_path, unreachable, monkeypatch)) as url:
        answer = httpx.get(f"{url}/readyz", timeout=30)
        alive = httpx.get(f"{url}/healthz")
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("database: ")
    assert "s3cret" not in answer.text and "127.0.0.1:1" not in answer.text
    assert alive.status_code == 200


def test_a_request_id_is_taken_from_the_caller_or_made_and_always_sent_back(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    assert (
        httpx.get(f"{url}/healthz", headers={"x-request-id": "abc-1"}).headers["x-request-id"]
        == "abc-1"
    )
    made = [
        httpx.get(f"{url}/healthz", headers={"x-request-id": "bad id!"}).headers["x-request-id"]
        for _ in range(2)
    ]
    assert all(re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", made_id) for made_id in made)
    assert made[0] != made[1]
