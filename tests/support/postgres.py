"""Throw-away PostgreSQL databases on the machine's server, one per test or stack."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest

from adapter.store.db import normalise_url

POSTGRES_URL = os.environ.get(
    "PAYGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def create_database() -> str:
    """A fresh database, so runs never see each other's rows; its URL."""
    name = f"paygate_t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL)
    except OSError as exc:
        # A missing server must not pass as a skipped test: .ci/run starts it.
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = normalise_url(POSTGRES_URL).rsplit("/", 1)[0]
    return f"{base}/{name}"


async def drop_database(url: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()
