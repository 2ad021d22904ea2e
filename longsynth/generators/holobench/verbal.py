"""Database rows as sentences: one template per table, rendered for every row once per process,
tokenized once per machine (cached), and parsed back by a regex built from the same template.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...cache import cached_counts
from ...errors import SpecError
from ...seeding import derive_seed
from ...templating import Templates
from ...text.units import count_units
from ...tokenizers import get_tokenizer
from .databases import Column, Database, Table, database_for, text_value
from .engines import polars_frame

_GROUP = {"int": r"-?\d+", "float": r"-?\d+\.\d\d", "str": r"[^\n]+?"}


def _sentinel(n: int) -> str:
    return f"\x00C{n}\x00"


@dataclass
class VerbalizedTable:
    """A table's rows as sentences, their token counts, and the regex that reads them back.

    A table has one or more frames (sentence shapes); each row is stated in one of them, chosen
    from the build's seed. `regex` is every frame's regex as one alternation, so the text is scanned
    once; `positions[b][n]` is where frame b's match holds column n.
    """

    table: Table
    shapes: list[str]
    texts: list[str]
    tokens: np.ndarray
    regex: re.Pattern[str]
    positions: list[list[int]]
    key_regex: re.Pattern[str] | None = None  # see `identities`
    _frame: Any = None

    @property
    def frame(self):
        """All rows as one polars DataFrame (built once; a sample's rows are a slice of it for DuckDB)."""
        if self._frame is None:
            self._frame = polars_frame(self.table.columns, self.table.rows)
        return self._frame

    def matches(self, text: str) -> list[tuple[str, ...]]:
        """Every sentence of this table in `text`, as its column values in text form, in column order."""
        width = len(self.table.columns)
        if len(self.shapes) == 1:
            found = self.regex.findall(text)
            if width == 1:
                return [(m,) for m in found]
            if not found or self.positions[0] == list(range(width)):
                return found
            stated = list(zip(*found, strict=True))  # reorder whole columns, not row by row
            return list(zip(*(stated[p] for p in self.positions[0]), strict=True))
        # Several frames: the last group a match closes tells its frame (each frame's groups are
        # numbered together), and one call reads that frame's groups in column order.
        groups = [tuple(b * width + p + 1 for p in positions) for b, positions in enumerate(self.positions)]
        found = [m.group(*groups[(m.lastindex - 1) // width]) for m in self.regex.finditer(text)]
        return [(v,) for v in found] if width == 1 else found

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
        texts = list(zip(*found, strict=True))
        columns = [_cast_all(texts[n], c) for n, c in enumerate(self.table.columns)]
        return list(zip(*columns, strict=True))


def _cast_all(values: tuple[str, ...], column: Column) -> list[Any] | tuple[str, ...]:
    if "unknown" in values:
        kind = {"int": int, "float": float, "str": str}[column.kind]
        return [None if v == "unknown" else kind(v) for v in values]
    if column.kind == "str":
        return values
    return list(map(int if column.kind == "int" else float, values))


def _row_shapes(db: Database, table: Table, templates: Templates, row_templates: str | None) -> list[str]:
    """A table's sentence frames, one per line, with a placeholder per column: the user's `<table>.j2`
    in `row_templates`, else the family's template for a built-in database, else the default sentence."""
    variables = {c.name: _sentinel(n) for n, c in enumerate(table.columns)}
    candidates = []
    if row_templates:
        candidates.append((Templates.folder(row_templates), f"{table.name}.j2"))
    if db.template_folder:
        candidates.append((templates, f"{db.template_folder}/{table.name}.j2"))
    for source, name in candidates:
        if source.has(name):
            # Rendered once with placeholders and filled per row, and read back by them: a template
            # that does more with a column than print it would be dropped or unreadable.
            source.require_plain(name, tuple(variables), "its frames are filled per row and read back by them")
            return [line.strip() for line in source.render(name, **variables).splitlines() if line.strip()]
    cells = [(c.words, _sentinel(n)) for n, c in enumerate(table.columns)]
    return [templates.render("default_row.j2", table=table.name, cells=cells).strip()]


def _branch(table: Table, shape: str, frame: int, name: str) -> tuple[str, list[int]]:
    """A frame's regex (plain groups, in the order the frame states the columns) and, per column,
    the position of its group."""
    for n in range(len(table.columns)):
        if shape.count(_sentinel(n)) != 1:
            raise SpecError(
                f"frame {frame + 1} of the row template of table {name!r} must state column "
                f"{table.columns[n].name!r} exactly once so rows can be parsed back"
            )
    stated = sorted(range(len(table.columns)), key=lambda n: shape.index(_sentinel(n)))
    regex = re.escape(shape)
    for n, c in enumerate(table.columns):
        regex = regex.replace(re.escape(_sentinel(n)), f"({_GROUP[c.kind]}|unknown)")
    return regex, [stated.index(n) for n in range(len(table.columns))]


@functools.lru_cache(maxsize=4)
def verbalized(
    tokenizer_name: str, database: tuple, templates: Templates, row_templates: str | None, seed: int = 0
) -> dict[str, VerbalizedTable]:
    """Every row of every table as a sentence in one of its table's frames (chosen from the build's
    seed), tokenized once per machine."""
    tokenizer = get_tokenizer(tokenizer_name)
    db = database_for(database)
    out = {}
    for table in db.tables.values():
        shapes = _row_shapes(db, table, templates, row_templates)
        branches = [_branch(table, shape, f, table.name) for f, shape in enumerate(shapes)]
        choice = np.random.default_rng(derive_seed(seed, "holobench-frames", table.name)).integers(
            0, len(shapes), len(table.rows)
        )
        texts = _render_rows(shapes, table, choice.tolist())
        counts = cached_counts("row-tokens", tokenizer_name, texts, lambda texts: count_units(texts, tokenizer))
        regex = "|".join(f"(?:{r})" for r, _ in branches) if len(branches) > 1 else branches[0][0]
        key = _leading_key(table, shapes)
        out[table.name] = VerbalizedTable(
            table, shapes, texts, np.asarray(counts, dtype=np.int64), re.compile(regex), [p for _, p in branches], key
        )
    return out


def _leading_key(table: Table, shapes: list[str]) -> re.Pattern[str] | None:
    """Each frame's text up to its second value, with a group for its first, if every frame states
    the same column first and that column is unique in the table: then two sentences with the same
    first value (in the same frame) are the same row, and a scan can stop there."""
    heads = []
    for shape in shapes:
        stated = sorted((shape.index(_sentinel(n)), n) for n in range(len(table.columns)))
        if (
            len(stated) < 2
            or stated[0][1] != sorted((shapes[0].index(_sentinel(n)), n) for n in range(len(table.columns)))[0][1]
        ):
            return None
        first, second = stated[0][1], stated[1][1]
        head = re.escape(shape[: shape.index(_sentinel(second))])
        heads.append(head.replace(re.escape(_sentinel(first)), f"({_GROUP[table.columns[first].kind]}|unknown)"))
    values = [row[stated[0][1]] for row in table.rows]
    if None in values or len(set(values)) != len(values):
        return None
    return re.compile("|".join(f"(?:{h})" for h in heads) if len(heads) > 1 else heads[0])


def _render_rows(shapes: list[str], table: Table, frames: list[int]) -> list[str]:
    """Every row as its sentence, in its frame: each shape becomes one format string ("{3:.2f}" for a
    float column), so a 5,000-row table renders in one pass of str.format instead of a replace per
    cell. Rows with a missing value take the cell-by-cell path ("unknown")."""
    formats = []
    for shape in shapes:
        fmt = shape.replace("{", "{{").replace("}", "}}")
        for n, c in enumerate(table.columns):
            fmt = fmt.replace(_sentinel(n), "{" + str(n) + (":.2f" if c.kind == "float" else "") + "}")
        formats.append(fmt)
    texts = []
    for row, frame in zip(table.rows, frames, strict=True):
        if None in row:
            text = shapes[frame]
            for n, (c, v) in enumerate(zip(table.columns, row, strict=True)):
                text = text.replace(_sentinel(n), text_value(v, c.kind))
            texts.append(text)
        else:
            texts.append(formats[frame].format(*row))
    return texts
