"""Databases for the holobench family: three built-in synthetic ones and user databases.

A database is a few related tables with typed columns and foreign keys. The
built-in ones are generated deterministically (Faker name lists plus our own
value pools) with 5,000 rows per table, enough to fill a 128K context without
repeating a row. User databases come from a SQLite file, a DuckDB file or a
folder of CSV / Parquet files (one table per file).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CorpusError, SpecError
from .text.people import CITIES, MAJORS, name_pools
from .text.words import ADJECTIVES, NOUNS

ROWS_PER_TABLE = 5000


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "int" | "float" | "str"
    role: str = "attribute"  # "key" (primary key), "ref" (foreign key), "label" (names a row), "attribute"
    ref: str | None = None  # table a foreign key points to
    label: str = ""  # words for questions ("age", "unit price")

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
    """Answer cells as DESIGN.md fixes them: 20.0 -> "20", 91.5 -> "91.50", None -> "NULL"."""
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

_GENRES = [
    "drama",
    "comedy",
    "thriller",
    "documentary",
    "animation",
    "western",
    "romance",
    "horror",
    "mystery",
    "science fiction",
    "musical",
    "adventure",
]
_CATEGORIES = [
    "kitchen",
    "garden",
    "toys",
    "books",
    "sports",
    "office",
    "music",
    "clothing",
    "tools",
    "electronics",
    "beauty",
    "travel",
]
_DEPARTMENTS = [
    "Mathematics",
    "History",
    "Physics",
    "Biology",
    "Economics",
    "Literature",
    "Chemistry",
    "Philosophy",
    "Engineering",
    "Art",
]
_COUNTRIES = [
    "France",
    "Japan",
    "Brazil",
    "Canada",
    "India",
    "Italy",
    "Kenya",
    "Mexico",
    "Norway",
    "Spain",
    "Chile",
    "Egypt",
]
_SEMESTERS = ["Spring 2021", "Autumn 2021", "Spring 2022", "Autumn 2022", "Spring 2023", "Autumn 2023"]


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


def _retail(rng: random.Random, n: int) -> Database:
    people = _unique_people(rng, n)
    products = _unique_titles(rng, n, 2)
    customers = Table(
        "customers",
        [
            Column("customer_id", "int", "key"),
            Column("name", "str", "label"),
            Column("city", "str"),
            Column("age", "int"),
            Column("signup_year", "int", label="sign-up year"),
        ],
        [(i + 1, people[i], rng.choice(CITIES[:40]), rng.randint(18, 80), rng.randint(2010, 2024)) for i in range(n)],
        ("customer", "customers"),
    )
    product_table = Table(
        "products",
        [
            Column("product_id", "int", "key"),
            Column("name", "str", "label"),
            Column("category", "str"),
            Column("price", "float", label="price in dollars"),
            Column("stock", "int", label="units in stock"),
        ],
        [
            (i + 1, products[i], rng.choice(_CATEGORIES), round(rng.uniform(2, 500), 2), rng.randint(0, 900))
            for i in range(n)
        ],
        ("product", "products"),
    )
    orders = Table(
        "orders",
        [
            Column("order_id", "int", "key"),
            Column("customer_id", "int", "ref", "customers", "customer"),
            Column("product_id", "int", "ref", "products", "product"),
            Column("quantity", "int"),
            Column("order_year", "int", label="order year"),
        ],
        [(i + 1, rng.randint(1, n), rng.randint(1, n), rng.randint(1, 20), rng.randint(2015, 2024)) for i in range(n)],
        ("order", "orders"),
    )
    return Database("retail", {t.name: t for t in (customers, product_table, orders)})


def _university(rng: random.Random, n: int) -> Database:
    people = _unique_people(rng, n)
    titles = _unique_titles(rng, n, 2)
    students = Table(
        "students",
        [
            Column("student_id", "int", "key"),
            Column("name", "str", "label"),
            Column("major", "str"),
            Column("enrollment_year", "int", label="enrollment year"),
            Column("gpa", "float", label="GPA"),
        ],
        [
            (i + 1, people[i], rng.choice(MAJORS[:25]), rng.randint(2015, 2023), round(rng.uniform(2.0, 4.0), 2))
            for i in range(n)
        ],
        ("student", "students"),
    )
    courses = Table(
        "courses",
        [
            Column("course_id", "int", "key"),
            Column("title", "str", "label"),
            Column("department", "str"),
            Column("credits", "int"),
            Column("capacity", "int"),
        ],
        [
            (i + 1, f"{titles[i]} Studies", rng.choice(_DEPARTMENTS), rng.randint(1, 6), rng.randint(10, 300))
            for i in range(n)
        ],
        ("course", "courses"),
    )
    enrollments = Table(
        "enrollments",
        [
            Column("enrollment_id", "int", "key"),
            Column("student_id", "int", "ref", "students", "student"),
            Column("course_id", "int", "ref", "courses", "course"),
            Column("grade", "int"),
            Column("semester", "str"),
        ],
        [(i + 1, rng.randint(1, n), rng.randint(1, n), rng.randint(40, 100), rng.choice(_SEMESTERS)) for i in range(n)],
        ("enrollment", "enrollments"),
    )
    return Database("university", {t.name: t for t in (students, courses, enrollments)})


def _films(rng: random.Random, n: int) -> Database:
    people = _unique_people(rng, n)
    titles = _unique_titles(rng, n, 3)
    directors = Table(
        "directors",
        [
            Column("director_id", "int", "key"),
            Column("name", "str", "label"),
            Column("country", "str"),
            Column("birth_year", "int", label="birth year"),
            Column("awards", "int", label="number of awards"),
        ],
        [(i + 1, people[i], rng.choice(_COUNTRIES), rng.randint(1940, 1995), rng.randint(0, 30)) for i in range(n)],
        ("director", "directors"),
    )
    films = Table(
        "films",
        [
            Column("film_id", "int", "key"),
            Column("title", "str", "label"),
            Column("genre", "str"),
            Column("release_year", "int", label="release year"),
            Column("rating", "float"),
            Column("director_id", "int", "ref", "directors", "director"),
        ],
        [
            (
                i + 1,
                titles[i],
                rng.choice(_GENRES),
                rng.randint(1970, 2024),
                round(rng.uniform(1, 10), 1),
                rng.randint(1, n),
            )
            for i in range(n)
        ],
        ("film", "films"),
    )
    reviews = Table(
        "reviews",
        [
            Column("review_id", "int", "key"),
            Column("film_id", "int", "ref", "films", "film"),
            Column("critic", "str"),
            Column("score", "int"),
            Column("review_year", "int", label="review year"),
        ],
        [
            (i + 1, rng.randint(1, n), rng.choice(people[:60]), rng.randint(1, 100), rng.randint(1990, 2024))
            for i in range(n)
        ],
        ("review", "reviews"),
    )
    return Database("films", {t.name: t for t in (directors, films, reviews)})


BUILT_IN = {"retail": _retail, "university": _university, "films": _films}
BUILT_IN_VERSION = 1  # part of the row cache key: bump when generation changes


@functools.lru_cache(maxsize=4)
def built_in_database(name: str, rows: int = ROWS_PER_TABLE) -> Database:
    """A built-in database; its generated rows are cached per machine (generation is pure Python)."""
    from .cache import cached_json

    if name not in BUILT_IN:
        raise SpecError(f"unknown database {name!r}; built-in: {', '.join(BUILT_IN)}, or a path to your own")

    def generate() -> dict[str, list]:
        db = BUILT_IN[name](random.Random(f"holobench-{name}"), rows)
        return {t.name: t.rows for t in db.tables.values()}

    cached = cached_json("database", {"name": name, "rows": rows, "version": BUILT_IN_VERSION}, generate)
    db = BUILT_IN[name](random.Random(0), 0)  # the schema alone
    for table in db.tables.values():
        table.rows = [tuple(r) for r in cached[table.name]]
    db.template_folder = f"holobench/{name}"
    return db


# --------------------------------------------------------------------------- user databases


def _kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "str"


def _table_from_records(name: str, columns: list[str], records: list[tuple]) -> Table:
    cols = []
    for n, col in enumerate(columns):
        values = [r[n] for r in records]
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


def load_user_database(path: str) -> Database:
    """A SQLite file, a DuckDB file, or a folder of .csv / .parquet tables."""
    source = Path(path)
    if not source.exists():
        raise CorpusError(f"database {path!r} does not exist; give a .sqlite/.db/.duckdb file or a folder of CSV files")
    db = Database(source.stem)
    try:
        if source.is_dir():
            import polars as pl

            files = sorted(p for p in source.iterdir() if p.suffix in (".csv", ".parquet"))
            if not files:
                raise CorpusError(f"database folder {path!r} holds no .csv or .parquet files")
            for file in files:
                frame = pl.read_csv(file) if file.suffix == ".csv" else pl.read_parquet(file)
                db.tables[file.stem] = _table_from_records(file.stem, frame.columns, frame.rows())
        elif source.suffix == ".duckdb":
            import duckdb

            with duckdb.connect(str(source), read_only=True) as con:
                names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
                for name in sorted(names):
                    result = con.execute(f'SELECT * FROM "{name}"')
                    columns = [d[0] for d in result.description]
                    db.tables[name] = _table_from_records(name, columns, result.fetchall())
        else:
            import sqlite3

            con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
                for name in names:
                    cursor = con.execute(f'SELECT * FROM "{name}"')
                    columns = [d[0] for d in cursor.description]
                    db.tables[name] = _table_from_records(name, columns, cursor.fetchall())
            finally:
                con.close()
    except CorpusError:
        raise
    except Exception as exc:
        raise CorpusError(f"database {path!r} could not be read: {type(exc).__name__}: {exc}") from None
    if not db.tables:
        raise CorpusError(f"database {path!r} holds no tables")
    _link_foreign_keys(db)
    return db


@functools.lru_cache(maxsize=4)
def get_database(name_or_path: str) -> Database:
    if name_or_path in BUILT_IN:
        return built_in_database(name_or_path)
    return load_user_database(name_or_path)
