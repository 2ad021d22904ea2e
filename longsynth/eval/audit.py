"""`longsynth audit`: model-free baselines scored on a built dataset, so a number can be trusted to mean
the model did the task.

Each baseline writes a reply for a row from what a model sees (its prompt) and, for two of them, from
the other rows' answers (a prior a model could learn). The replies are scored with `scoring.score`,
exactly as a model's would be. A baseline that scores without doing the task is a defect of the
generator or of the metric, unless the family declares it on the task (`Task.declared`): "solves the
task" (reading off cwe's word counts is doing cwe) or "by design of <anchor>" with the reason (RULER's
single needle is the only number of its shape in a noise haystack). Anything else scoring above 0.2,
or above the task's chance level + 0.1 (`Generator.chance_for`), with its 99% interval above chance,
is flagged; `audit` exits 1 on a flag.

Candidates of the gold's shape (numbers of its length, UUIDs, capitalised names, quoted words) are
read from the row's input with the gold's own shape, never from the answers: what a cheating program
could find.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dataset import open_dataset
from ..generators.registry import get_generator_class
from ..row_memo import per_row
from ..scoring import reading_row, score
from ..text.language import IDEOGRAPHS
from ..text.patterns import bounded
from ..tokenizers import get_tokenizer
from .score import interval

FLAG_ABOVE = 0.2  # a baseline above this (or above chance + FLAG_MARGIN) is flagged
FLAG_MARGIN = 0.1
REFUSAL = "The text does not say."
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_QUOTED = re.compile(r"[\"“']([^\"”'\n]{1,60})[\"”']")
_QUOTED_ZH = re.compile(r"「([^」\n]{1,60})」")
_IDEOGRAPH = re.compile(rf"[{IDEOGRAPHS}]")
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}\b")


@dataclass(frozen=True)
class Rows:
    """What a baseline may use besides the row itself: the other rows of the same task."""

    by_task: dict[str, list[dict[str, Any]]]


Reply = Callable[[dict[str, Any], Rows], str]


def _gold(row: dict[str, Any]) -> str:
    return str(row["answers"][0]) if len(row["answers"]) else ""


def candidates(row: dict[str, Any]) -> list[str]:
    """Strings of the first gold answer's shape found in the input, in order of first appearance:
    what a program that never reads the question could list (found once a row: four baselines ask)."""
    return list(per_row(row, "candidates", _candidates))


def _candidates(row: dict[str, Any]) -> list[str]:
    gold, text = _gold(row).strip(), row["input"]
    if not gold:
        return []
    if _UUID.fullmatch(gold):
        found = _UUID.findall(text)
    elif gold.isdigit():
        found = re.findall(bounded(rf"\d{{{len(gold)}}}", r"\d"), text)
    elif _IDEOGRAPH.search(gold):  # Chinese: what 「」 quote, else the row's placed values of the gold's kind
        found = _QUOTED_ZH.findall(text) or _placed(row)
    elif _NAME.fullmatch(gold):
        words = len(gold.split())
        found = [m for m in _NAME.findall(text) if len(m.split()) == words]
    else:  # quoted strings, else the row's placed values of the gold's kind (rooms, things), else every word
        found = _QUOTED.findall(text) or _placed(row) or re.findall(r"[A-Za-z][A-Za-z'-]+", text)
    return list(dict.fromkeys(found))


def _placed(row: dict[str, Any]) -> list[str]:
    """The values of the answer's kind the row's family says it placed (`placed_items`) that its input
    holds, in order of first appearance: babilong's rooms, a Chinese sample's names."""
    if "generator" not in row:
        return []
    text = row["input"]
    # One search a value gives both whether the input holds it and where it first does.
    placed = per_row(row, "placed_items", get_generator_class(row["generator"]).placed_items)
    found = [(text.find(v), v) for v in placed if v]
    return [v for at, v in sorted(found, key=lambda pair: pair[0]) if at >= 0]


def _reserve_slice(row: dict[str, Any], end: bool) -> str:
    """The first (or last) `reserve` tokens of the input: a reply that copies a span of the context.
    Only a window at that end is encoded (32 characters a token leaves room for merges at its cut),
    not the whole 128K input twice a row; the whole input where the window is short of tokens."""
    tokenizer = get_tokenizer(row["tokenizer"])
    keep = max(1, int(row.get("reserve") or 128))
    text, width = row["input"], 32 * keep
    window = text if len(text) <= width else (text[-width:] if end else text[:width])
    ids = tokenizer.encode(window)
    if window is not text and len(ids) < keep + 8:
        ids = tokenizer.encode(text)
    return tokenizer.decode(ids[-keep:] if end else ids[:keep])


def _seeded(row: dict[str, Any]) -> random.Random:
    return random.Random(f"audit-{row['id']}")


def _shuffled(row: dict[str, Any], found: list[str]) -> list[str]:
    found = list(found)
    _seeded(row).shuffle(found)
    return found


def _majority(row: dict[str, Any], rows: Rows) -> str:
    """The most common gold among the task's other rows (a prior, leave-one-out)."""
    others = Counter(" ".join(r["answers"]) for r in rows.by_task[row["task"]] if r["id"] != row["id"])
    return others.most_common(1)[0][0] if others else ""


def _same_question(row: dict[str, Any], rows: Rows) -> str:
    """The gold of another row that asks the same question (a question pool reused across rows)."""
    for other in rows.by_task[row["task"]]:
        if other["id"] != row["id"] and other["question"] == row["question"]:
            return " ".join(other["answers"])
    return ""


BASELINES: dict[str, Reply] = {
    "empty": lambda row, rows: "",
    "refusal": lambda row, rows: REFUSAL,
    "echo input": lambda row, rows: row["input"],
    "echo question": lambda row, rows: row["question"],
    "head of input": lambda row, rows: _reserve_slice(row, end=False),
    "tail of input": lambda row, rows: _reserve_slice(row, end=True),
    # In a seeded shuffled order: cut to the reserve, a list in text order would be the first candidates
    # (the depth grid's edge), not every one.
    "every candidate": lambda row, rows: ", ".join(_shuffled(row, candidates(row))),
    "first candidate": lambda row, rows: next(iter(candidates(row)), ""),
    "last candidate": lambda row, rows: (candidates(row) or [""])[-1],
    "random candidate": lambda row, rows: _seeded(row).choice(candidates(row) or [""]),
    "majority gold": _majority,
    "same question's gold": _same_question,
}


def audit(directory: str | Path) -> dict[str, dict[str, dict[str, Any]]]:
    """task -> baseline -> {score, n, ci_low, ci_high, flagged, reason} over every row of a build."""
    dataset = open_dataset(directory, evaluation=True)
    family = get_generator_class(dataset.spec().generator)
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for task in dataset.tasks:
        # One task's rows in memory at a time (a baseline sees the other rows of its own task): all
        # of a 4,240-row RULER build at 64K and 128K held 3.8 GB.
        task_rows = dataset.rows(task)
        rows = Rows({task: task_rows})
        with reading_row(task_rows[0] if task_rows else {}):
            declared = family.declared_for(task, task_rows[0]) if task_rows else family.tasks[task].declared
        baselines = {**BASELINES, **family.baselines}
        result[task] = {}
        # Row by row, every baseline in turn, then the row's chance level: what is read out of a row's
        # input (its candidates, the values it placed) is then found once a row (`per_row`).
        scored, chances = [], []
        for row in task_rows:
            with reading_row(row):  # (the baselines and the chance level read the row's metadata too)
                scored.append([score(row, reply(row, rows)) for reply in baselines.values()])
                chances.append(family.chance_for(task, row))
        by_row = np.array(scored, dtype=np.float64).reshape(len(task_rows), len(baselines))
        # Chance varies by row (how many values of the answer's kind it placed): its mean over the rows.
        chance = float(np.mean(chances)) if task_rows else family.tasks[task].chance
        for column, name in enumerate(baselines):
            scores = by_row[:, column]
            mean = float(scores.mean()) if len(scores) else 0.0
            low, high = interval(scores)
            reason = declared.get(name, "")
            # Above the bar, and above chance beyond doubt (its 99% interval clears chance): a baseline at
            # chance on 12 rows often lands above chance + 0.1 by luck alone, and an audit checks well
            # over a hundred task x baseline pairs, so a 95% guard flags one of them by luck now and then.
            doubt_low, _ = interval(scores, 0.99)
            over = (mean > FLAG_ABOVE or mean > chance + FLAG_MARGIN) and doubt_low > chance
            result[task][name] = {
                "score": round(mean, 4),
                "n": len(scores),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "flagged": bool(over and not reason),
                "reason": reason,
            }
    return result


def flagged(result: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    return [(task, name) for task, found in result.items() for name, cell in found.items() if cell["flagged"]]


def table(result: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One line per task and baseline that scored anything: score, interval, and why it may."""
    lines = []
    for task, found in result.items():
        for name, cell in found.items():
            if cell["score"] == 0 and not cell["reason"]:
                continue
            mark = "FLAG" if cell["flagged"] else ("ok, " + cell["reason"] if cell["reason"] else "ok")
            lines.append(
                f"{task:<22} {name:<22} {cell['score']:.2f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}] "
                f"n={cell['n']}  {mark}"
            )
    quiet = sum(1 for found in result.values() for cell in found.values() if cell["score"] == 0)
    lines.append(f"({quiet} task x baseline pairs scored 0)")
    return "\n".join(lines)
