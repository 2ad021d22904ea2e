"""The two SQL engines holobench runs every query in: DuckDB computes gold answers, sqlite3 screens
candidate queries and re-runs the SQL in the oracle over rows parsed back from the text. Both run
locked down (`sandbox.py`): SQL can come from a user, and databases from someone else.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import polars as pl

from ...errors import SpecError
from .databases import Column
from .sandbox import first_line, locked_duckdb, quote_name, read_only, time_limited

_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}

_LOCAL = threading.local()  # one DuckDB connection per thread (a connection is not thread-safe)


def _duckdb_connection():
    if getattr(_LOCAL, "duckdb", None) is None:
        _LOCAL.duckdb = locked_duckdb()
        _LOCAL.streams = {}  # table name -> the _ArrowStream registered under it on this connection
    return _LOCAL.duckdb


def polars_frame(columns: list[Column], rows: list[tuple]):
    """Rows as a polars DataFrame with the columns' types."""
    kinds = {"int": pl.Int64, "float": pl.Float64, "str": pl.String}
    return pl.DataFrame(rows, schema={c.name: kinds[c.kind] for c in columns}, orient="row")


class _ArrowStream:
    """A polars frame seen only through `__arrow_c_stream__` (a fresh stream per scan, and the schema
    read again by every query, so the frame may be swapped between queries). None outside a query:
    a query then fails to read the table, as it would read a table it was not given."""

    __slots__ = ("frame",)

    def __init__(self, frame: Any = None):
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.frame.__arrow_c_stream__(requested_schema)


def run_duckdb(sql: str, tables: dict[str, Any]) -> list[tuple]:
    """Execute `sql` with DuckDB (the gold engine) over tables given as polars DataFrames, or as
    (columns, rows) pairs.

    Each table name is registered on the locked connection once, as an `_ArrowStream` that holds
    this call's frame while the query runs and nothing after it (DuckDB's replacement scans of Python
    variables would need external access). Registering and unregistering the tables on every call
    took half of a sample's query: 0.78 against 0.36 ms. Frames reach DuckDB as Arrow C streams (the
    PyCapsule interface), with no pyarrow in between: pyarrow's conversion would cost a fifth more
    per call, and building Arrow arrays from Python objects makes pyarrow import pandas (a quarter
    of a second per process).
    """
    import duckdb

    con = _duckdb_connection()
    streams: dict[str, _ArrowStream] = _LOCAL.streams
    given = []
    try:
        for name, table in tables.items():
            frame = polars_frame(*table) if isinstance(table, tuple) else table
            stream = streams.get(name)
            if stream is None:  # (DuckDB reads the schema when it registers the name: a frame first)
                stream = _ArrowStream(frame)
                con.register(name, stream)
                streams[name] = stream
            stream.frame = frame
            given.append(stream)
        with time_limited(con.interrupt):
            return [tuple(r) for r in con.execute(sql).fetchall()]
    except duckdb.Error as exc:
        raise SpecError(f"DuckDB could not run the SQL: {first_line(exc)}") from None
    finally:
        for stream in given:
            stream.frame = None


class SqliteTables:
    """sqlite3 over in-memory tables, loaded once and queried many times (the oracle's engine)."""

    def __init__(self, tables: dict[str, tuple[list[Column], list[tuple]]]):
        self.con = sqlite3.connect(":memory:")
        for name, (columns, rows) in tables.items():
            cols = ", ".join(f"{quote_name(c.name)} {_TYPES[c.kind]}" for c in columns)
            self.con.execute(f"CREATE TABLE {quote_name(name)} ({cols})")
            self.con.executemany(f"INSERT INTO {quote_name(name)} VALUES ({', '.join('?' * len(columns))})", rows)
        read_only(self.con)

    def run(self, sql: str) -> list[tuple]:
        with time_limited(self.con.interrupt):
            return [tuple(r) for r in self.con.execute(sql).fetchall()]

    def close(self) -> None:
        self.con.close()


class SqliteSubsets(SqliteTables):
    """A database's full tables in sqlite3, loaded once; `select` makes a sample's rows TEMP tables
    of the same names, which shadow the full ones, so candidate queries run over exactly the rows
    a sample places, without re-inserting them from Python."""

    def __init__(self, tables: dict[str, tuple[list[Column], list[tuple]]]):
        super().__init__(tables)
        self._selected: list[str] = []

    def select(self, picked: dict[str, list[int]]) -> None:
        """Make TEMP tables of the rows at these indices (0-based, in the full table's order)."""
        self.con.set_authorizer(None)  # our own statements; the authorizer is back before any query
        try:
            for name in self._selected:
                self.con.execute(f"DROP TABLE temp.{quote_name(name)}")
            self._selected = []
            for name, indices in picked.items():
                rowids = json.dumps([i + 1 for i in indices])  # a fresh table's rowids count from 1
                self.con.execute(
                    f"CREATE TEMP TABLE {quote_name(name)} AS SELECT * FROM main.{quote_name(name)} "
                    "WHERE rowid IN (SELECT value FROM json_each(?))",
                    (rowids,),
                )
                self._selected.append(name)
        finally:
            read_only(self.con)


def run_sqlite(sql: str, tables: dict[str, tuple[list[Column], list[tuple]]]) -> list[tuple]:
    """Execute `sql` once over in-memory tables with sqlite3."""
    engine = SqliteTables(tables)
    try:
        return engine.run(sql)
    finally:
        engine.close()


def tables_read(sql: str) -> list[str]:
    """Names of the tables a query reads."""
    import duckdb  # imported on first use: most commands never run SQL

    try:
        return sorted(duckdb.get_table_names(sql))
    except duckdb.Error as exc:
        raise SpecError(f"the SQL could not be parsed: {first_line(exc)}") from None
