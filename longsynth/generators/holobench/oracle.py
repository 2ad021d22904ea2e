"""The holobench oracle: parse every row back out of the text with the tables' own row templates,
rebuild the tables the query reads, and re-run the SQL in sqlite3 (a second engine: gold answers
came from DuckDB).

Two validators: the relevant rows stated in the text are exactly the rows placed, each once; and
sqlite3 over those parsed rows gives the row's answers. Parsing a 128K context is the costly part,
so the second validator reuses the first one's parse of the same text.
"""

from __future__ import annotations

import operator
import threading
from collections import Counter
from typing import Any

from ...validators.base import Validator
from ...validators.plants import state_first_item_twice
from .databases import Column
from .engines import SqliteTables
from .queries import answer_tokens, format_rows, has_order, without_limit

_LAST = threading.local()  # the last parse, per thread: (text, tables, parsed rows)


def _placed_rows(records: Any, columns: list[Column]) -> list[tuple]:
    """The rows a sample placed, as tuples: from its frame during the build, from the row dicts of
    the metadata JSON when a written row is validated."""
    if hasattr(records, "rows"):  # a polars DataFrame
        return records.rows()
    as_tuple = operator.itemgetter(*[c.name for c in columns])
    return [as_tuple(r) for r in records] if len(columns) > 1 else [(as_tuple(r),) for r in records]


def same_answers(one: list[str], other: list[str], ordered: bool) -> bool:
    return one == other if ordered else sorted(one) == sorted(other)


def parsed_rows(generator, text: str, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    """The rows of `tables` stated in `text`, typed, per table (the last result is reused)."""
    last = getattr(_LAST, "value", None)
    if last is not None and last[0] is text and last[1] == tables:
        return last[2]
    verbal = generator.verbalized()
    parsed = {name: verbal[name].parse(text) for name in tables}
    _LAST.value = (text, tables, parsed)
    return parsed


def rows_as_placed(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every row the query reads is stated once, and exactly the rows placed are; no row of any
    other table is stated twice either."""
    verbal = generator.verbalized()
    text = row["input"]
    tables = tuple(sorted(metadata["rows"]))
    parsed = parsed_rows(generator, text, tables)
    problems = []
    distinct: dict[str, set] = {}
    for name, v in verbal.items():
        rows = parsed[name] if name in parsed else v.identities(text)
        distinct[name] = set(rows)
        if len(distinct[name]) != len(rows):
            problems.append(f"table {name}: a row appears more than once in the text")
    for name in tables:
        placed = _placed_rows(metadata["rows"][name], verbal[name].table.columns)
        found, found_set = parsed[name], distinct[name]
        if len(found_set) == len(found):
            # No row found twice: then the same rows as often is the same set and as many rows (two
            # sets, not two sorts of hundreds of rows; a row holding None could not be sorted anyway).
            same = len(placed) == len(found) and set(placed) == found_set
        else:  # (reported above; equal rows placed twice are stated twice)
            same = Counter(placed) == Counter(found)
        if not same:
            missing = len(set(placed) - found_set)
            problems.append(
                f"table {name}: {missing} relevant rows missing from the text, "
                f"{len(found)} found for {len(placed)} placed"
            )
    return problems


def answers_from_sqlite(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """sqlite3 over the rows parsed from the text returns the row's answers, non-empty, with no tie
    at a LIMIT cut-off."""
    verbal = generator.verbalized()
    sql = metadata["sql"]
    tables = tuple(sorted(metadata["rows"]))
    parsed = parsed_rows(generator, row["input"], tables)
    engine = SqliteTables({t: (verbal[t].table.columns, parsed[t]) for t in tables})
    try:
        result = engine.run(sql)
        full = engine.run(without_limit(sql)) if metadata.get("limit") else []
    except Exception as exc:
        return [f"sqlite3 could not run the SQL: {exc}"]
    finally:
        engine.close()
    problems = []
    derived = format_rows(result)
    answers = list(row["answers"])
    if not same_answers(derived, answers, has_order(sql)):
        problems.append(f"answers differ from sqlite3 over the parsed rows: {answers[:3]} vs {derived[:3]}")
    limit = metadata.get("limit")
    if limit:
        index = metadata["order_index"]
        if len(full) > limit and full[limit - 1][index] == full[limit][index]:
            problems.append(f"a tie at the LIMIT {limit} cut-off makes the answer ambiguous")
    if not derived and not metadata.get("empty_by_design"):
        problems.append("the query returns nothing")
    if derived and metadata.get("empty_by_design"):
        problems.append("a question meant to have no answer has one")
    reserve = row.get("reserve")
    if reserve is not None and answer_tokens(generator.tokenizer, answers) > reserve:
        problems.append(f"the answer is longer than the {reserve} tokens reserved for it")
    if metadata.get("answer_rows", len(answers)) != len(derived):
        problems.append(f"answer_rows is {metadata.get('answer_rows')} but the query returns {len(derived)} rows")
    return problems


def _wrong_answer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "answers": ["-1 | no such row", *row["answers"][1:]]}


VALIDATORS = (
    Validator("relevant rows as placed", rows_as_placed, state_first_item_twice("relevant_rows")),
    Validator("answers from sqlite3", answers_from_sqlite, _wrong_answer),
)
