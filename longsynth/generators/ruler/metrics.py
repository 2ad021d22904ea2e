"""RULER's metrics, read only within the reply a row keeps room for.

RULER scores `string_match_all` (the share of gold answers the output contains) for NIAH, vt, cwe
and fwe, and `string_match_part` (1 if the output contains any gold answer) for QA. Both are
containment checks, so an output that echoes the context would contain every answer. RULER never
sees such an output because it generates at most `tokens_to_generate` tokens; we score the same
way: `scoring.score` applies the shared policy first (only the first `reserve` tokens of a prediction
count, and a reply that repeats 20 consecutive words of the input counts as an echo and scores 0).
Any other reply scores exactly as RULER scores it.
"""

from __future__ import annotations

from typing import Any

from ...scoring import contains, fraction


def string_match_all(row: dict[str, Any], prediction: str) -> float:
    """The share of gold answers in the reply (RULER's `string_match_all`)."""
    return fraction(prediction, list(row["answers"]))


def string_match_part(row: dict[str, Any], prediction: str) -> float:
    """1 if the reply holds any gold answer (RULER's `string_match_part`)."""
    return max(contains(prediction, answer) for answer in row["answers"])
