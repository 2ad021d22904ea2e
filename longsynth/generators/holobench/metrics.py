"""HoloBench's answer metric without a judge model: gold result rows matched against prediction lines."""

from __future__ import annotations

import re
from typing import Any


def _cells(text: str) -> list[str]:
    return [c.strip().lower() for c in text.split("|") if c.strip()]


def _cell_in(cell: str, line: str) -> bool:
    """A gold cell appears in a prediction line; numbers match by value (20 == 20.0 == 20.00)."""
    if cell in line:
        return True
    try:
        number = float(cell)
    except ValueError:
        return False
    return any(abs(float(n) - number) < 0.005 for n in re.findall(r"-?\d+(?:\.\d+)?", line))


def row_recall(prediction: str, answers: list[str]) -> float:
    """HoloBench-style recall without a judge model: each gold row scores 1 if one prediction line holds
    all its cells, else the largest share of its cells found on one line; the mean over gold rows."""
    if not answers:
        return float(not prediction.strip())
    lines = [line.lower() for line in prediction.splitlines() if line.strip()] or [prediction.lower()]
    total = 0.0
    for gold in answers:
        cells = _cells(gold)
        total += max(sum(_cell_in(c, line) for c in cells) / len(cells) for line in lines)
    return total / len(answers)


def row_recall_metric(row: dict[str, Any], prediction: str) -> float:
    return row_recall(prediction, list(row["answers"]))
