"""The two SQL engines holobench runs every query in: DuckDB computes gold answers, sqlite3 screens
candidate queries and re-runs the SQL in the oracle over rows parsed back from the text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import polars as pl

from ...errors import SpecError
from .databases import Column

_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}

_LOCAL = threading.local()  # one DuckDB connection per thread (a connection is not thread-safe)


def _duckdb_connection():
    import duckdb  # imported on first use: most commands never run SQL

    if getattr(_LOCAL, "duckdb", None) is None:
        # A sample's tables hold hundreds of rows: one thread, and no query optimizer, whose
        # rewrites cost a fifth of each query's time here and cannot change a result.
        con = duckdb.connect(":memory:", config={"threads": 1})
        con.execute("PRAGMA disable_optimizer")
        _LOCAL.duckdb = con
    return _LOCAL.duckdb


def polars_frame(columns: list[Column], rows: list[tuple]):
    """Rows as a polars DataFrame with the columns' types."""
    kinds = {"int": pl.Int64, "float": pl.Float64, "str": pl.String}
    return pl.DataFrame(rows, schema={c.name: kinds[c.kind] for c in columns}, orient="row")


_DUCKDB_CALL = compile(
    "__longsynth_result = __longsynth_connection.execute(__longsynth_sql).fetchall()", "<longsynth duckdb>", "exec"
)


class _ArrowStream:
    """A polars frame seen only through `__arrow_c_stream__` (a fresh stream per scan)."""

    __slots__ = ("frame",)

    def __init__(self, frame: Any):
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.frame.__arrow_c_stream__(requested_schema)


def run_duckdb(sql: str, tables: dict[str, Any]) -> list[tuple]:
    """Execute `sql` with DuckDB (the gold engine) over tables given as polars DataFrames, or as
    (columns, rows) pairs.

    DuckDB resolves a table name it does not know to a Python variable of that name in the
    calling frame (its "replacement scan"), so the query runs in a frame whose namespace holds
    exactly this sample's tables: nothing is registered on the connection, nothing outlives the
    call, and it costs about half as much as register/unregister. Frames reach DuckDB as Arrow
    C streams (the PyCapsule interface), with no pyarrow in between: pyarrow's conversion would
    cost a fifth more per call, and building Arrow arrays from Python objects makes pyarrow
    import pandas (a quarter of a second per process).
    """
    namespace: dict[str, Any] = {}
    for name, table in tables.items():
        namespace[name] = _ArrowStream(polars_frame(*table) if isinstance(table, tuple) else table)
    namespace["__longsynth_connection"] = _duckdb_connection()
    namespace["__longsynth_sql"] = sql
    exec(_DUCKDB_CALL, namespace)
    return [tuple(r) for r in namespace["__longsynth_result"]]


class SqliteTables:
    """sqlite3 over in-memory tables, loaded once and queried many times (the oracle's engine)."""

    def __init__(self, tables: dict[str, tuple[list[Column], list[tuple]]]):
        self.con = sqlite3.connect(":memory:")
        for name, (columns, rows) in tables.items():
            cols = ", ".join(f'"{c.name}" {_TYPES[c.kind]}' for c in columns)
            self.con.execute(f'CREATE TABLE "{name}" ({cols})')
            self.con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})', rows)

    def run(self, sql: str) -> list[tuple]:
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
        for name in self._selected:
            self.con.execute(f'DROP TABLE temp."{name}"')
        self._selected = []
        for name, indices in picked.items():
            rowids = json.dumps([i + 1 for i in indices])  # a fresh table's rowids count from 1
            self.con.execute(
                f'CREATE TEMP TABLE "{name}" AS SELECT * FROM main."{name}" '
                "WHERE rowid IN (SELECT value FROM json_each(?))",
                (rowids,),
            )
            self._selected.append(name)


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
    except Exception as exc:
        raise SpecError(f"the SQL {sql!r} could not be parsed: {exc}") from None
