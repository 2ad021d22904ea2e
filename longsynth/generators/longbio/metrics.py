"""LongBioBench's metrics: answers matched after normalisation, refusals, citations, and any valid
age pair.

Answers are compared as LongBioBench's evaluator and SQuAD-style scorers do: case, punctuation and
articles do not count, so "University of Oslo", "the university of Oslo." and "University of Oslo
[27]" all state the gold "University of Oslo".
"""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata
from ...scoring import all_in_order, last_integer
from .bios import DATE_SHAPE
from .people import value_pools

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_REFUSAL = re.compile(
    r"\b(not (?:explicitly )?(?:provided|mentioned|stated|given|specified|available|included|known|in the)"
    r"|no (?:information|mention|record)|does(?:n't| not) (?:say|mention|state|provide|include)"
    r"|do(?:n't| not) (?:know|say|mention|provide|state)|unknown|cannot (?:be )?(?:determined|answer|tell|find)"
    r"|can't (?:determine|answer|tell|find)|unable to (?:determine|answer|find))\b",
    re.IGNORECASE,
)


def normalized(text: str) -> str:
    """Lower case, punctuation as spaces, no articles, single spaces."""
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def values_in_order(prediction: str, values: list[str]) -> float:
    """Every value appears in the prediction, in order, after normalisation."""
    return all_in_order(normalized(prediction), [normalized(v) for v in values])


def is_refusal(prediction: str) -> float:
    """The output declines to answer because the information is missing (idk task)."""
    return float(bool(_REFUSAL.search(prediction)))


def citation_parts(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(answer score, citation score): answers hold value, "[k]" pairs."""
    values, labels = answers[0::2], answers[1::2]
    return values_in_order(prediction, values), float(all(label in prediction for label in labels))


def citation(prediction: str, answers: list[str]) -> float:
    """Right only when both the answer and its citation are right."""
    answer, cited = citation_parts(prediction, answers)
    return answer * cited


def two_diff(prediction: str, ages: dict[str, int], difference: int) -> float:
    """Any two people named in the output whose ages (as the context states them) differ by `difference`."""
    named = sorted((prediction.find(name), name) for name in ages if name in prediction)
    # A name inside a longer named name ("Ann Lee" in "Mary Ann Lee") is not a separate mention.
    names = [n for _, n in named if not any(n != m and n in m for _, m in named)]
    if len(names) < 2:
        return 0.0
    first, second = names[:2]
    return float(abs(int(ages[first]) - int(ages[second])) == int(difference))


# Task metrics: (row, prediction) -> score.


def answers_metric(row: dict[str, Any], prediction: str) -> float:
    return values_in_order(prediction, list(row["answers"]))


def integer_metric(row: dict[str, Any], prediction: str) -> float:
    return last_integer(prediction, row["answers"][0])


def refusal_metric(row: dict[str, Any], prediction: str) -> float:
    return is_refusal(prediction)


def rank_metric(row: dict[str, Any], prediction: str) -> float:
    """The exact order: the last n mentions of the ranked people in the reply (its final answer, after
    any reasoning) are the n people youngest first. "A, B, A" ends on "B, A" and scores 0; so does a
    hedge listing both orders; "A (23) is younger than B (40)" and reasoning that ends "so: A, B" score 1."""
    gold = list(row["answers"])
    text = prediction.lower()
    spans = [(m.start(), m.end(), name) for name in gold for m in re.finditer(re.escape(name.lower()), text)]
    # A name inside a longer ranked name ("Ann Lee" in "Mary Ann Lee") is not a mention of its own.
    mentions = [
        (start, name)
        for start, end, name in spans
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
    ]
    said = [name for _, name in sorted(mentions)]
    return float(said[-len(gold) :] == gold)


def citation_metric(row: dict[str, Any], prediction: str) -> float:
    return citation(prediction, list(row["answers"]))


def two_diff_metric(row: dict[str, Any], prediction: str) -> float:
    """Scored with the ages the row's own text states (recorded at build time and checked by the
    oracle), so a row built with other templates is scored as it reads."""
    metadata = decode_metadata(row["metadata"])
    return two_diff(prediction, metadata["ages"], metadata["difference"])


# Tasks whose answer is the asked attribute's value (or a refusal of it): a reply naming another value
# of that attribute from the context is hedging, and the scoring policy scores it so.
VALUE_TASKS = frozenset(
    {"bio_standard", "bio_paraphrase", "bio_pronoun", "bio_multihop", "bio_multi_standard", "bio_idk"}
)


def attribute_values(row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The values of the asked attribute that the row's bios state (dates by their shape, other values
    from the attribute's pool), read from the input: what listing every candidate would name."""
    attribute = metadata.get("attribute")
    if not attribute:
        return []
    text = row["input"]
    if attribute == "birthdate":
        return list(dict.fromkeys(DATE_SHAPE.findall(text)))
    return [value for value in value_pools().get(attribute, []) if value in text]


# LongBioBench's own evaluator, for `anchor_score` (on the raw reply, none of our policy): a text answer
# is a hit when it is contained (case folded); a number when it is the reply's last integer; a list when
# each item is found in order; citation's answer and citation are two accuracies (the answer's is ours
# here); idk reports its own hit (the reference also ANDs it with the twin standard row's hit, which a
# single row cannot see); twodiff needs exactly two people named, whose ages differ by the asked number.


def longbio_hit(row: dict[str, Any], prediction: str) -> float:
    """LongBioBench's `cal_hit` on the row's answers."""
    answers = list(row["answers"])
    if row["task"] in ("bio_calculation",):
        return last_integer(prediction, answers[0])
    if len(answers) == 1:
        return float(answers[0].strip().lower() in prediction.lower())
    return all_in_order(prediction, answers)


def longbio_answer_hit(row: dict[str, Any], prediction: str) -> float:
    """LongBioBench's answer accuracy of a citation row (its citation accuracy is kept apart there)."""
    values = list(row["answers"])[0::2]
    return (
        float(values[0].strip().lower() in prediction.lower()) if len(values) == 1 else all_in_order(prediction, values)
    )


def longbio_citation_hit(row: dict[str, Any], prediction: str) -> float:
    """LongBioBench's citation accuracy of a citation row: every cited bio number is in the reply."""
    return float(all(label in prediction for label in list(row["answers"])[1::2]))


def longbio_two_diff(row: dict[str, Any], prediction: str) -> float:
    """LongBioBench's twodiff: exactly two people of the context named, their ages differing as asked."""
    metadata = decode_metadata(row["metadata"])
    named = [name for name in metadata["ages"] if name in prediction]
    if len(named) != 2:
        return 0.0
    return float(abs(int(metadata["ages"][named[0]]) - int(metadata["ages"][named[1]])) == int(metadata["difference"]))
