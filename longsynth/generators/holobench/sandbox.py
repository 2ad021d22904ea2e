"""Running SQL and reading databases that may come from someone else, so that nothing but reading
happens: the one place the engines are locked down.

- A user's SQL must parse as exactly one SELECT (or WITH ... SELECT) before anything runs.
- DuckDB runs with external access off and its configuration locked: no file is read or written but
  the database it was opened on, no ATTACH, no extensions, and no way to turn them back on (a view
  in someone's .duckdb file that reads /etc/passwd fails).
- sqlite3 connections answer reads only (an authorizer denies everything else), and a user's file
  is opened read-only.
- Every query is stopped after `QUERY_SECONDS` (`time_limited`), and DuckDB may use at most
  `DUCKDB_MEMORY` (a cross join of five tables, or a recursive CTE with no end, ran for good).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ...errors import SpecError


def first_line(error: BaseException) -> str:
    """An engine's message without its hints and carets (DuckDB's span several lines)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def locked_duckdb(path: str = ":memory:", read_only: bool = False):
    """A DuckDB connection that can touch no file but `path`: external access off, configuration locked."""
    import duckdb  # imported on first use: most commands never run SQL

    config = {"threads": 1, "enable_external_access": False, "memory_limit": DUCKDB_MEMORY}
    con = duckdb.connect(path, read_only=read_only, config=config)
    # A sample's tables hold hundreds of rows: no query optimizer, whose rewrites cost a fifth of
    # each query's time here and cannot change a result.
    con.execute("PRAGMA disable_optimizer")
    con.execute("SET lock_configuration = true")
    return con


QUERY_SECONDS = 10.0  # a query of a sample's rows takes milliseconds
DUCKDB_MEMORY = "2GB"


class _Watchdog:
    """One thread per process that interrupts any query still running past its deadline (both
    engines' `interrupt` may be called from another thread for exactly this)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[int, tuple[float, Callable[[], None]]] = {}
        self._thread: threading.Thread | None = None
        self._next = 0

    @contextmanager
    def limit(self, interrupt: Callable[[], None]) -> Iterator[None]:
        with self._lock:
            key, self._next = self._next, self._next + 1
            self._running[key] = (time.monotonic() + QUERY_SECONDS, interrupt)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="longsynth-sql-watchdog", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)

    def _watch(self) -> None:
        while True:
            time.sleep(min(0.25, QUERY_SECONDS / 4))
            now = time.monotonic()
            with self._lock:
                late = [(key, interrupt) for key, (deadline, interrupt) in self._running.items() if now > deadline]
                for key, _ in late:
                    self._running.pop(key)
            for _, interrupt in late:
                interrupt()


_WATCHDOG = _Watchdog()


@contextmanager
def time_limited(interrupt: Callable[[], None]) -> Iterator[None]:
    """Run a query; past QUERY_SECONDS, `interrupt()` stops it and a one-line SpecError says so."""
    started = time.monotonic()
    try:
        with _WATCHDOG.limit(interrupt):
            yield
    except Exception as exc:
        if time.monotonic() - started < QUERY_SECONDS or "interrupt" not in str(exc).lower():
            raise
        raise SpecError(
            f"the SQL ran for more than {QUERY_SECONDS:g} s and was stopped; a query over a sample's rows "
            "takes milliseconds (is there a cross join or a recursion with no end?)"
        ) from None


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
