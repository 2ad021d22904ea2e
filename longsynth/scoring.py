"""Scoring model predictions against rows, as each family's paper scores them.

Every function takes the model's output text and returns 1.0 (right) or 0.0
(wrong), except where noted. `score(row, prediction)` picks the function for
the row's task.
"""

from __future__ import annotations

import re
from typing import Any

from .metadata_json import decode_metadata

_REFUSAL = re.compile(
    r"\b(not (?:explicitly )?(?:provided|mentioned|stated|given|specified|available|included|known|in the)"
    r"|no (?:information|mention|record)|does(?:n't| not) (?:say|mention|state|provide|include)"
    r"|do(?:n't| not) (?:know|say|mention|provide)|unknown|cannot (?:be )?(?:determined|answer|tell|find)"
    r"|can't (?:determine|answer|tell|find)|unable to (?:determine|answer|find))\b",
    re.IGNORECASE,
)


def contains(prediction: str, answer: str) -> float:
    """Case-insensitive containment of the answer (LongBioBench's retrieval score)."""
    return float(answer.strip().lower() in prediction.lower())


def all_in_order(prediction: str, answers: list[str]) -> float:
    """Every answer appears, in the given order (multi-retrieval and ranking)."""
    position = 0
    lowered = prediction.lower()
    for answer in answers:
        found = lowered.find(answer.strip().lower(), position)
        if found < 0:
            return 0.0
        position = found + len(answer.strip())
    return 1.0


def last_integer(prediction: str, answer: str | int) -> float:
    """The last integer in the output equals the answer (arithmetic tasks)."""
    numbers = re.findall(r"-?\d+", prediction)
    return float(bool(numbers) and int(numbers[-1]) == int(answer))


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
    from .text.bios import load_style, parse_bios

    ages = {bio.name: bio.values.get("age") for bio in parse_bios(context, load_style(style))}
    named = sorted((prediction.find(name), name) for name in ages if ages[name] is not None and name in prediction)
    # A name inside a longer named name ("Ann Lee" in "Mary Ann Lee") is not a separate mention.
    names = [n for _, n in named if not any(n != m and n in m for _, m in named)]
    if len(names) < 2:
        return 0.0
    first, second = names[:2]
    return float(abs(int(ages[first]) - int(ages[second])) == int(difference))


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


def score(row: dict[str, Any], prediction: str) -> float:
    """Score one prediction for a row of any evaluation family."""
    task = row["task"]
    answers = list(row["answers"])
    metadata = decode_metadata(row["metadata"])
    if task == "bio_idk":
        return is_refusal(prediction)
    if task in ("bio_calculation",):
        return last_integer(prediction, answers[0])
    if task == "bio_twodiff":
        return two_diff(prediction, row["input"], metadata["difference"], metadata["params"]["style"])
    if task == "bio_citation":
        return citation(prediction, answers)
    if task.startswith("holo_"):
        return row_recall(prediction, answers)
    if task.startswith("niah_"):
        return all_in_order(prediction, answers) if len(answers) == 1 else _fraction(prediction, answers)
    if len(answers) == 1:
        return contains(prediction, answers[0])
    return all_in_order(prediction, answers)


def _fraction(prediction: str, answers: list[str]) -> float:
    """RULER's multi-answer score: the share of answers that appear."""
    return sum(contains(prediction, a) for a in answers) / len(answers)
