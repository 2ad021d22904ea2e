"""HoloBench's answer score without a judge model: the final answer's result rows matched to the gold
rows as tuples, reported as precision, recall and F1 (F1 is the task metric).

- Only the final answer counts: the text after the last answer marker (the row's answer prefix,
  "Answer:") if the prediction writes one, else the whole prediction. Reasoning before the marker
  neither helps nor hurts.
- Each non-empty line of the answer is one result row; its cells are separated by " | ". A line
  saying there is no result ("none", "no answer", ...) stands for the empty answer, which is an
  answer: it scores 1 when the gold answer is empty, 0 otherwise.
- Cells match when equal ignoring case and spacing; where the gold cell is a number, the predicted
  cell must be a number equal to it once rounded to the gold's decimals ("91.5" matches "91.50";
  "20.4" does not match "20.39").
- When the SQL orders its result, the matched rows must keep that order (longest common subsequence).

So echoing the context, or a list of numbers, scores 0: no line of either is a result row.
"""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata
from .queries import has_order

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_EMPTY = re.compile(r"^(?:none|no answer|no result|no results|nothing|empty|no rows?|n/a)\.?$", re.IGNORECASE)


def final_answer(prediction: str, marker: str = "Answer:") -> str:
    """The text after the last answer marker, or the whole prediction if it writes none."""
    at = prediction.lower().rfind(marker.lower()) if marker else -1
    return prediction[at + len(marker) :] if at >= 0 else prediction


def _cell(text: str) -> str:
    return " ".join(text.strip().strip(".").split()).lower()


def _same(gold: str, predicted: str) -> bool:
    if _NUMBER.fullmatch(gold):
        if not _NUMBER.fullmatch(predicted):
            return False
        decimals = len(gold.partition(".")[2])
        return round(float(predicted), decimals) == round(float(gold), decimals)
    return gold == predicted


def _matches(gold: list[str], predicted: list[str]) -> bool:
    return len(gold) == len(predicted) and all(_same(g, p) for g, p in zip(gold, predicted, strict=True))


def result_rows(answer: str) -> list[list[str]] | None:
    """The answer's rows as cell lists; [] for an explicit empty answer; None for no answer at all."""
    lines = [line.strip().lstrip("-*•").strip() for line in answer.strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    if len(lines) == 1 and _EMPTY.match(lines[0]):
        return []
    return [[_cell(c) for c in line.split("|")] for line in lines]


def _matched(gold: list[list[str]], predicted: list[list[str]], ordered: bool) -> int:
    """Gold rows matched by distinct predicted rows (in order, when the result is ordered)."""
    if ordered:  # longest common subsequence
        table = [[0] * (len(predicted) + 1) for _ in range(len(gold) + 1)]
        for i, g in enumerate(gold):
            for j, p in enumerate(predicted):
                table[i + 1][j + 1] = table[i][j] + 1 if _matches(g, p) else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]
    used: set[int] = set()
    for g in gold:
        hit = next((j for j, p in enumerate(predicted) if j not in used and _matches(g, p)), None)
        if hit is not None:
            used.add(hit)
    return len(used)


def holobench_scores(prediction: str, answers: list[str], ordered: bool, marker: str = "Answer:") -> dict[str, float]:
    """Precision, recall and F1 of the final answer's rows against the gold rows."""
    gold = [[_cell(c) for c in row.split("|")] for row in answers]
    predicted = result_rows(final_answer(prediction, marker))
    if predicted is None:
        predicted = []
        if not gold:  # nothing written: not an answer, even to an empty gold
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    if not gold or not predicted:
        same = float(not gold and not predicted)
        return {"precision": same, "recall": same, "f1": same}
    hits = _matched(gold, predicted, ordered)
    precision, recall = hits / len(predicted), hits / len(gold)
    f1 = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


def f1_metric(row: dict[str, Any], prediction: str) -> float:
    """Task metric: F1 of the final answer's rows (see the module docstring)."""
    ordered = has_order(decode_metadata(row["metadata"])["sql"])
    marker = (row.get("answer_prefix") or "").strip() or "Answer:"
    return holobench_scores(prediction, list(row["answers"]), ordered, marker)["f1"]


JUDGED_ROWS = 50  # HoloBench's judge sees the first 50 gold rows


def holobench_exact_share(row: dict[str, Any], prediction: str) -> float:
    """HoloBench's score as its judge prompt defines it, without a judge model: the share of gold rows
    (the first 50) that the final answer matches exactly; extra rows do not count against it (the
    prompt's "more data than required" example), a row out of place in an ordered answer is no exact
    match, and an empty gold is matched by an answer saying there is none. HoloBench asks gpt-4o-mini
    for each row's label; ours decides the same rules by the cell comparison above."""
    ordered = has_order(decode_metadata(row["metadata"])["sql"])
    marker = (row.get("answer_prefix") or "").strip() or "Answer:"
    gold = [[_cell(c) for c in r.split("|")] for r in list(row["answers"])[:JUDGED_ROWS]]
    predicted = result_rows(final_answer(prediction, marker))
    if not gold:
        return float(predicted == [])
    return _matched(gold, predicted or [], ordered) / len(gold)
