"""SQL for the holobench family: generate candidate queries from a schema, and judge their results.

Queries come in five families (filter, aggregate, group, extreme, join) and
three difficulties that add components (conditions, grouping, ordering); each
family is one function in `QUERY_FAMILIES`. Every generated query is executed
before it is accepted (`engines.py`): it must return a useful, unambiguous
answer (non-empty, not huge, no tie at an ORDER BY ... LIMIT cut-off, results
totally ordered when order matters).
"""

from __future__ import annotations

import operator
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...errors import SpecError
from .databases import Column, Database, Table, format_value

DIFFICULTY = {"easy": 1, "medium": 2, "hard": 3}
MAX_RESULT_ROWS = 25
_OPS = {"int": (">", "<", ">=", "<="), "float": (">", "<"), "str": ("=",)}


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
    # An answer a question must not have: MAX/MIN's whole-table extreme, a bound a model could read
    # off the schema (quantity 20, the last year) without reading the rows.
    not_answer: Any = None


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


def answer_tokens(tokenizer, answers: list[str]) -> int:
    """Tokens of the gold answer written one result row per line, as the prompt asks for it."""
    return tokenizer.count("\n".join(answers))


# --------------------------------------------------------------------------- generation


def _attributes(table: Table, kinds: tuple[str, ...] = ("int", "float", "str")) -> list[Column]:
    return [c for c in table.columns if c.role == "attribute" and c.kind in kinds]


def _measures(table: Table, aggregate: str | None = None) -> list[Column]:
    """Numeric columns the schema lets a question add up or average (`aggregate`: one of them)."""
    kinds = (aggregate,) if aggregate else ("SUM", "AVG")
    return [c for c in _attributes(table, ("int", "float")) if any(c.allows(k) for k in kinds)]


def _categorical(table: Table, rows: list[tuple], limit: int = 15) -> list[Column]:
    out = []
    for c in _attributes(table, ("str", "int")):
        idx = table.columns.index(c)
        distinct = {r[idx] for r in rows}
        if 2 <= len(distinct) <= limit:
            out.append(c)
    return out


def _condition(
    table: Table,
    rows: list[tuple],
    rng: random.Random,
    column: Column,
    qualify: bool,
    selective: bool = False,
    max_rows: int = MAX_RESULT_ROWS,
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
        counts = Counter(map(operator.itemgetter(idx), rows))  # (in C: a generator per row cost 0.5 ms a sample)
        counts.pop(None, None)
        candidates, kept = [], 0
        if op == "=":
            candidates = [v for v in counts if counts[v] <= max_rows]
        for v in sorted(counts, reverse=op.startswith(">")) if op != "=" else ():
            selected = kept + counts[v] if len(op) == 2 else kept  # >= and <= keep v's rows too
            kept += counts[v]
            if selected > max_rows:
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


def _conditions(table, rows, rng, count, qualify=False, exclude=(), selective=False, max_rows=MAX_RESULT_ROWS):
    columns = [c for c in _attributes(table) if c.name not in exclude]
    if count > 0 and not columns:  # a user's table of keys and labels only: another table is tried
        raise LookupError(f"table {table.name} has no attribute column to filter on")
    if not selective:
        chosen = rng.sample(columns, min(count, len(columns)))
        parts = [_condition(table, rows, rng, c, qualify) for c in chosen]
    else:  # columns in random order, keeping those with a selective value
        parts = []
        for c in rng.sample(columns, len(columns)):
            part = _condition(table, rows, rng, c, qualify, selective=True, max_rows=max_rows)
            if part is not None:
                parts.append(part)
            if len(parts) == count:
                break
        if len(parts) < min(count, len(columns)):
            raise LookupError(f"table {table.name} has no column with a value selecting at most {max_rows} rows")
    return [p[0] for p in parts], [p[1] for p in parts]


@dataclass
class Draft:
    """What a query family function works from: the tables it reads, this sample's rows of them, the
    difficulty level (1 easy .. 3 hard) and the sample's random generator."""

    level: int
    db: Database
    rows: dict[str, list[tuple]]
    rng: random.Random
    main: str
    joined: str | None
    max_rows: int = MAX_RESULT_ROWS  # the largest answer a query may have
    want_empty: bool = False  # a question with no answer: conditions take values from the whole table

    @property
    def table(self) -> Table:
        return self.db.tables[self.main]

    @property
    def data(self) -> list[tuple]:
        return self.rows[self.main]


def _lone_cap(d: Draft) -> int:
    """The most rows a lone condition may select: MAX_RESULT_ROWS, or less under a smaller answer cap.
    It does not grow with `max_answer_rows` (0, no cap, by default): a lone condition that keeps half
    the table asks for a copy of the context, not a filter."""
    return min(d.max_rows, MAX_RESULT_ROWS)


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def filter_query(d: Draft) -> Query:
    """Rows meeting 1 to 3 conditions (a lone condition selects a question-sized answer, at most
    MAX_RESULT_ROWS rows whatever `max_answer_rows` allows); sorted when hard."""
    table, label = d.table, d.table.label_column
    source = table.rows if d.want_empty else d.data
    where_sql, where_q = _conditions(
        table, source, d.rng, d.level, selective=d.level == 1 and not d.want_empty, max_rows=_lone_cap(d)
    )
    select = [label] + [table.column(c.split(" ")[0]) for c in where_sql if c.split(" ")[0] != label.name]
    sql = f"SELECT {', '.join(c.name for c in select)} FROM {d.main} WHERE {' AND '.join(where_sql)}"
    ordered = d.level == 3
    if ordered:
        sql += f" ORDER BY {label.name} ASC"
    question = {
        "select": [c.words for c in select],
        "conditions": where_q,
        "entity": table.entity,
        "sort": label.words if ordered else "",
        "sort_numeric": label.kind != "str",
    }
    return Query("filter", sql, [d.main], question, ordered)


def aggregate_query(d: Draft) -> Query:
    """COUNT, SUM or AVG over the rows meeting 1 (easy, medium) or 2 (hard) conditions. Never over the
    whole table: COUNT(*) of every relevant row is fixed by the length and the density, so it could
    be computed from them without reading a row."""
    table = d.table
    where_sql, where_q = _conditions(table, d.data, d.rng, max(1, d.level - 1))
    kind = d.rng.choice(["COUNT"] + [k for k in ("SUM", "AVG") if _measures(table, k)])
    measure = d.rng.choice(_measures(table, kind)) if kind != "COUNT" else None
    expr = "COUNT(*)" if kind == "COUNT" else f"{kind}({measure.name})"
    sql = f"SELECT {expr} FROM {d.main}" + _where(where_sql)
    question = {
        "aggregate": kind,
        "measure": measure.words if measure else "",
        "conditions": where_q,
        "entity": table.entity,
    }
    return Query("aggregate", sql, [d.main], question)


def group_query(d: Draft) -> Query:
    """An aggregate per value of a column with few values; ordered from medium, filtered when hard."""
    table = d.table
    groups = _categorical(table, d.data)
    if not groups:
        raise LookupError(f"table {d.main} has no column with 2 to 15 distinct values to group by")
    group = d.rng.choice(groups)
    kinds = [k for k in ("AVG", "SUM") if any(c.name != group.name for c in _measures(table, k))]
    kind = "COUNT" if d.level == 1 or not kinds else d.rng.choice(kinds)
    measure = d.rng.choice([c for c in _measures(table, kind) if c.name != group.name]) if kind != "COUNT" else None
    expr = "COUNT(*)" if kind == "COUNT" else f"{kind}({measure.name})"
    where_sql, where_q = _conditions(table, d.data, d.rng, 1, exclude=(group.name,)) if d.level == 3 else ([], [])
    sql = f"SELECT {group.name}, {expr} FROM {d.main}" + _where(where_sql) + f" GROUP BY {group.name}"
    ordered = d.level >= 2
    if ordered:  # total order: by the aggregate, then the group value
        sql += f" ORDER BY {expr} DESC, {group.name} ASC"
    question = {
        "group": group.words,
        "aggregate": kind,
        "measure": measure.words if measure else "",
        "conditions": where_q,
        "entity": table.entity,
        "ordered": ordered,
        "group_numeric": group.kind != "str",
    }
    return Query("group", sql, [d.main], question, ordered)


def extreme_query(d: Draft) -> Query:
    """MAX or MIN when easy; else the top 3 (medium) or top 5 of the rows meeting a condition (hard)."""
    table, label = d.table, d.table.label_column
    measures = _attributes(table, ("int", "float"))
    if not measures:
        raise LookupError(f"table {d.main} has no numeric column")
    limit = 3 if d.level == 2 else 5
    options = [(m, direction) for m in measures for direction in ("DESC", "ASC")]
    if d.level == 2:  # no WHERE: prefer a measure and direction whose top `limit` has no tie at the cut
        options = [(m, di) for m, di in options if not _tied_at(d.data, table.columns.index(m), di, limit)]
        if not options:
            raise LookupError(f"every numeric column of {d.main} has a tie at its top {limit} values")
    if d.level == 1:
        # MAX/MIN of a column with few values (a quantity of 1 to 20) is its bound or next to it over
        # almost any rows: only columns with many values are asked.
        wide = [(m, di) for m, di in options if _distinct(table, m) >= WIDE_COLUMN]
        if not wide:
            raise LookupError(f"table {d.main} has no numeric column with {WIDE_COLUMN} or more values")
        options = wide
    measure, direction = d.rng.choice(options)
    if d.level == 1:
        # MAX or MIN of the rows meeting two conditions, never the whole table's extreme (see
        # `not_answer`): over many rows of a bounded column the answer sits at or next to the bound,
        # which a model could guess from the schema; and with one condition on a small table the same
        # question (and gold) comes back row after row.
        kind = "MAX" if direction == "DESC" else "MIN"
        where_sql, where_q = _conditions(table, d.data, d.rng, 2, exclude=(measure.name,))
        at = table.columns.index(measure)
        values = [r[at] for r in table.rows if r[at] is not None]
        bound = (max(values) if kind == "MAX" else min(values)) if values else None
        question = {
            "aggregate": kind,
            "measure": measure.words,
            "entity": table.entity,
            "limit": 0,
            "conditions": where_q,
        }
        sql = f"SELECT {kind}({measure.name}) FROM {d.main}" + _where(where_sql)
        return Query("extreme", sql, [d.main], question, not_answer=bound)
    where_sql, where_q = _conditions(table, d.data, d.rng, 1, exclude=(measure.name,)) if d.level == 3 else ([], [])
    sql = f"SELECT {label.name}, {measure.name} FROM {d.main}" + _where(where_sql)
    sql += f" ORDER BY {measure.name} {direction}, {label.name} ASC LIMIT {limit}"
    question = {
        "measure": measure.words,
        "direction": direction,
        "limit": limit,
        "label": label.words,
        "label_numeric": label.kind != "str",
        "conditions": where_q,
        "entity": table.entity,
    }
    return Query("extreme", sql, [d.main], question, True, limit, 1)


def join_query(d: Draft) -> Query:
    """Rows of one table whose referenced row in another meets a condition, plus 0 to 2 of their own."""
    table, joined = d.table, d.joined
    other = d.db.tables[joined]
    ref = next(c for c in table.columns if c.role == "ref" and c.ref == joined)
    key = other.key
    on = f"{d.main}.{ref.name} = {joined}.{key.name}"
    where_sql, where_q = _conditions(
        other,
        other.rows if d.want_empty else d.rows[joined],
        d.rng,
        1,
        qualify=True,
        exclude=(key.name,),
        selective=d.level == 1 and not d.want_empty,
        max_rows=_lone_cap(d),
    )
    extra_sql, extra_q = _conditions(table, d.data, d.rng, d.level - 1, qualify=True)
    measure = next(iter(_measures(table)), None)
    select = [f"{joined}.{other.label_column.name}"] + ([f"{d.main}.{measure.name}"] if measure else [])
    sql = f"SELECT {', '.join(select)} FROM {d.main} JOIN {joined} ON {on} WHERE {' AND '.join(where_sql + extra_sql)}"
    ordered = d.level == 3
    if ordered:
        sql += f" ORDER BY {select[0]} ASC" + (f", {select[1]} ASC" if len(select) > 1 else "")
    question = {
        "entity": table.entity,
        "other": other.entity,
        "other_label": other.label_column.words,
        "other_numeric": other.label_column.kind != "str",
        "measure": measure.words if measure else "",
        "conditions": where_q + extra_q,
        "sort": ordered,
    }
    return Query("join", sql, [d.main, joined], question, ordered)


QUERY_FAMILIES = {
    "filter": filter_query,
    "aggregate": aggregate_query,
    "group": group_query,
    "extreme": extreme_query,
    "join": join_query,
}
FAMILIES = tuple(QUERY_FAMILIES)


def generate_query(
    family: str,
    difficulty: str,
    db: Database,
    rows: dict[str, list[tuple]],
    rng: random.Random,
    main: str,
    joined: str | None = None,
    max_rows: int = MAX_RESULT_ROWS,
    want_empty: bool = False,
) -> Query:
    """One candidate query of a family over `main` (and `joined` for joins); the caller validates it."""
    if family not in QUERY_FAMILIES:
        raise SpecError(f"unknown query family {family!r}")
    return QUERY_FAMILIES[family](Draft(DIFFICULTY[difficulty], db, rows, rng, main, joined, max_rows, want_empty))


WIDE_COLUMN = 100  # distinct values a column needs for an easy MAX/MIN question


def _distinct(table: Table, column: Column) -> int:
    at = table.columns.index(column)
    return len({r[at] for r in table.rows if r[at] is not None})


def _tied_at(rows: list[tuple], index: int, direction: str, limit: int) -> bool:
    """Whether the `limit`-th and next values of a column, ranked in `direction`, are equal."""
    values = sorted((r[index] for r in rows if r[index] is not None), reverse=direction == "DESC")
    return len(values) > limit and values[limit - 1] == values[limit]


def acceptable(
    query: Query,
    result: list[tuple],
    full: list[tuple] | None,
    max_rows: int = MAX_RESULT_ROWS,
    want_empty: bool = False,
) -> str | None:
    """Why a query's result is not a good question (None if it is). A question meant to have no
    answer must return nothing; any other must return 1 to `max_rows` rows."""
    if want_empty:
        return None if not result else "not empty"
    if not result:
        return "empty result"
    if len(result) > max_rows:  # first: a rejected result can be thousands of rows
        return f"{len(result)} result rows"
    if any(v is None for row in result for v in row) and query.family in ("aggregate", "extreme"):
        return "NULL aggregate"
    if query.not_answer is not None and len(result) == 1 and result[0][0] == query.not_answer:
        return "the answer is the column's whole-table extreme"
    if query.family == "group" and len(result) < 2:
        return "a single group"
    if query.limit is not None and len(result) < query.limit:
        return f"fewer than {query.limit} rows for a top-{query.limit} question"
    if query.limit is not None and full is not None and len(full) > query.limit:
        if full[query.limit - 1][query.order_index] == full[query.limit][query.order_index]:
            return "tie at the LIMIT cut-off"
    return None
