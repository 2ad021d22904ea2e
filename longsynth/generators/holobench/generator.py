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
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import BudgetError, CorpusError, SpecError
from ...fitting import Insert, take
from ..base import Cell, Generator, Sample, Task
from .databases import database_for, database_key
from .engines import SqliteSubsets, run_duckdb, tables_read
from .metrics import f1_metric, holobench_exact_share
from .options import HoloBenchOptions
from .oracle import VALIDATORS, same_answers
from .queries import FAMILIES, Query, acceptable, answer_tokens, format_rows, generate_query, has_order, without_limit
from .sandbox import check_user_sql
from .verbal import VerbalizedTable, verbalized

_QUERY_TRIES = 60
_TOP_UP_ROWS = 256  # rows after the fitting prefix that may still fill the relevant-row budget
_HELP = {
    "filter": "WHERE comparisons",
    "aggregate": "COUNT / SUM / AVG, with or without WHERE",
    "group": "GROUP BY with an aggregate",
    "extreme": "MAX / MIN, ORDER BY ... LIMIT k",
    "join": "two tables joined on a key",
}
REPLY_TOKENS = 512  # the least a row keeps for its answer (about 60 result rows, one per line)
ANSWER_SLACK = 64  # kept beyond a long answer's own tokens (the answer marker, a closing word)
PROMPT_ALLOWANCE = 256  # instructions and question, besides the relevant rows, when sizing a reserve
NO_CAP = 1_000_000_000  # max_answer_rows 0: answers as large as the query makes them
QUERY_FAMILY = {f"holo_{family}": family for family in FAMILIES}  # each task asks one family of queries
TASKS = {
    task: Task(
        f"{_HELP[family]} ({family} queries)",
        metric=f1_metric,
        reserve=REPLY_TOKENS,
        anchor=holobench_exact_share,
        anchor_name="HoloBench exact-match share of gold rows (its judge's rules, decided without a judge)",
    )
    for task, family in QUERY_FAMILY.items()
}


@dataclass
class Chosen:
    """An accepted query, the rows it reads (indices per table, and the same rows as polars frames for
    DuckDB), and its result."""

    query: Query
    picked: dict[str, list[int]]
    frames: dict[str, Any]
    result: list[tuple]
    empty_by_design: bool = False  # a question meant to have no answer (`empty_share`)
    reserve: int = 0  # the tokens its row keeps for the answer (set once the query is accepted)

    @functools.cached_property
    def answers(self) -> list[str]:
        """The result as the row's answers state it, one string per result row (formatted once)."""
        return format_rows(self.result)


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


class HoloBenchGenerator(Generator):
    name = "holobench"
    split = "test"
    uses_depth = False  # placement, not a depth grid, decides where relevant rows go
    Options = HoloBenchOptions
    tasks = TASKS
    default_tasks = ["holo_filter"]
    paper = (
        "Maekawa et al., Holistic Reasoning with Long-Context LMs: A Benchmark for Database Operations on "
        "Massive Textual Data (HoloBench, arXiv:2410.11996)"
    )
    template_folder = Path(__file__).parent / "templates"
    validators = VALIDATORS
    example = {"tasks": "holo_filter,holo_join", "lengths": "2k"}

    @classmethod
    def natural_reply(cls, row: dict[str, Any]) -> str:
        """Some words, then the result rows one per line after the answer marker, as the prompt asks."""
        rows = "\n".join(row["answers"]) or "none"
        return f"I went through every row that meets the conditions.\nAnswer:\n{rows}"

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        options = self.options
        if bool(options.sql) != bool(options.question):
            raise SpecError("--set sql and --set question go together")
        if options.row_templates and not Path(options.row_templates).is_dir():
            raise SpecError(
                f"row_templates {options.row_templates!r} is not a folder; give a folder of <table>.j2 files"
            )
        self._fillers: dict[tuple[str, ...], tuple[list[str], np.ndarray]] = {}
        self._refs: dict[tuple[str, tuple[str, ...]], list[tuple[str, np.ndarray]]] = {}
        self._prefix: str | None = None
        self._local = threading.local()  # per-thread sqlite3 copy of the database (see SqliteSubsets)
        self.database_key = database_key(options.database)
        self.db = database_for(self.database_key)
        if options.sql:
            check_user_sql(options.sql)
            read = tables_read(options.sql)
            if not read:
                raise SpecError(
                    f"the SQL reads no table; it must select from the database's: {', '.join(self.db.tables)}"
                )
            unknown = [t for t in read if t not in self.db.tables]
            if unknown:
                raise SpecError(f"the SQL reads tables {unknown} that the database does not have")

    def verbalized(self) -> dict[str, VerbalizedTable]:
        """Every row of the database as its sentence, with token counts (once per process)."""
        options = self.options
        row_templates = str(Path(options.row_templates).resolve()) if options.row_templates else None
        return verbalized(self.tokenizer.name, self.database_key, self.templates, row_templates, self.spec.seed)

    def _filler_pool(self, tables: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
        """Rows of the given tables, concatenated once per process and table set."""
        if tables not in self._fillers:
            verbal = self.verbalized()
            texts = [text for t in tables for text in verbal[t].texts]
            tokens = np.concatenate([verbal[t].tokens for t in tables]) if tables else np.zeros(0, np.int64)
            self._fillers[tables] = (texts, tokens)
        return self._fillers[tables]

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

    def _choose_query(self, cell: Cell, rng: random.Random, budget: int) -> Chosen:
        """Relevant rows and a query over them whose result is a good question (see `acceptable`).

        The first candidate for a set of rows goes straight to DuckDB, the gold engine, since most
        are accepted; later ones are screened with sqlite3 first (cheaper to query many times), and
        DuckDB must then agree. Either way the oracle later re-runs the SQL in sqlite3 over the rows
        parsed from the text.
        """
        options, verbal = self.options, self.verbalized()
        family = QUERY_FAMILY[cell.task]
        # A question with no answer, for this share of samples (drawn only when asked for: the default
        # build draws nothing more). Aggregates and top-k questions always have an answer.
        want_empty = options.empty_share > 0 and family in ("filter", "join") and rng.random() < options.empty_share
        for _ in range(_QUERY_TRIES):
            tables = tables_read(options.sql) if options.sql else self._pick_tables(family, rng)
            picked = self._relevant_rows(tables, budget, rng, verbal)
            rows = {t: take(self.db.tables[t].rows, idx) for t, idx in picked.items()}
            frames = {t: verbal[t].frame[idx] for t, idx in picked.items()}  # the same rows, for DuckDB
            if options.sql:
                query = Query("custom", options.sql, tables, {"text": options.question}, has_order(options.sql))
                chosen = Chosen(query, picked, frames, run_duckdb(query.sql, frames))
                chosen.reserve = self.answer_reserve(chosen, cell, budget)
                if chosen.reserve is None:
                    if self.spec.reserve is not None:
                        raise BudgetError(
                            f"the answer to --set sql is longer than the {self.spec.reserve} tokens reserved "
                            "for it; raise --set reserve=N, or drop it to size the reserve to the answer"
                        )
                    raise BudgetError(
                        f"the answer to --set sql does not fit a {cell.target_length}-token row beside its "
                        "relevant rows; ask for a longer length"
                    )
                return chosen
            chosen = self._query_over(family, tables, picked, rows, frames, rng, want_empty)
            if chosen is not None:
                chosen.reserve = self.answer_reserve(chosen, cell, budget)
                if chosen.reserve is not None:
                    return chosen
        raise BudgetError(
            f"could not generate an answerable {cell.task} query for database {self.db.name!r} in "
            f"{_QUERY_TRIES} tries at {cell.target_length} tokens; try another difficulty, length or database"
        )

    def answer_reserve(self, chosen: Chosen, cell: Cell, budget: int) -> int | None:
        """The tokens this row keeps for its answer, or None if the answer cannot fit the row.

        With `reserve` set in the spec, every row keeps that many and an answer (one result row per
        line) must fit in it. Otherwise the reserve grows with the answer, as the paper's answers
        grow with the information in the context: at least 512, else the answer's tokens and a
        little more, as long as the relevant rows, the prompt and the reserve fit the target."""
        tokens = answer_tokens(self.tokenizer, chosen.answers)
        if self.spec.reserve is not None:
            return self.spec.reserve if tokens <= self.spec.reserve else None
        least = self.tasks[cell.task].reserve
        if tokens <= least:
            return least
        reserve = tokens + ANSWER_SLACK
        return reserve if budget + PROMPT_ALLOWANCE + reserve <= cell.target_length else None

    def _max_rows(self) -> int:
        return self.options.max_answer_rows or NO_CAP

    def _query_over(self, family, tables, picked, rows, frames, rng: random.Random, want_empty: bool) -> Chosen | None:
        """Up to 8 candidate queries over one set of rows: the first acceptable one, or None."""
        screen = None
        joined = tables[1] if len(tables) > 1 else None
        for tried in range(8):
            try:
                candidate = generate_query(
                    family,
                    self.options.difficulty,
                    self.db,
                    rows,
                    rng,
                    tables[0],
                    joined,
                    self._max_rows(),
                    want_empty,
                )
            except LookupError:
                return None
            if tried == 0 and candidate.limit is None:
                result = run_duckdb(candidate.sql, frames)
                if acceptable(candidate, result, None, self._max_rows(), want_empty) is None:
                    return Chosen(candidate, picked, frames, result, want_empty)
                continue
            if screen is None:
                screen = self._screen()
                screen.select(picked)
            screened = screen.run(candidate.sql)
            full = screen.run(without_limit(candidate.sql)) if candidate.limit else None
            if acceptable(candidate, screened, full, self._max_rows(), want_empty) is not None:
                continue
            result = run_duckdb(candidate.sql, frames)
            if same_answers(format_rows(result), format_rows(screened), has_order(candidate.sql)):
                return Chosen(candidate, picked, frames, result, want_empty)
        return None

    def _relevant_inserts(self, chosen: Chosen, rng: random.Random, context_tokens: int):
        """The relevant rows in a seeded random order, as inserts at their placement's depths, with
        their token counts and the share of the context they take."""
        verbal = self.verbalized()
        picked = chosen.picked
        texts: list[str] = []
        tables_of: list[str] = []
        for t, idx in picked.items():
            texts += take(verbal[t].texts, idx)
            tables_of += [t] * len(idx)
        tokens = np.concatenate([verbal[t].tokens[np.asarray(idx, dtype=np.int64)] for t, idx in picked.items()])
        shuffled = np.random.default_rng(rng.getrandbits(64)).permutation(len(texts))
        order = shuffled.tolist()
        texts, tables_of, insert_tokens = take(texts, order), take(tables_of, order), tokens[shuffled].tolist()
        share = min(1.0, sum(insert_tokens) / context_tokens)
        depths = placement_depths(self.options.placement, len(texts), share).tolist()
        payloads = {t: {"table": t} for t in chosen.query.tables}  # read-only, so one per table
        inserts = [Insert(text, depth, payloads[t]) for text, depth, t in zip(texts, depths, tables_of, strict=True)]
        return inserts, insert_tokens, share

    def _filler(self, cell: Cell, tables: list[str], share: float, rng: random.Random):
        """Rows of the database's other tables, in a seeded order, as many as the context can hold."""
        others = [t for t in sorted(self.verbalized()) if t not in tables]
        if not others and share < 1.0:
            raise CorpusError(
                f"{cell.task} reads every table of database {self.db.name!r}, so no other rows can fill the "
                "context; add a table to the database or use one with more tables"
            )
        all_texts, all_tokens = self._filler_pool(tuple(others))
        order = np.random.default_rng(rng.getrandbits(64)).permutation(len(all_texts))
        # Only the prefix the context can hold (plus a margin for skip-filling) is materialised.
        needed = int(np.searchsorted(np.cumsum(all_tokens[order]), cell.target_length, side="right")) + 512
        order = order[:needed]
        return take(all_texts, order.tolist()), all_tokens[order]

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        options = self.options
        target = cell.target_length
        budget = options.info_amount or int(options.info_density * target * 0.97)
        if budget >= target:
            raise BudgetError(f"info_amount {budget} leaves no room in a {target}-token context")
        chosen = self._choose_query(cell, rng, budget)
        query = chosen.query
        question = self.templates.render("question.j2", family=query.family, q=query.question)
        wrapped = self.wrap(*self.prompt_halves("prompt.j2", {"question": question}), self._answer_prefix())
        reserve = chosen.reserve
        room = target - reserve
        context_tokens = max(1, room - self.tokenizer.count(wrapped.head) - self.tokenizer.count(wrapped.tail))
        inserts, insert_tokens, share = self._relevant_inserts(chosen, rng, context_tokens)
        filler_texts, filler_tokens = self._filler(cell, query.tables, share, rng)
        fitted = self.fit_wrapped(
            wrapped,
            cell.task,
            target,
            budget_adjust,
            reserve=reserve,
            filler_texts=filler_texts,
            filler_tokens=filler_tokens,
            inserts=inserts,
            insert_tokens=insert_tokens,
            whole_units_only=True,
        )
        metadata = {
            "sql": query.sql,
            # Row dicts in the JSON; kept as frames until then (written by polars, see metadata_json).
            "rows": chosen.frames,
            "family": query.family,
            "database": self.db.name,
            "difficulty": options.difficulty,
            "placement": options.placement,
            "relevant_tokens": sum(insert_tokens),
            "limit": query.limit,
            "order_index": query.order_index,
        }
        answers = list(chosen.answers)
        if not has_order(query.sql):  # engines return unordered results in any order: fix one
            answers.sort()
        metadata["answer_rows"] = len(answers)
        if chosen.empty_by_design:
            metadata["empty_by_design"] = True
        prefix = self._answer_prefix()
        return Sample(
            fitted, question, answers, prefix, metadata, item_key="relevant_rows", columnar_items=True, reserve=reserve
        )

    def _answer_prefix(self) -> str:
        """Rendered once per generator: the template takes no variables."""
        if self._prefix is None:
            self._prefix = self.templates.render("answer_prefix.j2")
        return self._prefix

    def _screen(self) -> SqliteSubsets:
        """This thread's sqlite3 copy of the database (sqlite3 connections stay in their thread)."""
        screen = getattr(self._local, "screen", None)
        if screen is None:
            tables = {name: (t.columns, t.rows) for name, t in self.db.tables.items()}
            screen = self._local.screen = SqliteSubsets(tables)
        return screen
