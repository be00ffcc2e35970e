"""The app's start: a serving process freezes what startup built; other users of the app do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapter.config import parse_settings
from adapter.mapping import load_mapping
from adapter.web.app import create_app
from tests.support.config import config_data
from tests.support.servers import serve


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite's objects are collected as usual again


def _started_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, freeze: bool) -> int:
    """How many objects were frozen once the app had started and answered."""
    monkeypatch.setenv("TOKEN", "t" * 32)
    monkeypatch.setenv("HMAC_NEW", "k")
    data = config_data(tmp_path)
    data["adapter"]["database_url"] = f"sqlite:///{tmp_path / 'adapter.sqlite3'}"
    app = create_app(
        parse_settings(data, base_dir=tmp_path), load_mapping(), freeze_after_startup=freeze
    )
    with serve(app) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        return gc.get_freeze_count()


def test_a_serving_process_keeps_its_startup_objects_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _started_with(tmp_path, monkeypatch, freeze=True) > 10_000


def test_an_app_made_for_tests_or_embedding_freezes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _started_with(tmp_path, monkeypatch, freeze=False) == 0
