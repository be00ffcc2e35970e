"""The statements every request runs, compiled once per dialect and run on the driver's cursor.

SQLAlchemy's ``Connection.execute`` costs about 25 µs per statement on top of what SQLite itself
spends (about 5 µs on a primary-key read), and it rebuilds a statement's parameters and result
rows each time (docs/performance.md#known-traps). A :class:`Statement` compiles its SQLAlchemy
statement once per dialect into the SQL SQLAlchemy itself would send (placeholders and casts
included), converts parameters and result values with the column types' own processors, and
runs on the DBAPI cursor of the caller's connection: inside the caller's transaction, with
driver errors raised as SQLAlchemy's (an ``IntegrityError`` stays one).

Values in an ``IN`` list must be written into the SQL with :func:`one_of`: an expanding
parameter is only rendered per execution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect, Table, bindparam, insert, literal_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Row = dict[str, Any]
_Processor = Callable[[Any], Any] | None
_CONSTANT = re.compile(r"[A-Za-z_]+")


def one_of(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN ('A', 'B')`` with constant words (states, kinds) written into the SQL."""
    listed = list(values)
    for value in listed:
        if not _CONSTANT.fullmatch(value):
            raise ValueError(f"not a constant word: {value!r}")
    return column.in_([literal_column(f"'{value}'") for value in listed])


def inserting(
    table: Table,
    columns: Iterable[str],
    *,
    returning: ColumnElement[Any] | None = None,
    **fixed: Any,
) -> Statement:
    """An INSERT of one row into ``table``: ``columns`` given per run, ``fixed`` always the same;
    answering with the ``returning`` column of the new row, if given."""
    statement = insert(table).values({**{name: bindparam(name) for name in columns}, **fixed})
    return Statement(statement if returning is None else statement.returning(returning))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # the parameters in the order the SQL takes them
    fixed: Mapping[str, Any]  # values the statement itself carries
    binds: Mapping[str, _Processor]
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # result columns with a processor


class Statement:
    """One SQLAlchemy statement (a select, or DML with or without RETURNING) to run many times."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("an expanding IN: write its constants with one_of()")
        binds = compiled.binds
        names = tuple(compiled.positiontup or binds)
        columns: Sequence[ColumnElement[Any]] = list(
            getattr(self._statement, "exported_columns", ())
        )
        return _Compiled(
            sql=compiled.string,
            positional=compiled.positional,
            names=names,
            fixed={
                name: binds[name].value
                for name in names
                if not binds[name].required and binds[name].callable is None
            },
            binds={
                name: binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            },
            converted=tuple(
                (index, process)
                for index, column in enumerate(columns)
                if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            ),
        )

    def _parameters(self, compiled: _Compiled, given: Mapping[str, Any]) -> Any:
        values = []
        for name in compiled.names:
            value = given[name] if name in given else compiled.fixed[name]
            process = compiled.binds[name]
            values.append(value if process is None or value is None else process(value))
        if compiled.positional:
            return tuple(values)
        return dict(zip(compiled.names, values, strict=True))

    def _run(
        self,
        conn: Connection,
        parameters: Iterable[Mapping[str, Any]],
        many: bool,
        compiled: _Compiled | None = None,
    ) -> Any:
        dialect = conn.dialect
        compiled = compiled or self._compiled(dialect)
        converted = [self._parameters(compiled, given) for given in parameters]
        cursor = conn.connection.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, converted)
            else:
                cursor.execute(compiled.sql, converted[0])
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise DBAPIError.instance(
                compiled.sql,
                None,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=dialect,
            ) from error
        return cursor

    def rowcount(self, conn: Connection, **given: Any) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        cursor = self._run(conn, [given], many=False)
        count: int = cursor.rowcount
        cursor.close()
        return count

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement that returns no rows once per parameter set."""
        if rows:
            self._run(conn, rows, many=True).close()

    def rows(self, conn: Connection, **given: Any) -> list[Row]:
        """Run a statement that returns rows: each a dict by column name."""
        compiled = self._compiled(conn.dialect)
        cursor = self._run(conn, [given], many=False, compiled=compiled)
        names = [column[0] for column in cursor.description]
        # Most columns (strings, integers) need no conversion: only the others are visited.
        converted = compiled.converted
        rows = []
        for raw in cursor.fetchall():
            row = dict(zip(names, raw, strict=True))
            for index, process in converted:
                value = raw[index]
                if value is not None:
                    row[names[index]] = process(value)
            rows.append(row)
        cursor.close()
        return rows

    def first(self, conn: Connection, **given: Any) -> Row | None:
        rows = self.rows(conn, **given)
        return rows[0] if rows else None

    def scalar(self, conn: Connection, **given: Any) -> Any:
        """The first column of the one row it returns."""
        (row,) = self.rows(conn, **given)
        return next(iter(row.values()))
