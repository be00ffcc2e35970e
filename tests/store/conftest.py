from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from adapter.store.db import Database, migrate, normalise_url
from adapter.store.payments import PaymentStore

POSTGRES_URL = os.environ.get(
    "PAYGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def postgres_database_url() -> str:
    """A fresh database per test so runs never see each other's rows."""
    name = f"paygate_t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL)
    except OSError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = normalise_url(POSTGRES_URL).rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PaymentStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    else:
        url = await postgres_database_url()
    await migrate(url)
    db = Database(url)
    yield PaymentStore(db)
    await db.dispose()
    if request.param == "postgres":
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}"')
        finally:
            await conn.close()
