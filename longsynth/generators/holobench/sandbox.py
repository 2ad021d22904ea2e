"""Running SQL and reading databases that may come from someone else, so that nothing but reading
happens: the one place the engines are locked down.

- A user's SQL must parse as exactly one SELECT (or WITH ... SELECT) before anything runs.
- DuckDB runs with external access off and its configuration locked: no file is read or written but
  the database it was opened on, no ATTACH, no extensions, and no way to turn them back on (a view
  in someone's .duckdb file that reads /etc/passwd fails).
- sqlite3 connections answer reads only (an authorizer denies everything else), and a user's file
  is opened read-only.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...errors import SpecError


def first_line(error: BaseException) -> str:
    """An engine's message without its hints and carets (DuckDB's span several lines)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def locked_duckdb(path: str = ":memory:", read_only: bool = False):
    """A DuckDB connection that can touch no file but `path`: external access off, configuration locked."""
    import duckdb  # imported on first use: most commands never run SQL

    con = duckdb.connect(path, read_only=read_only, config={"threads": 1, "enable_external_access": False})
    # A sample's tables hold hundreds of rows: no query optimizer, whose rewrites cost a fifth of
    # each query's time here and cannot change a result.
    con.execute("PRAGMA disable_optimizer")
    con.execute("SET lock_configuration = true")
    return con


def check_user_sql(sql: str) -> None:
    """A user's SQL is exactly one read-only SELECT (or WITH ... SELECT), by DuckDB's parser, before
    anything runs."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SpecError(f"the SQL could not be parsed: {first_line(exc)}") from None
    if len(statements) != 1:
        raise SpecError(f"the SQL holds {len(statements)} statements; give exactly one SELECT")
    kind = statements[0].type.name
    if kind != "SELECT":
        raise SpecError(
            f"the SQL is not a SELECT (it is {kind}); only one read-only SELECT (or WITH ... SELECT) is allowed"
        )


_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _reads_only(action: int, *_: Any) -> int:
    """A sqlite3 authorizer: reading tables and calling functions, nothing else."""
    return sqlite3.SQLITE_OK if action in _READS else sqlite3.SQLITE_DENY


def read_only(con: sqlite3.Connection) -> sqlite3.Connection:
    con.set_authorizer(_reads_only)
    return con


def quote_name(name: str) -> str:
    """An identifier quoted for SQL (a name from someone's database may hold a quote)."""
    return '"' + name.replace('"', '""') + '"'
