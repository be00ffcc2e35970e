"""Column types: UTC datetimes stored on SQLite exactly as SQLAlchemy itself would store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from adapter.store.tables import UTCDateTime

SQLITE = sqlite.dialect()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 6, 12, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 12, 30, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # the next UTC day
    ],
)
def test_a_utc_datetime_is_written_as_sqlalchemy_writes_it_and_read_back_equal(
    moment: datetime,
) -> None:
    column = UTCDateTime()
    write = column.dialect_impl(SQLITE).bind_processor(SQLITE)
    read = column.dialect_impl(SQLITE).result_processor(SQLITE, None)
    sqlalchemy_writes = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert write is not None and read is not None and sqlalchemy_writes is not None
    stored = write(moment)
    assert stored == sqlalchemy_writes(moment.astimezone(UTC).replace(tzinfo=None))
    assert read(stored) == moment


def test_a_naive_datetime_is_refused_and_none_stays_none() -> None:
    write = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert write is not None
    with pytest.raises(ValueError, match="naive"):
        write(datetime(2026, 12, 6, 12, 30))
    assert write(None) is None
