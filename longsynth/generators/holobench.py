"""The holobench family: questions that need database operations over verbalized rows.

Rows of a database are rendered as sentences (one jinja2 template per
table) and packed into the context with the shared fitter. The rows of the
tables a query reads are the relevant rows (all of them, rows the WHERE
rejects included, so the model has to filter); rows of the database's other
tables fill the rest. Knobs follow the HoloBench paper: the amount or
density of relevant information, its placement, and query complexity.
Gold answers come from executing the SQL with DuckDB over exactly the rows
placed in the context; the oracle parses the rows back out of the text and
re-runs the SQL in sqlite3.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import random
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cache import cached_json
from ..databases import Column, Database, Table, get_database, text_value
from ..errors import BudgetError, CorpusError, SpecError
from ..fitting import Insert, take
from ..sqlgen import (
    FAMILIES,
    Query,
    SqliteSubsets,
    SqliteTables,
    acceptable,
    format_rows,
    generate_query,
    has_order,
    polars_frame,
    run_duckdb,
    tables_read,
    without_limit,
)
from ..templating import environment, render, split_around
from ..text.units import count_units
from ..tokenizers import get_tokenizer
from .base import Cell, Generator, Option, Sample, register

_CONTEXT = "\x00CONTEXT\x00"
PLACEMENTS = ("uniform", "begin", "middle", "end", "bimodal")
_GROUP = {"int": r"-?\d+", "float": r"-?\d+\.\d\d", "str": r"[^\n]+?"}
_QUERY_TRIES = 60
_TOP_UP_ROWS = 256  # rows after the fitting prefix that may still fill the relevant-row budget


def _sentinel(n: int) -> str:
    return f"\x00C{n}\x00"


@dataclass
class VerbalizedTable:
    """A table's rows as sentences, their token counts, and the regex that reads them back."""

    table: Table
    shape: str
    texts: list[str]
    tokens: np.ndarray
    regex: re.Pattern[str]
    key_regex: re.Pattern[str] | None = None  # see `identities`
    _frame: Any = None

    @property
    def frame(self):
        """All rows as one polars DataFrame (built once; a sample's rows are a slice of it for DuckDB)."""
        if self._frame is None:
            self._frame = polars_frame(self.table.columns, self.table.rows)
        return self._frame

    def matches(self, text: str) -> list[tuple[str, ...]]:
        """Every sentence of this table in `text`, as its column values in text form."""
        found = self.regex.findall(text)
        return [(m,) for m in found] if len(self.table.columns) == 1 else found

    def identities(self, text: str) -> list:
        """One value per sentence of this table in `text` that tells its rows apart: the first
        value the sentence states when that column is unique in the table (a regex that stops
        there scans three times faster), else the whole sentence's values."""
        if self.key_regex is not None:
            return self.key_regex.findall(text)
        return self.matches(text)

    def parse(self, text: str) -> list[tuple]:
        """Every sentence of this table in `text`, as typed rows."""
        found = self.matches(text)
        if not found:
            return []
        texts = list(zip(*found, strict=True))  # in the order the template states the columns
        group = self.regex.groupindex
        columns = [_cast_all(texts[group[f"c{n}"] - 1], c) for n, c in enumerate(self.table.columns)]
        return list(zip(*columns, strict=True))


def _cast_all(values: tuple[str, ...], column: Column) -> list[Any] | tuple[str, ...]:
    if "unknown" in values:
        kind = {"int": int, "float": float, "str": str}[column.kind]
        return [None if v == "unknown" else kind(v) for v in values]
    if column.kind == "str":
        return values
    return list(map(int if column.kind == "int" else float, values))


def _row_shape(db: Database, table: Table, template_dir: str | None, row_templates: str | None) -> str:
    """A table's sentence with a placeholder per column: the user's `<table>.j2` in `row_templates`,
    else the package's template for a built-in database, else the default sentence."""
    variables = {c.name: _sentinel(n) for n, c in enumerate(table.columns)}
    candidates = []
    if row_templates:
        candidates.append((row_templates, f"{table.name}.j2"))
    if db.template_folder:
        candidates.append((template_dir, f"{db.template_folder}/{table.name}.j2"))
    for folder, name in candidates:
        if name in environment(folder).list_templates():
            return render(name, folder, **variables).strip()
    cells = [(c.words, _sentinel(n)) for n, c in enumerate(table.columns)]
    return render("holobench/default_row.j2", template_dir, table=table.name, cells=cells).strip()


@functools.lru_cache(maxsize=4)
def verbalized(
    tokenizer_name: str, database: str, template_dir: str | None, row_templates: str | None
) -> dict[str, VerbalizedTable]:
    """Every row of every table as a sentence, tokenized once per process."""
    tokenizer = get_tokenizer(tokenizer_name)
    db = get_database(database)
    out = {}
    for table in db.tables.values():
        shape = _row_shape(db, table, template_dir, row_templates)
        for n in range(len(table.columns)):
            if shape.count(_sentinel(n)) != 1:
                raise SpecError(
                    f"the row template of table {table.name!r} must state column "
                    f"{table.columns[n].name!r} exactly once so rows can be parsed back"
                )
        if "\n" in shape:
            raise SpecError(f"the row template of table {table.name!r} must be a single line")
        regex = re.escape(shape)
        for n, c in enumerate(table.columns):
            regex = regex.replace(re.escape(_sentinel(n)), f"(?P<c{n}>{_GROUP[c.kind]}|unknown)")
        texts = _render_rows(shape, table)
        # Token counts are cached per machine under a hash of the texts themselves.
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
        counts = cached_json(
            "row-tokens",
            {"texts": digest, "tokenizer": tokenizer_name},
            lambda texts=texts: count_units(texts, tokenizer),
        )
        tokens = np.asarray(counts, dtype=np.int64)
        key = _leading_key(table, shape, regex)
        out[table.name] = VerbalizedTable(table, shape, texts, tokens, re.compile(regex), key)
    return out


def _leading_key(table: Table, shape: str, regex: str) -> re.Pattern[str] | None:
    """The row regex up to the second value the sentence states (the text after the first value
    ends it), if the first value's column is unique in the table: then two sentences with the
    same first value are the same row."""
    stated = sorted((shape.index(_sentinel(n)), n) for n in range(len(table.columns)))
    if len(stated) < 2:
        return None
    first, second = stated[0][1], stated[1][1]
    values = [row[first] for row in table.rows]
    if None in values or len(set(values)) != len(values):
        return None
    return re.compile(regex[: regex.index(f"(?P<c{second}>")])


def _render_rows(shape: str, table: Table) -> list[str]:
    """Every row as its sentence: the shape becomes one format string ("{3:.2f}" for a float
    column), so a 5,000-row table renders in one pass of str.format instead of a replace per cell.
    Rows with a missing value take the cell-by-cell path ("unknown")."""
    fmt = shape.replace("{", "{{").replace("}", "}}")
    for n, c in enumerate(table.columns):
        fmt = fmt.replace(_sentinel(n), "{" + str(n) + (":.2f" if c.kind == "float" else "") + "}")
    texts = []
    for row in table.rows:
        if None in row:
            text = shape
            for n, (c, v) in enumerate(zip(table.columns, row, strict=True)):
                text = text.replace(_sentinel(n), text_value(v, c.kind))
            texts.append(text)
        else:
            texts.append(fmt.format(*row))
    return texts


def placement_depths(placement: str, count: int, share: float) -> np.ndarray:
    """Where each of `count` relevant rows goes, in percent, when relevant rows take `share` of the
    context: spread evenly over the whole context (uniform), or packed into a block of that share
    at the start, the middle or the end, or half at the start and half at the end (bimodal)."""
    position = (np.arange(count) + 0.5) / max(1, count)
    if placement == "uniform":
        depth = position
    elif placement == "begin":
        depth = share * position
    elif placement == "end":
        depth = 1.0 - share + share * position
    elif placement == "middle":
        depth = (1.0 - share) / 2 + share * position
    else:  # bimodal: the first half of the rows at the start, the second half at the end
        depth = np.where(np.arange(count) < count / 2, share * position, 1.0 - share + share * position)
    return np.round(100.0 * np.clip(depth, 0.0, 1.0), 3)


@register
class HoloBenchGenerator(Generator):
    name = "holobench"
    split = "test"
    uses_depth = False  # placement, not a depth grid, decides where relevant rows go
    tasks = {f"holo_{family}": {"family": family} for family in FAMILIES}
    default_tasks = ["holo_filter"]
    paper = (
        "Maekawa et al., Holistic Reasoning with Long-Context LMs: A Benchmark for Database Operations on "
        "Massive Textual Data (HoloBench, arXiv:2410.11996)"
    )
    options = {
        "database": Option(
            str,
            "retail",
            "built-in database (retail, university, films) or a path: .sqlite/.db, "
            ".duckdb, or a folder of .csv/.parquet tables",
        ),
        "row_templates": Option(str, "", "folder of <table>.j2 row templates for a user database"),
        "difficulty": Option(str, "easy", "query complexity", ("easy", "medium", "hard")),
        "info_amount": Option(int, 0, "tokens of relevant rows (0: use info_density)", minimum=0),
        "info_density": Option(float, 0.5, "share of the context taken by relevant rows"),
        "placement": Option(str, "uniform", "where relevant rows go", PLACEMENTS),
        "sql": Option(str, "", "your own query (tasks then only label the config)"),
        "question": Option(str, "", "the question text for --set sql"),
    }
    task_help = {
        f"holo_{f}": h
        for f, h in zip(
            FAMILIES,
            [
                "WHERE comparisons",
                "COUNT / SUM / AVG, with or without WHERE",
                "GROUP BY with an aggregate",
                "MAX / MIN, ORDER BY ... LIMIT k",
                "two tables joined on a key",
            ],
            strict=True,
        )
    }

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        options = self.settings()
        if not 0.0 < options["info_density"] <= 1.0:
            raise SpecError(f"info_density must be in (0, 1], got {options['info_density']}")
        if bool(options["sql"]) != bool(options["question"]):
            raise SpecError("--set sql and --set question go together")
        self.options_ = options
        self._fillers: dict[tuple[str, ...], tuple[list[str], np.ndarray]] = {}
        self._refs: dict[tuple[str, tuple[str, ...]], list[tuple[str, np.ndarray]]] = {}
        self._prefix: str | None = None
        self._local = threading.local()  # per-thread sqlite3 copy of the database (see SqliteSubsets)
        self.db = get_database(options["database"])
        if options["sql"]:
            unknown = [t for t in tables_read(options["sql"]) if t not in self.db.tables]
            if unknown:
                raise SpecError(f"the SQL reads tables {unknown} that the database does not have")

    def _filler_pool(self, tables: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """Rows of the given tables, concatenated once per process and table set."""
        if tables not in self._fillers:
            verbal = self._verbalized()
            texts = [text for t in tables for text in verbal[t].texts]
            tokens = np.concatenate([verbal[t].tokens for t in tables]) if tables else np.zeros(0, np.int64)
            self._fillers[tables] = (texts, tokens)
        return self._fillers[tables]

    def _verbalized(self) -> dict[str, VerbalizedTable]:
        return verbalized(
            self.tokenizer.name,
            self.options_["database"],
            self.spec.template_dir,
            self.options_["row_templates"] or None,
        )

    # ------------------------------------------------------------------ sampling

    def _references(self, main: str, joined: list[str]) -> list[tuple[str, np.ndarray]]:
        """For each foreign key of `main` into a table of `joined`: that table, and per row of
        `main` the index of the row it references (-1 if none); computed once per pair."""
        key = (main, tuple(joined))
        if key not in self._refs:
            table = self.db.tables[main]
            out = []
            for n, c in enumerate(table.columns):
                if c.role != "ref" or c.ref not in joined:
                    continue
                other = self.db.tables[c.ref]
                at = other.columns.index(other.key)
                where = {row[at]: i for i, row in enumerate(other.rows)}
                out.append((c.ref, np.array([where.get(row[n], -1) for row in table.rows], dtype=np.int64)))
            self._refs[key] = out
        return self._refs[key]

    def _relevant_rows(
        self, tables: list[str], budget: int, rng: random.Random, verbal: dict[str, VerbalizedTable]
    ) -> dict[str, list[int]]:
        """Row indices of the query's tables, up to `budget` tokens, in a seeded random order;
        a row of a join's main table brings the rows it references (each referenced row once)."""
        main = tables[0]
        order = np.random.default_rng(rng.getrandbits(64)).permutation(len(verbal[main].texts))
        # Rows past the point where the main table's own tokens fill the budget can only be used
        # by the top-up below: look no further than that (a join's bookkeeping costs per row).
        reach = int(np.searchsorted(np.cumsum(verbal[main].tokens[order]), budget, side="right"))
        order = order[: reach + 1 + _TOP_UP_ROWS]
        cost = verbal[main].tokens[order].copy()
        references = self._references(main, tables[1:])
        # A referenced row costs its tokens where it is first referenced (several keys may point
        # into one table, so a table's keys are read row by row, in column order).
        by_table: dict[str, list[np.ndarray]] = {}
        for ref, target in references:
            by_table.setdefault(ref, []).append(target[order])
        firsts = []
        for ref, keys in by_table.items():
            referenced = np.stack(keys, axis=1).ravel()
            positions = np.repeat(np.arange(len(order)), len(keys))
            _, first = np.unique(referenced, return_index=True)
            first = np.sort(first[referenced[first] >= 0])
            np.add.at(cost, positions[first], verbal[ref].tokens[referenced[first]])
            firsts.append((ref, referenced[first], positions[first]))
        # The longest prefix of the order that fits, vectorised ...
        whole = int(np.searchsorted(np.cumsum(cost), budget, side="right"))
        chosen: dict[str, list[int]] = {t: [] for t in tables}
        chosen[main] = order[:whole].tolist()
        taken: dict[str, set[int]] = {t: set() for t in tables}
        for ref, referenced, positions in firsts:
            rows = referenced[positions < whole].tolist()
            chosen[ref].extend(rows)
            taken[ref].update(rows)
        # ... then, of the next rows, those that still fit (visiting only rows no larger than the gap).
        used = int(cost[:whole].sum())
        following = order[whole : whole + _TOP_UP_ROWS]
        fits = following[verbal[main].tokens[following] <= budget - used].tolist()
        misses = 0
        for i in fits:
            if used >= budget or misses >= 32:  # the budget is as full as whole rows make it
                break
            extra = []
            row_cost = int(verbal[main].tokens[i])
            for ref, target in references:
                k = int(target[i])
                if k >= 0 and k not in taken[ref] and (ref, k) not in extra:
                    extra.append((ref, k))
                    row_cost += int(verbal[ref].tokens[k])
            if used + row_cost > budget:
                misses += 1
                continue
            misses = 0
            used += row_cost
            chosen[main].append(i)
            for ref, k in extra:
                taken[ref].add(k)
                chosen[ref].append(k)
        return chosen

    def _pick_tables(self, family: str, rng: random.Random) -> list[str]:
        names = sorted(self.db.tables)
        if family == "join":
            pairs = [(t, c.ref) for t in names for c in self.db.tables[t].columns if c.role == "ref"]
            if not pairs:
                raise SpecError(f"database {self.db.name!r} has no foreign keys, so holo_join cannot be built")
            return list(rng.choice(pairs))
        return [rng.choice(names)]

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        options = self.options_
        family = self.tasks[cell.task]["family"]
        verbal = self._verbalized()
        target = cell.target_length
        budget = options["info_amount"] or int(options["info_density"] * target * 0.97)
        if budget >= target:
            raise BudgetError(f"info_amount {budget} leaves no room in a {target}-token context")

        # A candidate query is accepted only if executing it gives a good question (see
        # `acceptable`). The first candidate for a set of rows goes straight to DuckDB, the gold
        # engine, since most are accepted; later ones are screened with sqlite3 first (cheaper to
        # query many times), and DuckDB must then agree. Either way the oracle later re-runs the
        # SQL in sqlite3 over the rows parsed from the text.
        query = None
        for _ in range(_QUERY_TRIES):
            tables = tables_read(options["sql"]) if options["sql"] else self._pick_tables(family, rng)
            picked = self._relevant_rows(tables, budget, rng, verbal)
            rows = {t: take(self.db.tables[t].rows, idx) for t, idx in picked.items()}
            frames = {t: verbal[t].frame[idx] for t, idx in picked.items()}  # the same rows, for DuckDB
            if options["sql"]:
                text = {"text": options["question"]}
                query = Query("custom", options["sql"], tables, text, has_order(options["sql"]))
                result = run_duckdb(query.sql, frames)
                break
            screen = None
            for tried in range(8):
                try:
                    candidate = generate_query(
                        family,
                        options["difficulty"],
                        self.db,
                        rows,
                        rng,
                        tables[0],
                        tables[1] if len(tables) > 1 else None,
                    )
                except LookupError:
                    break
                if tried == 0 and candidate.limit is None:
                    result = run_duckdb(candidate.sql, frames)
                    if acceptable(candidate, result, None) is None:
                        query = candidate
                        break
                    continue
                if screen is None:
                    screen = self._screen()
                    screen.select(picked)
                screened = screen.run(candidate.sql)
                full = screen.run(without_limit(candidate.sql)) if candidate.limit else None
                if acceptable(candidate, screened, full) is not None:
                    continue
                result = run_duckdb(candidate.sql, frames)
                if _same_answers(format_rows(result), format_rows(screened), has_order(candidate.sql)):
                    query = candidate
                    break
            if query is not None:
                break
        if query is None:
            raise BudgetError(
                f"could not generate an answerable {cell.task} query for database {self.db.name!r} in "
                f"{_QUERY_TRIES} tries at {target} tokens; try another difficulty, length or database"
            )

        question = render("holobench/question.j2", self.spec.template_dir, family=query.family, q=query.question)
        prompt = render("holobench/prompt.j2", self.spec.template_dir, context=_CONTEXT, question=question)
        head, tail = split_around(prompt, _CONTEXT, "holobench/prompt.j2")

        # The relevant rows in a seeded random order, as parallel lists (texts, tokens, tables).
        texts: list[str] = []
        tables_of: list[str] = []
        for t, idx in picked.items():
            texts += take(verbal[t].texts, idx)
            tables_of += [t] * len(idx)
        tokens = np.concatenate([verbal[t].tokens[np.asarray(idx, dtype=np.int64)] for t, idx in picked.items()])
        shuffled = np.random.default_rng(rng.getrandbits(64)).permutation(len(texts))
        order = shuffled.tolist()
        texts, tables_of, insert_tokens = take(texts, order), take(tables_of, order), tokens[shuffled].tolist()
        relevant_tokens = sum(insert_tokens)
        context_tokens = max(1, target - self.tokenizer.count(head) - self.tokenizer.count(tail))
        share = min(1.0, relevant_tokens / context_tokens)
        depths = placement_depths(options["placement"], len(texts), share).tolist()
        payloads = {t: {"table": t} for t in tables}  # read-only, so one per table
        inserts = [Insert(text, depth, payloads[t]) for text, depth, t in zip(texts, depths, tables_of, strict=True)]
        others = [t for t in sorted(verbal) if t not in tables]
        if not others and share < 1.0:
            raise CorpusError(
                f"{cell.task} reads every table of database {self.db.name!r}, so no other rows can fill the "
                "context; add a table to the database or use one with more tables"
            )
        all_texts, all_tokens = self._filler_pool(tuple(others))
        order = np.random.default_rng(rng.getrandbits(64)).permutation(len(all_texts))
        # Only the prefix the context can hold (plus a margin for skip-filling) is materialised.
        needed = int(np.searchsorted(np.cumsum(all_tokens[order]), target, side="right")) + 512
        order = order[:needed]
        filler_texts = take(all_texts, order.tolist())
        filler_tokens = all_tokens[order]
        fitted = self.fit(
            target,
            budget_adjust,
            head=head,
            tail=tail,
            filler_texts=filler_texts,
            filler_tokens=filler_tokens,
            inserts=inserts,
            insert_tokens=insert_tokens,
            whole_units_only=True,
        )
        metadata = {
            "sql": query.sql,
            # Row dicts in the JSON; kept as frames until then (written by polars, see metadata_json).
            "rows": frames,
            "family": query.family,
            "database": self.db.name,
            "difficulty": options["difficulty"],
            "placement": options["placement"],
            "relevant_tokens": relevant_tokens,
            "limit": query.limit,
            "order_index": query.order_index,
        }
        answer_prefix = self._answer_prefix()
        answers = format_rows(result)
        if not has_order(query.sql):  # engines return unordered results in any order: fix one
            answers.sort()
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="relevant_rows", columnar_items=True)

    def _answer_prefix(self) -> str:
        """Rendered once per generator: the template takes no variables."""
        if self._prefix is None:
            self._prefix = render("holobench/answer_prefix.j2", self.spec.template_dir)
        return self._prefix

    def _screen(self) -> SqliteSubsets:
        """This thread's sqlite3 copy of the database (sqlite3 connections stay in their thread)."""
        screen = getattr(self._local, "screen", None)
        if screen is None:
            tables = {name: (t.columns, t.rows) for name, t in self.db.tables.items()}
            screen = self._local.screen = SqliteSubsets(tables)
        return screen

    # ------------------------------------------------------------------ oracle

    def oracle(self, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
        return holobench_problems(row, metadata, self._verbalized())


def _placed_rows(records: Any, columns: list[Column]) -> list[tuple]:
    """The rows a sample placed, as tuples: from its frame during the build, from the row dicts of
    the metadata JSON when a written row is validated."""
    if hasattr(records, "rows"):  # a polars DataFrame
        return records.rows()
    as_tuple = operator.itemgetter(*[c.name for c in columns])
    return [as_tuple(r) for r in records] if len(columns) > 1 else [(as_tuple(r),) for r in records]


def _same_answers(one: list[str], other: list[str], ordered: bool) -> bool:
    return one == other if ordered else sorted(one) == sorted(other)


def holobench_problems(row: dict[str, Any], metadata: dict[str, Any], verbal: dict[str, VerbalizedTable]) -> list[str]:
    """Parse the rows out of the text, rebuild the tables, re-run the SQL in sqlite3."""
    problems: list[str] = []
    text = row["input"]
    sql = metadata["sql"]
    tables = sorted(metadata["rows"])
    parsed = {name: verbal[name].parse(text) for name in tables}
    for name, v in verbal.items():
        rows = parsed[name] if name in parsed else v.identities(text)
        if len(set(rows)) != len(rows):
            problems.append(f"table {name}: a row appears more than once in the text")
    for name in tables:
        columns = verbal[name].table.columns
        placed = sorted(_placed_rows(metadata["rows"][name], columns))
        found = sorted(parsed[name])
        if placed != found:
            missing = len(set(placed) - set(found))
            problems.append(
                f"table {name}: {missing} relevant rows missing from the text, "
                f"{len(found)} found for {len(placed)} placed"
            )
    engine = SqliteTables({t: (verbal[t].table.columns, parsed[t]) for t in tables})
    try:
        result = engine.run(sql)
        full = engine.run(without_limit(sql)) if metadata.get("limit") else []
    except Exception as exc:
        return problems + [f"sqlite3 could not run the SQL: {exc}"]
    finally:
        engine.close()
    derived = format_rows(result)
    answers = list(row["answers"])
    if has_order(sql):
        same = derived == answers
    else:
        same = sorted(derived) == sorted(answers)
    if not same:
        problems.append(f"answers differ from sqlite3 over the parsed rows: {answers[:3]} vs {derived[:3]}")
    limit = metadata.get("limit")
    if limit:
        index = metadata["order_index"]
        if len(full) > limit and full[limit - 1][index] == full[limit][index]:
            problems.append(f"a tie at the LIMIT {limit} cut-off makes the answer ambiguous")
    if not derived:
        problems.append("the query returns nothing")
    return problems
