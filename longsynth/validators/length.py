"""The length validator: one encode, compared with the record and the tolerance."""

from __future__ import annotations

from typing import Any

from ..fitting import length_tolerance
from ..tokenizers import Measurement


def check_length(row: dict[str, Any], measurement: Measurement, tolerance: int | None) -> list[str]:
    target = int(row["target_length"])
    slack = length_tolerance(target, tolerance)
    problems = []
    if int(row["length"]) != measurement.length:
        problems.append(f"recorded length {row['length']} but the text has {measurement.length} tokens")
    if not target - slack <= measurement.length <= target:
        problems.append(f"length {measurement.length} is outside [{target - slack}, {target}]")
    return problems
