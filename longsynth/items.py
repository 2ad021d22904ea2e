"""Placed items in row metadata: a list of records, or columns when there are hundreds.

A needle row places a few needles; the metadata lists them as records
(the row schema: `needles` = list of {key, value, char_offset, ...}). A holobench
row places every row of the tables its query reads, hundreds at 32K tokens,
so its items are stored as columns: one list per field, the same numbers
without repeating every key for every row (a third less JSON to write, parse
and compress). Either way each item has its character span, token offset,
measured and requested depth, and the spans its depth allowance is measured
from (neighbouring filler units, and the run of items sharing its boundary).

Columns: the payload fields (`table`, ...), `char_offset`, `char_end`,
`token_offset`, `depth`, `requested_depth`, and `before`, `after`, `run` as
[start, end] pairs, [-1, -1] where there is none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fitting import Insert, Placements

ABSENT = (-1, -1)


def item_records(
    inserts: list[Insert], placed: Placements, token_offsets: np.ndarray, depths: np.ndarray
) -> list[dict[str, Any]]:
    near = np.stack([placed.before, placed.after], axis=1).tolist()
    for n in np.flatnonzero((placed.before[:, 0] < 0) | (placed.after[:, 0] < 0)).tolist():
        near[n] = [span for span in near[n] if span[0] >= 0]
    runs = [[run] if run[0] >= 0 else [] for run in placed.run.tolist()]
    return [
        {
            **insert.payload,
            "char_offset": start,
            "char_end": end,
            "token_offset": tokens,
            "depth": depth,
            "requested_depth": insert.depth,
            "neighbours": neighbours,
            "cluster": run,
        }
        for insert, start, end, tokens, depth, neighbours, run in zip(
            inserts,
            placed.start.tolist(),
            placed.end.tolist(),
            token_offsets.tolist(),
            depths.tolist(),
            near,
            runs,
            strict=True,
        )
    ]


def item_columns(
    inserts: list[Insert], placed: Placements, token_offsets: np.ndarray, depths: np.ndarray
) -> dict[str, Any]:
    """Numeric columns stay numpy arrays until the metadata JSON is written (`metadata_json`
    writes them as plain lists), so the build's own checks read them without conversion."""
    fields = list(inserts[0].payload) if inserts else []
    columns: dict[str, Any] = {name: [i.payload[name] for i in inserts] for name in fields}
    columns.update(
        char_offset=placed.start,
        char_end=placed.end,
        token_offset=token_offsets,
        depth=depths,
        requested_depth=np.fromiter((i.depth for i in inserts), np.float64, len(inserts)),
        before=placed.before,
        after=placed.after,
        run=placed.run,
    )
    return columns


def item_count(items: list | dict) -> int:
    if isinstance(items, dict):
        return len(items.get("char_offset", []))
    return len(items)


def item_spans(items: list | dict) -> list[tuple[int, int]]:
    """Each item's (char_offset, char_end)."""
    if isinstance(items, dict):
        return list(zip(items["char_offset"], items["char_end"], strict=True))
    return [(i["char_offset"], i.get("char_end", i["char_offset"])) for i in items]


def item_table(items: list | dict) -> np.ndarray:
    """Every number the depth checks read, one row per item: own span, two neighbour spans and a
    run span ((0, 0) where absent), token offset, requested depth (NaN where missing)."""
    if isinstance(items, dict):
        count = item_count(items)

        def column(name: str, missing: float) -> np.ndarray:
            values = items.get(name)
            return np.full(count, missing) if values is None else np.asarray(values, dtype=np.float64)

        def spans(name: str) -> np.ndarray:
            values = items.get(name)
            if values is None:
                return np.zeros((count, 2))
            pairs = np.array(values, dtype=np.float64).reshape(count, 2)
            pairs[pairs[:, 0] < 0] = 0
            return pairs

        return np.column_stack(
            [
                column("char_offset", np.nan),
                column("char_end", np.nan),
                spans("before"),
                spans("after"),
                spans("run"),
                column("token_offset", -1),
                column("requested_depth", np.nan),
            ]
        ).reshape(count, 10)
    none = (0, 0)
    flat: list[float] = []
    for item in items:
        near = item.get("neighbours") or ()
        run = item.get("cluster") or ()
        flat += (item["char_offset"], item["char_end"])
        flat += near[0] if len(near) > 0 else none
        flat += near[1] if len(near) > 1 else none
        flat += run[0] if run else none
        flat += (item.get("token_offset", -1), item.get("requested_depth", np.nan))
    return np.array(flat, dtype=np.float64).reshape(len(items), 10)
