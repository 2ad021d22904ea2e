"""Depth: measure where each item sits, and check it against the request.

Depth is the share of the context's tokens that come before an item, in
percent, out of the context tokens other than the item's own: 0 is the very
start, 100 the very end, whatever the item's size. It is measured on the
sample's one encode, from character offsets; never taken from the fitter's
prediction.
"""

from __future__ import annotations

from typing import Any

from ..tokenizers import Measurement

DEPTH_DIGITS = 4


def measured_depth(
    measurement: Measurement, context_span: tuple[int, int], item_span: tuple[int, int]
) -> tuple[int, float]:
    """(tokens of the input before the item, depth in percent of the rest of the context)."""
    start = measurement.tokens_before(context_span[0])
    end = measurement.tokens_before(context_span[1])
    before = measurement.tokens_before(item_span[0])
    own = measurement.tokens_before(item_span[1]) - before
    depth = 100.0 * (before - start) / max(1, end - start - own)
    return before, round(depth, DEPTH_DIGITS)


def depth_allowance(
    measurement: Measurement,
    context_span: tuple[int, int],
    item_span: tuple[int, int],
    neighbours: list,
    cluster: list = (),
) -> float:
    """How far an item may sit from its requested depth: max(1 point, its widest neighbouring unit
    plus the other items placed at the same boundary), on the same scale as `measured_depth`.

    `cluster` holds at most one span: the whole run of items at the item's boundary.
    """

    def size(span) -> int:
        return measurement.tokens_before(span[1]) - measurement.tokens_before(span[0])

    rest = max(1, size(context_span) - size(item_span))
    widest = max((size(s) for s in neighbours), default=0)
    others = max(0, sum(size(s) for s in cluster) - size(item_span)) if cluster else 0
    return max(1.0, 100.0 * (widest + others) / rest)


def check_depths(row: dict[str, Any], metadata: dict[str, Any], measurement: Measurement) -> list[str]:
    problems = []
    span = tuple(metadata["context_span"])
    items = metadata.get(metadata.get("item_key", "items"), [])
    recorded = list(row.get("depths") or [])
    if len(recorded) != len(items):
        problems.append(f"{len(recorded)} depths recorded for {len(items)} items")
    for n, item in enumerate(items):
        tokens_before, depth = measured_depth(measurement, span, (item["char_offset"], item["char_end"]))
        if item.get("token_offset") != tokens_before:
            problems.append(f"item {n}: token offset {item.get('token_offset')} recorded, {tokens_before} measured")
        if n < len(recorded) and abs(recorded[n] - depth) > 10**-DEPTH_DIGITS:
            problems.append(f"item {n}: depth {recorded[n]} recorded, {depth} measured")
        allowed = depth_allowance(
            measurement,
            span,
            (item["char_offset"], item["char_end"]),
            item.get("neighbours", []),
            item.get("cluster", []),
        )
        if abs(depth - item["requested_depth"]) > allowed + 1e-9:
            problems.append(
                f"item {n}: depth {depth:.2f} is {abs(depth - item['requested_depth']):.2f} points from the "
                f"requested {item['requested_depth']:g} (allowed {allowed:.2f})"
            )
    return problems
