"""LongBioBench's metrics that no other family shares: refusals, citations, and any valid age pair."""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata
from ...scoring import all_in_order
from .bios import load_style, package_templates, parse_bios

_REFUSAL = re.compile(
    r"\b(not (?:explicitly )?(?:provided|mentioned|stated|given|specified|available|included|known|in the)"
    r"|no (?:information|mention|record)|does(?:n't| not) (?:say|mention|state|provide|include)"
    r"|do(?:n't| not) (?:know|say|mention|provide)|unknown|cannot (?:be )?(?:determined|answer|tell|find)"
    r"|can't (?:determine|answer|tell|find)|unable to (?:determine|answer|find))\b",
    re.IGNORECASE,
)


def is_refusal(prediction: str) -> float:
    """The output declines to answer because the information is missing (idk task)."""
    return float(bool(_REFUSAL.search(prediction)))


def citation_parts(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(answer score, citation score): answers hold value, "[k]" pairs."""
    values, labels = answers[0::2], answers[1::2]
    return all_in_order(prediction, values), float(all(label in prediction for label in labels))


def citation(prediction: str, answers: list[str]) -> float:
    """Right only when both the answer and its citation are right."""
    answer, cited = citation_parts(prediction, answers)
    return answer * cited


def two_diff(prediction: str, context: str, difference: int, style: str = "standard") -> float:
    """Any two people named in the output whose stated ages (read from the context) differ by `difference`."""
    ages = {bio.name: bio.values.get("age") for bio in parse_bios(context, load_style(style, package_templates()))}
    named = sorted((prediction.find(name), name) for name in ages if ages[name] is not None and name in prediction)
    # A name inside a longer named name ("Ann Lee" in "Mary Ann Lee") is not a separate mention.
    names = [n for _, n in named if not any(n != m and n in m for _, m in named)]
    if len(names) < 2:
        return 0.0
    first, second = names[:2]
    return float(abs(int(ages[first]) - int(ages[second])) == int(difference))


# Task metrics: (row, prediction) -> score.


def refusal_metric(row: dict[str, Any], prediction: str) -> float:
    return is_refusal(prediction)


def citation_metric(row: dict[str, Any], prediction: str) -> float:
    return citation(prediction, list(row["answers"]))


def two_diff_metric(row: dict[str, Any], prediction: str) -> float:
    metadata = decode_metadata(row["metadata"])
    return two_diff(prediction, row["input"], metadata["difference"], metadata["params"]["style"])
