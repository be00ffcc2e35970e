"""Which notes ride with a unit's write and which are written later (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapter.core.journal import Journal
from adapter.model import Event, Hop
from adapter.store.db import Database, migrate
from adapter.store.journal import JournalStore, write_riding
from tests.support.models import NOW, PAY_ID


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    await migrate(url)
    db = Database(url, before_commit=write_riding)
    yield Journal(JournalStore(db), lambda: NOW)
    await db.dispose()


def _hop(name: str) -> Event:
    return Event(at=NOW, hop=Hop.ALIPAY_CALL, name=name, pay_id=PAY_ID)


async def _names(journal: Journal) -> list[str]:
    return [event.name for event in await journal.store.timeline(PAY_ID)]


async def test_a_note_rides_with_the_next_write_of_its_unit(journal: Journal) -> None:
    with journal.unit():
        journal.note(_hop("pay"))
        await journal.store.db.write(lambda conn: None)
        assert await _names(journal) == ["pay"]
    await journal.flush()
    assert await _names(journal) == ["pay"]


async def test_a_unit_that_writes_nothing_leaves_its_notes_to_the_next_flush(
    journal: Journal,
) -> None:
    with journal.unit():
        journal.note(_hop("pay"))
    journal.note(_hop("outside any unit"))
    assert await _names(journal) == []
    await journal.flush()
    assert await _names(journal) == ["pay", "outside any unit"]


async def test_a_flush_while_a_unit_is_open_loses_none_of_its_notes(journal: Journal) -> None:
    go = asyncio.Event()

    async def flush_when_told() -> None:
        await go.wait()
        await journal.flush()

    flushing = asyncio.create_task(flush_when_told())  # as the journal's writer: another task
    with journal.unit():
        journal.note(_hop("pay"))
    with journal.unit():
        journal.note(_hop("inquiryPayment"))
        go.set()
        await flushing
        assert await _names(journal) == ["pay"]
    await journal.flush()
    assert await _names(journal) == ["pay", "inquiryPayment"]


async def test_a_routine_note_is_never_written(journal: Journal) -> None:
    with journal.unit():
        journal.note(
            Event(at=NOW, hop=Hop.SHOP_REQUEST, name="inquire", pay_id=PAY_ID, routine=True)
        )
        await journal.store.db.write(lambda conn: None)
    await journal.flush()
    assert await _names(journal) == []
