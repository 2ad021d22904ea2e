"""Validators: length, depth and the family's answerability oracle.

`validate_row` is the single entry point used by the build (with the
sample's one measurement) and by `longsynth validate` (which re-encodes).
A row with any problem is never written.
"""

from __future__ import annotations

from typing import Any

from ..generators.base import Generator
from ..metadata_json import decode_metadata
from ..tokenizers import Measurement, Tokenizer, measure
from .depth import check_depths
from .length import check_length


def validate_row(
    row: dict[str, Any],
    generator: Generator,
    tokenizer: Tokenizer,
    measurement: Measurement | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[str]:
    """Every problem found with one row; an empty list means the row is valid.

    The build passes the measurement and the metadata it just made, so neither the text nor the
    metadata JSON is processed twice; `longsynth validate` passes the row alone.
    """
    text = row.get("input") if "input" in row else row.get("text")
    if measurement is None:
        measurement = measure(tokenizer, text)
    if metadata is None:
        metadata = decode_metadata(row["metadata"])
    problems = check_length(row, measurement, generator.spec.length_tolerance)
    if metadata.get(metadata.get("item_key", "items")):
        problems += check_depths(row, metadata, measurement)
    try:
        problems += generator.oracle(row, metadata)
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"the oracle could not read the row ({type(exc).__name__}: {exc})")
    return problems


__all__ = ["check_depths", "check_length", "validate_row"]
