"""Defects families plant in valid rows to prove their validators can fail (see `Validator.plant`).
Shared here because several families' items (bios, table rows, boxes) break the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..items import item_spans
from ..metadata_json import decode_metadata

Row = dict[str, Any]


def state_first_item_twice(item_key: str) -> Callable[[Row], Row]:
    """A plant that repeats the first placed item's text right after it (a duplicated needle, bio or row)."""

    def plant(row: Row) -> Row:
        start, end = item_spans(decode_metadata(row["metadata"])[item_key])[0]
        text = row["input"]
        return {**row, "input": text[:end] + " " + text[start:end] + text[end:]}

    return plant
