"""The needlebench oracle: every needle read back from the input with its own template, and the
answer re-derived from what was read.

- retrieval: each asked person has exactly one needle, whose item is that person's answer;
- reasoning: from the person, each link onward is stated once; following them reaches the answer
  (other chains' links are distractors);
- ATC: every person has at most one elder and nothing loops; walking up from the person the question
  names reaches the answer, through a line as long as asked (other lines are distractors).
"""

from __future__ import annotations

from typing import Any

from ...metadata_json import decode_metadata, encode_metadata
from ...validators.base import Validator
from . import ancestry, reasoning, retrieval
from .names import base_task


def _question_problems(row: dict[str, Any], person: str) -> list[str]:
    if row["question"] not in row["input"]:
        return ["the question is not in the input"]
    if person not in row["question"]:
        return [f"the question does not name {person}"]
    return []


def needles_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Re-derive the row's answers from the needles the input states."""
    return CHECKS[base_task(row["task"])](generator, row, metadata)


def _retrieval(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    pattern = retrieval.needle_pattern(generator, _language(metadata))
    found = [(m.group("person"), m.group("item")) for m in pattern.finditer(row["input"])]
    problems = []
    derived = []
    for person in metadata["people"]:
        problems += _question_problems(row, person)
        stated = [item for who, item in found if who == person]
        if len(stated) != 1:
            problems.append(f"{person} has {len(stated)} needles in the text, expected 1")
        derived += stated[:1]
    if derived != list(row["answers"]):
        problems.append(f"answers {list(row['answers'])} differ from the items read in the text {derived}")
    return problems


def _reasoning(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    text, current = row["input"], metadata["person"]
    problems = _question_problems(row, current)
    for hop in range(1, metadata["params"]["num_needles"] + 1):
        pattern = reasoning.link_pattern(generator, hop, _language(metadata))
        links = [(m.group("a"), m.group("b")) for m in pattern.finditer(text)]
        onward = [b for a, b in links if a == current]
        expected = 1 + metadata["params"].get("distractors", 0)
        if len(links) != expected or len(onward) != 1:
            stated = f"{len(onward)} times ({len(links)} such links, {expected} expected)"
            return problems + [f"link {hop} from {current} is stated {stated}"]
        current = onward[0]
    if [current] != list(row["answers"]):
        problems.append(f"answer {list(row['answers'])} differs from the end of the chain read in the text {current}")
    return problems


def _ancestry(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    text, person = row["input"], metadata["person"]
    problems = _question_problems(row, person)
    edges = ancestry.read_statements(generator, text, _language(metadata))
    expected = metadata["params"]["num_needles"]
    statements = expected * (1 + metadata["params"].get("distractors", 0))
    if len(edges) != statements:
        problems.append(f"{len(edges)} kinship statements read in the text, expected {statements}")
    elder: dict[str, str] = {}
    for younger, older in edges:
        if younger in elder:
            problems.append(f"{younger} has two elders in the text")
        elder[younger] = older
    current, seen = person, {person}
    while current in elder:
        current = elder[current]
        if current in seen:
            return problems + ["the kinship statements loop"]
        seen.add(current)
    if len(seen) != expected + 1:
        problems.append(f"the chain from {person} links {len(seen)} people, expected {expected + 1}")
    if [current] != list(row["answers"]):
        problems.append(f"answer {list(row['answers'])} differs from the eldest ancestor read in the text {current}")
    return problems


CHECKS = {"multi_retrieval": _retrieval, "multi_reasoning": _reasoning, "ancestral_trace": _ancestry}


def _break_first_needle(row: dict[str, Any]) -> dict[str, Any]:
    """Cut the first recorded needle out of the input (its offsets stay: the check must not need them)."""
    needle = decode_metadata(row["metadata"])["needles"][0]
    text = row["input"]
    return {**row, "input": text[: needle["char_offset"]] + text[needle["char_end"] :]}


def _move_first_needle(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    metadata["needles"][0]["char_offset"] += 1
    return {**row, "metadata": encode_metadata(metadata)}


def _stated_as_recorded(
    generator, task: str, needle: dict[str, Any], stated: str, language: str, names: list[str]
) -> bool:
    """Whether `stated` is exactly one needle of the task, saying what the record says."""
    if task == "multi_retrieval":
        m = retrieval.needle_pattern(generator, language).fullmatch(stated)
        return m is not None and (m.group("person"), m.group("item")) == (needle["person"], needle["item"])
    if task == "multi_reasoning":  # both ends are names the row records (a Chinese name cut short is not)
        m = reasoning.link_pattern(generator, needle["hop"], language).fullmatch(stated)
        return m is not None and {m.group("a"), m.group("b")} <= set(names)
    for pattern in ancestry.statement_patterns(generator, language):
        m = pattern.fullmatch(stated)
        if m is not None and m.group("elder", "younger") == (needle["elder"], needle["younger"]):
            return True
    return False


def _language(metadata: dict[str, Any]) -> str:
    return metadata.get("params", {}).get("language", "en")


def needles_in_place(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every recorded needle is in the input at its recorded offsets, whole, stating what it records."""
    text, task, language = row["input"], base_task(row["task"]), _language(metadata)
    recorded = metadata.get("names", [])
    problems = []
    for n, needle in enumerate(metadata["needles"]):
        stated = text[needle["char_offset"] : needle["char_end"]]
        if not _stated_as_recorded(generator, task, needle, stated, language, recorded):
            problems.append(f"needle {n} is not at its recorded offsets {needle['char_offset']}..{needle['char_end']}")
    return problems  # a needle stated twice: the answers check counts every needle it reads


VALIDATORS = (
    Validator("needles in place", needles_in_place, _move_first_needle),
    Validator("answers from the needles", needles_from_text, _break_first_needle),
)
