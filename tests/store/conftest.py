from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.store.db import Database, migrate
from adapter.store.payments import PaymentStore
from tests.support.postgres import create_database, drop_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PaymentStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    else:
        url = await create_database()
    await migrate(url)
    db = Database(url)
    yield PaymentStore(db)
    await db.dispose()
    if request.param == "postgres":
        await drop_database(url)
