"""Databases for the holobench family: three built-in synthetic ones and user databases.

A database is a few related tables with typed columns and foreign keys. The
built-in ones are described by data files (`schemas/<name>.yaml`: tables, columns,
and how each column's values are drawn) and generated deterministically (Faker
name lists plus our own value pools) with 5,000 rows per table, enough to fill a
128K context without repeating a row. User databases come from a SQLite file, a DuckDB file or a
folder of CSV / Parquet files (one table per file).
"""

from __future__ import annotations

import functools
import math
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ...cache import cached_json
from ...errors import CorpusError, SpecError
from ...files import input_files, read_parquet_file
from ...text.vocabulary import CITIES, MAJORS, name_pools
from .sandbox import first_line, locked_duckdb, quote_name, read_only
from .words import ADJECTIVES, NOUNS

ROWS_PER_TABLE = 5000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "int" | "float" | "str"
    role: str = "attribute"  # "key" (primary key), "ref" (foreign key), "label" (names a row), "attribute"
    ref: str | None = None  # table a foreign key points to
    label: str = ""  # words for questions ("age", "unit price")
    # Aggregates that make sense over the column ("SUM", "AVG"): a schema declares them; None lets
    # longsynth infer them (a user database: numeric attributes but years may be summed and averaged).
    aggregates: tuple[str, ...] | None = None

    def allows(self, aggregate: str) -> bool:
        if self.aggregates is not None:
            return aggregate in self.aggregates
        return self.kind in ("int", "float") and self.role == "attribute" and not self.name.endswith("year")

    @property
    def words(self) -> str:
        return self.label or self.name.replace("_", " ")


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list[tuple]
    entity: tuple[str, str] = ("record", "records")  # singular, plural for questions

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def key(self) -> Column | None:
        return next((c for c in self.columns if c.role == "key"), None)

    @property
    def label_column(self) -> Column:
        return next((c for c in self.columns if c.role == "label"), self.columns[0])


@dataclass
class Database:
    name: str
    tables: dict[str, Table] = field(default_factory=dict)
    template_folder: str | None = None  # holobench/<name>/ in the template search path, if it has templates


def format_value(value: Any) -> str:
    """Answer cells as the row schema fixes them: 20.0 -> "20", 91.5 -> "91.50", None -> "NULL"."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else f"{value:.2f}"
    if hasattr(value, "is_integer") and not isinstance(value, int):  # Decimal
        return format_value(float(value))
    return str(value)


def text_value(value: Any, kind: str) -> str:
    """Values as rows state them in the context (floats always with two decimals)."""
    if value is None:
        return "unknown"
    if kind == "float":
        return f"{float(value):.2f}"
    return str(value)


# --------------------------------------------------------------------------- built-in databases

SCHEMAS = Path(__file__).parent / "schemas"  # one YAML file per built-in database (format: retail.yaml)
SHARED_LISTS = {"cities": CITIES, "majors": MAJORS}


def built_in_names() -> list[str]:
    return sorted(p.stem for p in SCHEMAS.glob("*.yaml"))


@functools.lru_cache(maxsize=8)
def _schema(name: str) -> dict[str, Any]:
    """A built-in database's schema (our own file), read by libyaml's safe loader where PyYAML has it:
    the pure-Python one took 20 ms of a holobench build's first sample for retail.yaml, libyaml 1 ms."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SCHEMAS / f"{name}.yaml").read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)


def _unique_titles(rng: random.Random, count: int, words: int) -> list[str]:
    """Distinct capitalised titles from our word lists ("Amber Falcon Harbor")."""
    seen: dict[str, None] = {}
    pool = [w.capitalize() for w in ADJECTIVES], [w.capitalize() for w in NOUNS]
    while len(seen) < count:
        parts = [rng.choice(pool[0])] + [rng.choice(pool[1]) for _ in range(words - 1)]
        seen.setdefault(" ".join(parts), None)
    return list(seen)


def _unique_people(rng: random.Random, count: int) -> list[str]:
    firsts, lasts = name_pools()
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(f"{rng.choice(firsts)} {rng.choice(lasts)}", None)
    return list(seen)


def _draw_pool(kind: dict[str, Any], rng: random.Random, rows: int) -> list[str]:
    if "people" in kind:
        return _unique_people(rng, rows)
    return _unique_titles(rng, rows, int(kind["titles"]))


def _value_maker(values: Any, lists: dict[str, list], rows: int, rng: random.Random):
    """A function (row index) -> value for one column, from its `values` entry (see retail.yaml)."""
    if values == "row_number":
        return lambda i: i + 1
    ((kind, argument),) = [(k, v) for k, v in values.items() if k in ("pool", "choice", "integer", "decimal")]
    if kind == "pool":
        pool, form = lists[argument], values.get("format", "{}")
        return lambda i: form.format(pool[i])
    if kind == "choice":
        choices = lists[argument][: values.get("first")]
        return lambda i: rng.choice(choices)
    low, high = (rows if bound == "rows" else bound for bound in argument)
    if kind == "integer":
        return lambda i: rng.randint(low, high)
    digits = int(values["digits"])
    return lambda i: round(rng.uniform(low, high), digits)


def _database_from_schema(name: str, rng: random.Random | None, rows: int) -> Database:
    """The database a schema file describes; with `rng`, its rows too (else the schema alone)."""
    schema = _schema(name)
    tables = {}
    lists = {**SHARED_LISTS, **schema.get("lists", {})}
    if rng is not None:
        for pool, kind in schema["pools"].items():
            lists[pool] = _draw_pool(kind, rng, rows)
    for spec in schema["tables"]:
        columns = [
            Column(
                c["name"],
                c["kind"],
                c.get("role", "attribute"),
                c.get("ref"),
                c.get("label", ""),
                tuple(c.get("aggregates", [])),
            )
            for c in spec["columns"]
        ]
        data = []
        if rng is not None:
            makers = [_value_maker(c["values"], lists, rows, rng) for c in spec["columns"]]
            data = [tuple(make(i) for make in makers) for i in range(rows)]
        tables[spec["name"]] = Table(spec["name"], columns, data, tuple(spec["entity"]))
    return Database(schema["name"], tables)


BUILT_IN_VERSION = 1  # part of the row cache key: bump when generation changes


@functools.lru_cache(maxsize=4)
def built_in_database(name: str, rows: int = ROWS_PER_TABLE) -> Database:
    """A built-in database; its generated rows are cached per machine (generation is pure Python)."""
    if name not in built_in_names():
        raise SpecError(f"unknown database {name!r}; built-in: {', '.join(built_in_names())}, or a path to your own")

    def generate() -> dict[str, list]:
        db = _database_from_schema(name, random.Random(f"holobench-{name}"), rows)
        return {t.name: t.rows for t in db.tables.values()}

    cached = cached_json("database", {"name": name, "rows": rows, "version": BUILT_IN_VERSION}, generate)
    db = _database_from_schema(name, None, 0)
    for table in db.tables.values():
        table.rows = [tuple(r) for r in cached[table.name]]
    db.template_folder = name
    return db


# --------------------------------------------------------------------------- user databases


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "str"


MAX_COLUMNS = 100  # of a user table (HoloBench's have a handful; a 3,000-column CSV took 88 s to refuse)
MAX_ROWS = 1_000_000  # of a user table (a context of 2M tokens holds tens of thousands of rows)
MAX_CSV_BYTES = 1 << 30  # of a user CSV table (MAX_ROWS rows of MAX_COLUMNS short values fit)
MAX_VALUE_CHARS = 10_000  # of one text value of a user table (HoloBench's are names, cities, titles)


def _check_shape(name: str, columns: list[str]) -> None:
    if len(columns) > MAX_COLUMNS:
        raise CorpusError(f"database table {name!r} has {len(columns):,} columns; at most {MAX_COLUMNS}")


def _bounded_rows(name: str, fetch):
    """At most MAX_ROWS rows of a table (`fetch(n)` returns up to n rows: a list, or a polars frame)."""
    rows = fetch(MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        raise CorpusError(f"database table {name!r} has more than {MAX_ROWS:,} rows; use a smaller table")
    return rows


def _table_from_records(name: str, columns: list[str], records: list[tuple]) -> Table:
    _check_shape(name, columns)
    cols = []
    for n, col in enumerate(columns):
        values = [r[n] for r in records]
        bad = next((v for v in values if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:  # inf or NaN: no answer can be stated or compared with it
            raise CorpusError(f"database table {name!r} column {col!r} holds {bad}; use finite numbers or NULL")
        long = next((v for v in values if isinstance(v, str) and len(v) > MAX_VALUE_CHARS), None)
        if long is not None:  # a row is a sentence: a 100 MB value took 12 s and 4 GB before any query failed
            raise CorpusError(
                f"database table {name!r} column {col!r} holds a value of {len(long):,} characters; "
                f"at most {MAX_VALUE_CHARS:,} (a row is stated as one sentence)"
            )
        kind = _kind(values)
        role = "key" if n == 0 and col.endswith("id") and len(set(values)) == len(values) else "attribute"
        cols.append(Column(col, kind, role))
    if not any(c.role == "label" for c in cols):
        text_cols = [i for i, c in enumerate(cols) if c.kind == "str"]
        if text_cols:
            c = cols[text_cols[0]]
            cols[text_cols[0]] = Column(c.name, c.kind, "label")
    rows = [
        tuple((str(v) if c.kind == "str" and v is not None else v) for v, c in zip(r, cols, strict=True))
        for r in records
    ]
    return Table(name, cols, rows, (name.rstrip("s") or name, name))


def _link_foreign_keys(db: Database) -> None:
    """Columns named like another table's key (`customer_id` -> customers.customer_id) become references."""
    keys = {t.key.name: t.name for t in db.tables.values() if t.key is not None}
    for table in db.tables.values():
        table.columns = [
            Column(c.name, c.kind, "ref", keys[c.name], c.label)
            if c.role == "attribute" and c.name in keys and keys[c.name] != table.name
            else c
            for c in table.columns
        ]


def _read_folder(source: Path, db: Database) -> None:
    # Its own files only: not what a link points to, never a pipe (see `input_files`).
    files = [p for p in input_files(source) if p.parent == source and p.suffix in (".csv", ".parquet")]
    if not files:
        raise CorpusError(f"database folder {str(source)!r} holds no .csv or .parquet files")
    for file in files:
        # A table is refused before it is read whole when it cannot fit the limits: a CSV by its size
        # (polars told to stop after some rows returned none of a broken file, with no error), a
        # Parquet file, whose rows are counted in its metadata, one row past MAX_ROWS at most.
        if file.suffix == ".csv" and file.stat().st_size > MAX_CSV_BYTES:
            raise CorpusError(
                f"database table {str(file)!r} holds {file.stat().st_size:,} bytes, more than the "
                f"{MAX_CSV_BYTES:,} a CSV table may have; use a smaller table"
            )
        try:
            if file.suffix == ".csv":
                frame = pl.read_csv(file, glob=False)
            else:
                frame = read_parquet_file(file, n_rows=MAX_ROWS + 1)
        except Exception as exc:  # polars raises several kinds, with many lines of hints
            raise CorpusError(f"database table {str(file)!r} could not be read: {first_line(exc)}") from None
        _check_shape(file.stem, frame.columns)
        db.tables[file.stem] = _table_from_records(
            file.stem, frame.columns, _bounded_rows(file.stem, frame.head).rows()
        )


def _read_duckdb(source: Path, db: Database) -> None:
    with locked_duckdb(str(source), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for name in sorted(names):
            result = con.execute(f"SELECT * FROM {quote_name(name)}")
            columns = [d[0] for d in result.description]
            _check_shape(name, columns)
            db.tables[name] = _table_from_records(name, columns, _bounded_rows(name, result.fetchmany))


def _read_sqlite(source: Path, db: Database) -> None:
    con = read_only(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True))
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for name in names:
            cursor = con.execute(f"SELECT * FROM {quote_name(name)}")
            columns = [d[0] for d in cursor.description]
            _check_shape(name, columns)
            db.tables[name] = _table_from_records(name, columns, _bounded_rows(name, cursor.fetchmany))
    finally:
        con.close()


def load_user_database(path: str) -> Database:
    """A SQLite file, a DuckDB file, or a folder of .csv / .parquet tables, read without running
    anything the file holds beyond reading its tables (see `engines`)."""
    source = Path(path)
    if not source.exists():
        raise CorpusError(f"database {path!r} does not exist; give a .sqlite/.db/.duckdb file or a folder of CSV files")
    if not source.is_dir() and not source.is_file():
        raise CorpusError(f"database {path!r} is not a regular file or a folder (a pipe or a device is never read)")
    db = Database(source.stem)
    reader = _read_folder if source.is_dir() else _read_duckdb if source.suffix == ".duckdb" else _read_sqlite
    try:
        reader(source, db)
    except CorpusError:
        raise
    except Exception as exc:
        raise CorpusError(f"database {path!r} could not be read: {type(exc).__name__}: {first_line(exc)}") from None
    if not db.tables:
        raise CorpusError(f"database {path!r} holds no tables")
    _link_foreign_keys(db)
    return db


def database_key(name_or_path: str) -> tuple:
    """What identifies a database's content: a built-in's name, or a user database's absolute path
    with the size and modification time of its files (a cache keyed by the bare name would serve
    another folder's `db.sqlite`, or yesterday's)."""
    if name_or_path in built_in_names():
        return ("builtin", name_or_path)
    path = Path(name_or_path).resolve()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path] if path.exists() else []
    return ("user", str(path), tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=4)
def database_for(key: tuple) -> Database:
    return built_in_database(key[1]) if key[0] == "builtin" else load_user_database(key[1])


def get_database(name_or_path: str) -> Database:
    return database_for(database_key(name_or_path))
