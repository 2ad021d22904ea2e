"""SQL for the holobench family: generate queries from a schema, run them in two engines.

Queries come in five families (filter, aggregate, group, extreme, join) and
three difficulties that add components (conditions, grouping, ordering).
Every generated query is executed before it is accepted: it must return a
useful, unambiguous answer (non-empty, not huge, no tie at an ORDER BY ...
LIMIT cut-off, results totally ordered when order matters). Gold answers
come from DuckDB; the oracle re-runs the SQL in sqlite3 over rows parsed from
the text.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .databases import Column, Database, Table, format_value
from .errors import SpecError

FAMILIES = ("filter", "aggregate", "group", "extreme", "join")
DIFFICULTY = {"easy": 1, "medium": 2, "hard": 3}
MAX_RESULT_ROWS = 25
_OPS = {"int": (">", "<", ">=", "<="), "float": (">", "<"), "str": ("=",)}
_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}


@dataclass
class Query:
    """A query, what it reads, and what a question template needs to phrase it."""

    family: str
    sql: str
    tables: list[str]
    question: dict[str, Any] = field(default_factory=dict)
    ordered: bool = False
    limit: int | None = None
    order_index: int | None = None  # select-list position of the ORDER BY value (tie check)


def quote(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return format_value(value) if not isinstance(value, float) else repr(value)


def has_order(sql: str) -> bool:
    return re.search(r"\border\s+by\b", sql, re.IGNORECASE) is not None


def without_limit(sql: str) -> str:
    return re.sub(r"\s+limit\s+\d+\s*;?\s*$", "", sql, flags=re.IGNORECASE)


def format_rows(rows: list[tuple]) -> list[str]:
    return [" | ".join(format_value(v) for v in row) for row in rows]


# --------------------------------------------------------------------------- engines


_LOCAL = threading.local()  # one DuckDB connection per thread (a connection is not thread-safe)


def _duckdb_connection():
    import duckdb

    if getattr(_LOCAL, "duckdb", None) is None:
        # A sample's tables hold hundreds of rows: one thread, and no query optimizer, whose
        # rewrites cost a fifth of each query's time here and cannot change a result.
        con = duckdb.connect(":memory:", config={"threads": 1})
        con.execute("PRAGMA disable_optimizer")
        _LOCAL.duckdb = con
    return _LOCAL.duckdb


def polars_frame(columns: list[Column], rows: list[tuple]):
    """Rows as a polars DataFrame with the columns' types."""
    import polars as pl

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
    import duckdb

    try:
        return sorted(duckdb.get_table_names(sql))
    except Exception as exc:
        raise SpecError(f"the SQL {sql!r} could not be parsed: {exc}") from None


# --------------------------------------------------------------------------- generation


def _attributes(table: Table, kinds: tuple[str, ...] = ("int", "float", "str")) -> list[Column]:
    return [c for c in table.columns if c.role == "attribute" and c.kind in kinds]


def _measures(table: Table) -> list[Column]:
    """Numeric columns that make sense to add up or average (not years)."""
    return [c for c in _attributes(table, ("int", "float")) if not c.name.endswith("year")]


def _categorical(table: Table, rows: list[tuple], limit: int = 15) -> list[Column]:
    out = []
    for c in _attributes(table, ("str", "int")):
        idx = table.columns.index(c)
        distinct = {r[idx] for r in rows}
        if 2 <= len(distinct) <= limit:
            out.append(c)
    return out


def _condition(
    table: Table, rows: list[tuple], rng: random.Random, column: Column, qualify: bool, selective: bool = False
) -> tuple[str, dict] | None:
    """`column op value` with a value some row has. A `selective` condition takes a value that
    selects at most MAX_RESULT_ROWS rows, so a lone condition asks for a question-sized answer
    rather than half the table (None if the column has no such value; candidates are screened
    by executing them either way)."""
    idx = table.columns.index(column)
    op = rng.choice(_OPS[column.kind])
    if selective:
        # A candidate value selects 1 to MAX_RESULT_ROWS rows: for a range, walk the distinct
        # values from the end the operator keeps.
        counts = Counter(v for v in (r[idx] for r in rows) if v is not None)
        candidates, kept = [], 0
        if op == "=":
            candidates = [v for v in counts if counts[v] <= MAX_RESULT_ROWS]
        for v in sorted(counts, reverse=op.startswith(">")) if op != "=" else ():
            selected = kept + counts[v] if len(op) == 2 else kept  # >= and <= keep v's rows too
            kept += counts[v]
            if selected > MAX_RESULT_ROWS:
                break
            if selected:
                candidates.append(v)
        if not candidates:
            return None
        value = rng.choice(candidates)
    else:
        value = rng.choice(rows)[idx]
    name = f"{table.name}.{column.name}" if qualify else column.name
    return f"{name} {op} {quote(value)}", {
        "column": column.words,
        "op": op,
        "value": format_value(value),
        "entity": table.entity[0],
    }


def _conditions(table, rows, rng, count, qualify=False, exclude=(), selective=False):
    columns = [c for c in _attributes(table) if c.name not in exclude]
    if not selective:
        chosen = rng.sample(columns, min(count, len(columns)))
        parts = [_condition(table, rows, rng, c, qualify) for c in chosen]
    else:  # columns in random order, keeping those with a selective value
        parts = []
        for c in rng.sample(columns, len(columns)):
            part = _condition(table, rows, rng, c, qualify, selective=True)
            if part is not None:
                parts.append(part)
            if len(parts) == count:
                break
        if len(parts) < min(count, len(columns)):
            raise LookupError(f"table {table.name} has no column with a value selecting at most {MAX_RESULT_ROWS} rows")
    return [p[0] for p in parts], [p[1] for p in parts]


def generate_query(
    family: str,
    difficulty: str,
    db: Database,
    rows: dict[str, list[tuple]],
    rng: random.Random,
    main: str,
    joined: str | None = None,
) -> Query:
    """One candidate query of a family over `main` (and `joined` for joins); the caller validates it."""
    level = DIFFICULTY[difficulty]
    table = db.tables[main]
    data = rows[main]
    label = table.label_column
    where_sql, where_q = [], []
    if family == "filter":
        where_sql, where_q = _conditions(table, data, rng, level, selective=level == 1)
        select = [label] + [table.column(c.split(" ")[0]) for c in where_sql if c.split(" ")[0] != label.name]
        sql = f"SELECT {', '.join(c.name for c in select)} FROM {main} WHERE {' AND '.join(where_sql)}"
        ordered = level == 3
        if ordered:
            sql += f" ORDER BY {label.name} ASC"
        return Query(
            family,
            sql,
            [main],
            {
                "select": [c.words for c in select],
                "conditions": where_q,
                "entity": table.entity,
                "sort": label.words if ordered else "",
            },
            ordered,
        )
    if family == "aggregate":
        where_sql, where_q = _conditions(table, data, rng, level - 1)
        measures = _measures(table)
        kind = rng.choice(["COUNT", "SUM", "AVG"] if measures else ["COUNT"])
        measure = rng.choice(measures) if kind != "COUNT" else None
        expr = "COUNT(*)" if kind == "COUNT" else f"{kind}({measure.name})"
        sql = f"SELECT {expr} FROM {main}" + (f" WHERE {' AND '.join(where_sql)}" if where_sql else "")
        return Query(
            family,
            sql,
            [main],
            {
                "aggregate": kind,
                "measure": measure.words if measure else "",
                "conditions": where_q,
                "entity": table.entity,
            },
        )
    if family == "group":
        groups = _categorical(table, data)
        if not groups:
            raise LookupError(f"table {main} has no column with 2 to 15 distinct values to group by")
        group = rng.choice(groups)
        measures = [c for c in _measures(table) if c.name != group.name]
        kind = "COUNT" if level == 1 or not measures else rng.choice(["AVG", "SUM"])
        measure = rng.choice(measures) if kind != "COUNT" else None
        expr = "COUNT(*)" if kind == "COUNT" else f"{kind}({measure.name})"
        if level == 3:
            where_sql, where_q = _conditions(table, data, rng, 1, exclude=(group.name,))
        sql = f"SELECT {group.name}, {expr} FROM {main}" + (f" WHERE {' AND '.join(where_sql)}" if where_sql else "")
        sql += f" GROUP BY {group.name}"
        ordered = level >= 2
        if ordered:  # total order: by the aggregate, then the group value
            sql += f" ORDER BY {expr} DESC, {group.name} ASC"
        return Query(
            family,
            sql,
            [main],
            {
                "group": group.words,
                "aggregate": kind,
                "measure": measure.words if measure else "",
                "conditions": where_q,
                "entity": table.entity,
                "ordered": ordered,
            },
            ordered,
        )
    if family == "extreme":
        measures = _attributes(table, ("int", "float"))
        if not measures:
            raise LookupError(f"table {main} has no numeric column")
        limit = 3 if level == 2 else 5
        options = [(m, d) for m in measures for d in ("DESC", "ASC")]
        if level == 2:  # no WHERE: prefer a measure and direction whose top `limit` has no tie at the cut
            options = [(m, d) for m, d in options if not _tied_at(data, table.columns.index(m), d, limit)]
            if not options:
                raise LookupError(f"every numeric column of {main} has a tie at its top {limit} values")
        measure, direction = rng.choice(options)
        if level == 1:
            kind = "MAX" if direction == "DESC" else "MIN"
            return Query(
                family,
                f"SELECT {kind}({measure.name}) FROM {main}",
                [main],
                {"aggregate": kind, "measure": measure.words, "entity": table.entity, "limit": 0},
            )
        if level == 3:
            where_sql, where_q = _conditions(table, data, rng, 1, exclude=(measure.name,))
        sql = f"SELECT {label.name}, {measure.name} FROM {main}"
        sql += f" WHERE {' AND '.join(where_sql)}" if where_sql else ""
        sql += f" ORDER BY {measure.name} {direction}, {label.name} ASC LIMIT {limit}"
        return Query(
            family,
            sql,
            [main],
            {
                "measure": measure.words,
                "direction": direction,
                "limit": limit,
                "label": label.words,
                "conditions": where_q,
                "entity": table.entity,
            },
            True,
            limit,
            1,
        )
    if family == "join":
        assert joined is not None
        other = db.tables[joined]
        ref = next(c for c in table.columns if c.role == "ref" and c.ref == joined)
        key = other.key
        on = f"{main}.{ref.name} = {joined}.{key.name}"
        where_sql, where_q = _conditions(
            other, rows[joined], rng, 1, qualify=True, exclude=(key.name,), selective=level == 1
        )
        extra_sql, extra_q = _conditions(table, data, rng, level - 1, qualify=True)
        measure = next(iter(_measures(table)), None)
        select = [f"{joined}.{other.label_column.name}"] + ([f"{main}.{measure.name}"] if measure else [])
        sql = (
            f"SELECT {', '.join(select)} FROM {main} JOIN {joined} ON {on} WHERE {' AND '.join(where_sql + extra_sql)}"
        )
        ordered = level == 3
        if ordered:
            sql += f" ORDER BY {select[0]} ASC" + (f", {select[1]} ASC" if len(select) > 1 else "")
        return Query(
            family,
            sql,
            [main, joined],
            {
                "entity": table.entity,
                "other": other.entity,
                "other_label": other.label_column.words,
                "measure": measure.words if measure else "",
                "conditions": where_q + extra_q,
                "sort": ordered,
            },
            ordered,
        )
    raise SpecError(f"unknown query family {family!r}")


def _tied_at(rows: list[tuple], index: int, direction: str, limit: int) -> bool:
    """Whether the `limit`-th and next values of a column, ranked in `direction`, are equal."""
    values = sorted((r[index] for r in rows if r[index] is not None), reverse=direction == "DESC")
    return len(values) > limit and values[limit - 1] == values[limit]


def acceptable(query: Query, result: list[tuple], full: list[tuple] | None) -> str | None:
    """Why a query's result is not a good question (None if it is)."""
    if not result:
        return "empty result"
    if len(result) > MAX_RESULT_ROWS:  # first: a rejected result can be thousands of rows
        return f"{len(result)} result rows"
    if any(v is None for row in result for v in row) and query.family in ("aggregate", "extreme"):
        return "NULL aggregate"
    if query.family == "group" and len(result) < 2:
        return "a single group"
    if query.limit is not None and len(result) < query.limit:
        return f"fewer than {query.limit} rows for a top-{query.limit} question"
    if query.limit is not None and full is not None and len(full) > query.limit:
        if full[query.limit - 1][query.order_index] == full[query.limit][query.order_index]:
            return "tie at the LIMIT cut-off"
    return None
