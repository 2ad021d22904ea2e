"""NeedleBench's metrics.

Retrieval: the share of needles' answers in the reply (as NeedleBench scores multi-needle
retrieval). Reasoning and ATC: NeedleBench v2 takes the answer in `\\boxed{}` and compares it with the
gold name; we take the last `\\boxed{...}` of the reply or, when there is none, its last non-empty
line, and score 1 when that holds the gold name and no other name of the sample (so a line listing
every person does not score). `scoring.score` reads replies within the row's reserve, and an echo of
the input scores 0, before these compare.
"""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata
from ...scoring import fraction, whole_token


def _names(text: str, name: str) -> bool:
    """Whether the text names the person: a whole name in English; in Chinese, which has no spaces,
    anywhere (no name of a sample is inside another, see `text.vocabulary_zh.people`)."""
    return re.search(whole_token(name.lower()), text.lower()) is not None


def share_of_needles(row: dict[str, Any], prediction: str) -> float:
    return fraction(prediction, list(row["answers"]))


def final_answer(row: dict[str, Any], answer: str) -> float:
    """The final answer (the task declares `answer="boxed"`: `scoring.score` takes it out) names the
    gold person and no other person of the sample."""
    gold = row["answers"][0]
    others = [n for n in decode_metadata(row["metadata"]).get("names", []) if n != gold]
    return float(_names(answer, gold) and not any(_names(answer, other) for other in others))


def last_boxed(reply: str) -> str | None:
    """The content of the reply's last `\\boxed{...}`, braces inside it balanced; None if there is none."""
    start = reply.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for n in range(begin - 1, len(reply)):
        depth += {"{": 1, "}": -1}.get(reply[n], 0)
        if depth == 0:
            return reply[begin:n]
    return None


def _cleaned(answer: str) -> str:
    """NeedleBench v2's clean-up of a boxed name: LaTeX wrappers, backslashes, quotes and tildes out, spaces
    collapsed."""
    answer = re.sub(r"\\(?:text|boxed)\{([^}]+)\}", r"\1", answer)
    answer = re.sub(r"\\[\[\]]", "", answer).replace("\\", "")
    answer = " ".join(answer.split()).replace('"', "").replace("'", "")
    return answer.replace("~", " ")


def needlebench_atc(row: dict[str, Any], prediction: str) -> float:
    """NeedleBench v2's ATC evaluator on the raw reply: the last boxed answer, cleaned, equals the gold
    name exactly (no box: no answer)."""
    boxed = last_boxed(prediction)
    return float(boxed is not None and _cleaned(boxed).strip() == row["answers"][0].strip())


def needlebench_parallel(row: dict[str, Any], prediction: str) -> float:
    """NeedleBench v2's multi-needle retrieval evaluator on the raw reply: the share of the asked
    needles' answers the reply contains, case kept."""
    answers = list(row["answers"])
    return sum(1.0 for answer in answers if answer in prediction) / len(answers)
