"""Depth: measure where each item sits, and check it against the request.

Depth is the share of the context's tokens that come before an item, in
percent, out of the context tokens other than the item's own: 0 is the very
start, 100 the very end, whatever the item's size. It is measured on the
sample's one encode, from character offsets; never taken from the fitter's
prediction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..items import item_count, item_table
from ..tokenizers import Measurement

DEPTH_DIGITS = 4


def measured_depths(
    measurement: Measurement, context_span: tuple[int, int], starts, ends
) -> tuple[np.ndarray, np.ndarray]:
    """(tokens of the input before each item, each item's depth in percent of the rest of the context)."""
    start, end = measurement.tokens_before_many(context_span)
    before = measurement.tokens_before_many(starts)
    own = measurement.tokens_before_many(ends) - before
    depths = 100.0 * (before - start) / np.maximum(1, end - start - own)
    return before, np.round(depths, DEPTH_DIGITS)


def measured_depth(
    measurement: Measurement, context_span: tuple[int, int], item_span: tuple[int, int]
) -> tuple[int, float]:
    before, depths = measured_depths(measurement, context_span, [item_span[0]], [item_span[1]])
    return int(before[0]), float(depths[0])


def depth_allowances(
    measurement: Measurement,
    context_span: tuple[int, int],
    items: list[dict[str, Any]],
    table: np.ndarray | None = None,
) -> np.ndarray:
    """How far each item may sit from its requested depth: max(1 point, its widest neighbouring unit
    plus the other items placed at the same boundary), on the same scale as `measured_depths`.

    An item's `cluster` holds at most one span: the whole run of items at its boundary. Every span
    is measured in one vectorised lookup (a holobench row places hundreds of items).
    """
    table = item_table(items) if table is None else table
    count = len(table)
    spans = table[:, :8].astype(np.int64)
    context = int(np.diff(measurement.tokens_before_many(list(context_span)))[0])
    tokens = measurement.tokens_before_many(spans.reshape(-1)).reshape(count, 4, 2)
    sizes = tokens[:, :, 1] - tokens[:, :, 0]
    own = sizes[:, 0]
    widest = sizes[:, 1:3].max(axis=1)
    others = np.where(sizes[:, 3] > 0, np.maximum(0, sizes[:, 3] - own), 0)
    # One more token: a boundary token may merge with its neighbour once the text is joined.
    return np.maximum(1.0, 100.0 * (widest + others + 1) / np.maximum(1, context - own))


def depth_allowance(
    measurement: Measurement,
    context_span: tuple[int, int],
    item_span: tuple[int, int],
    neighbours: list,
    cluster: list = (),
) -> float:
    item = {"char_offset": item_span[0], "char_end": item_span[1], "neighbours": neighbours, "cluster": cluster}
    return float(depth_allowances(measurement, context_span, [item])[0])


def is_span_within(span: Any, size: int) -> bool:
    """Whether a recorded span is two whole numbers with 0 <= start <= end <= size (a number below
    zero would make a slice read from the end, and a check comparing that text would pass)."""
    return (
        isinstance(span, list | tuple)
        and len(span) == 2
        and all(type(x) is int for x in span)
        and 0 <= span[0] <= span[1] <= size
    )


def check_depths(row: dict[str, Any], metadata: dict[str, Any], measurement: Measurement) -> list[str]:
    """Re-measure every item's depth in the prompt (character offsets are recorded in the input,
    which starts at `metadata.input_span[0]` in the prompt)."""
    problems = []
    shift = int(metadata.get("input_span", [0])[0])
    size = len(row["input"] if "input" in row else row.get("text") or "")
    context = metadata.get("context_span")
    if not is_span_within(context, size):
        return [f"metadata.context_span {context!r} is not a span of the input's {size} characters"]
    span = tuple(int(x) + shift for x in context)
    key = metadata.get("item_key", "items")
    items = metadata.get(key, [])
    if not isinstance(items, list | dict):
        return [f"metadata.{key} is not a list of items"]
    try:
        count = item_count(items)
        table = item_table(items) if count else None
    except (KeyError, TypeError, ValueError, IndexError):
        return [f"metadata.{key}: an item lacks its span or holds one that is not two numbers"]
    recorded = list(row.get("depths") or [])
    if len(recorded) != count:
        problems.append(f"{len(recorded)} depths recorded for {count} items")
    if not count:
        return problems
    # Each item's own span lies in the input (a number below zero would read it from the end, and
    # every check after this one would pass on the text it found there).
    own = table[:, :2]
    outside = np.flatnonzero(~((own[:, 0] >= 0) & (own[:, 0] <= own[:, 1]) & (own[:, 1] <= size)))
    if len(outside):
        n = int(outside[0])
        start, end = own[n]
        return [*problems, f"item {n}: its span {start:g}..{end:g} is not within the input's {size} characters"]
    table[:, :8] += shift
    before, depths = measured_depths(measurement, span, table[:, 0].astype(np.int64), table[:, 1].astype(np.int64))
    allowed = depth_allowances(measurement, span, items, table)
    offsets = table[:, 8].astype(np.int64)
    requested = table[:, 9]
    record = np.array(recorded[:count] + [np.nan] * (count - len(recorded)), dtype=np.float64)
    wrong_offset = offsets != before
    wrong_record = np.abs(record - depths) > 10**-DEPTH_DIGITS  # NaN (missing) compares False
    off_target = ~(np.abs(depths - requested) <= allowed + 1e-9)  # a missing request (NaN) is off target
    for n in np.flatnonzero(wrong_offset | wrong_record | off_target)[:20].tolist():
        if wrong_offset[n]:
            problems.append(f"item {n}: token offset {offsets[n]} recorded, {before[n]} measured")
        if wrong_record[n]:
            problems.append(f"item {n}: depth {recorded[n]} recorded, {depths[n]} measured")
        if off_target[n]:
            problems.append(
                f"item {n}: depth {depths[n]:.2f} is {abs(depths[n] - requested[n]):.2f} points from the "
                f"requested {requested[n]:g} (allowed {allowed[n]:.2f})"
            )
    return problems
