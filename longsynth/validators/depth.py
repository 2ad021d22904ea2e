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
    measurement: Measurement, context_span: tuple[int, int], items: list[dict[str, Any]]
) -> np.ndarray:
    """How far each item may sit from its requested depth: max(1 point, its widest neighbouring unit
    plus the other items placed at the same boundary), on the same scale as `measured_depths`.

    An item's `cluster` holds at most one span: the whole run of items at its boundary.
    """
    offsets = [context_span[0], context_span[1]]
    for item in items:
        offsets += [item["char_offset"], item["char_end"]]
        for s, e in item.get("neighbours", []):
            offsets += [s, e]
        for s, e in item.get("cluster", []):
            offsets += [s, e]
    tokens = iter(measurement.tokens_before_many(offsets).tolist())
    context = -next(tokens) + next(tokens)
    out = np.empty(len(items))
    for n, item in enumerate(items):
        own = -next(tokens) + next(tokens)
        widest = max((-next(tokens) + next(tokens) for _ in item.get("neighbours", [])), default=0)
        run = sum(-next(tokens) + next(tokens) for _ in item.get("cluster", []))
        others = max(0, run - own) if run else 0
        # One more token: a boundary token may merge with its neighbour once the text is joined.
        out[n] = max(1.0, 100.0 * (widest + others + 1) / max(1, context - own))
    return out


def depth_allowance(
    measurement: Measurement,
    context_span: tuple[int, int],
    item_span: tuple[int, int],
    neighbours: list,
    cluster: list = (),
) -> float:
    item = {"char_offset": item_span[0], "char_end": item_span[1], "neighbours": neighbours, "cluster": cluster}
    return float(depth_allowances(measurement, context_span, [item])[0])


def check_depths(row: dict[str, Any], metadata: dict[str, Any], measurement: Measurement) -> list[str]:
    problems = []
    span = tuple(metadata["context_span"])
    items = metadata.get(metadata.get("item_key", "items"), [])
    recorded = list(row.get("depths") or [])
    if len(recorded) != len(items):
        problems.append(f"{len(recorded)} depths recorded for {len(items)} items")
    if not items:
        return problems
    before, depths = measured_depths(
        measurement, span, [i["char_offset"] for i in items], [i["char_end"] for i in items]
    )
    allowed = depth_allowances(measurement, span, items)
    for n, item in enumerate(items):
        if item.get("token_offset") != int(before[n]):
            problems.append(f"item {n}: token offset {item.get('token_offset')} recorded, {before[n]} measured")
        if n < len(recorded) and abs(recorded[n] - depths[n]) > 10**-DEPTH_DIGITS:
            problems.append(f"item {n}: depth {recorded[n]} recorded, {depths[n]} measured")
        if abs(depths[n] - item["requested_depth"]) > allowed[n] + 1e-9:
            problems.append(
                f"item {n}: depth {depths[n]:.2f} is {abs(depths[n] - item['requested_depth']):.2f} points from the "
                f"requested {item['requested_depth']:g} (allowed {allowed[n]:.2f})"
            )
        if len(problems) > 20:
            break
    return problems
