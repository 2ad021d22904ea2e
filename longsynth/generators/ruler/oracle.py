"""The ruler family's oracle: each task's answer re-derived from the input alone.

- NIAH tasks: the needle family's validators, run on the needle generator inside this family.
- `vt`: every assignment is read back with the statement template, and the chains are followed
  from the asked value.
- `cwe`, `fwe`: the list is the input's longest line; its words are counted.
- `qa_1`, `qa_2`: the documents are read back by their labels; each gold paragraph is a whole
  document, stated exactly once, and holds an answer.
"""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata
from ...validators.base import Validator
from ..needle.generator import TASKS as NEEDLE_TASKS
from ..needle.oracle import VALIDATORS as NEEDLE_VALIDATORS
from . import common_words, frequent_words, qa, variable_tracking
from .words import word_counts

NIAH = tuple(NEEDLE_TASKS)  # the needle family's tasks, which this family builds with it


def list_line(text: str) -> str:
    """The longest line of an input: cwe's numbered list, fwe's coded words."""
    return max(text.split("\n"), key=len)


def chains_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The variables holding the asked value, found by following the assignments in reading order."""
    text, value = row["input"], metadata["value"]
    problems = []
    if row["question"] not in text or value not in row["question"]:
        problems.append("the question, naming the asked value, is not in the input")
    found = [(m.group("name"), m.group("value")) for m in variable_tracking.statement_pattern(generator).finditer(text)]
    if sum(source == value for _, source in found) != 1:
        problems.append(f"the value {value} is assigned {sum(s == value for _, s in found)} times, expected once")
    names = [n for n, _ in found]
    for name in row["answers"]:
        if names.count(name) != 1:
            problems.append(f"variable {name} is assigned {names.count(name)} times, expected once")
    derived = variable_tracking.follow_chains(found, value)
    if derived != list(row["answers"]):
        problems.append(f"answers {list(row['answers'])} differ from the chain read in the text {derived}")
    return problems


def common_words_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The `num_cw` words repeated most in the numbered list, none tied with the next."""
    words = common_words.read_list(list_line(row["input"]))
    if words is None:
        return ["the input's longest line is not a list numbered 1, 2, 3, ... in order"]
    derived, _ = common_words.most_common(words, metadata["params"]["num_cw"])
    if derived is None:
        return ["the last common word is tied with the next most frequent word"]
    if derived != list(row["answers"]):
        return [f"answers {list(row['answers'])} differ from the most common words in the list {derived}"]
    return []


def frequent_words_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The three most frequent coded words of the text, third place untied."""
    derived, _ = frequent_words.most_frequent(word_counts(list_line(row["input"])))
    if derived is None:
        return ["the third most frequent word is tied with the fourth"]
    if derived != list(row["answers"]):
        return [f"answers {list(row['answers'])} differ from the most frequent words of the text {derived}"]
    return []


def gold_documents(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Documents numbered 1, 2, 3, ...; each gold paragraph a whole document, stated once, and an
    answer in one of them; the question after the documents."""
    text = row["input"]
    problems = []
    documents = qa.read_documents(text)
    if [n for n, _, _ in documents] != list(range(1, len(documents) + 1)):
        problems.append("the documents are not numbered 1, 2, 3, ... in order")
    starts = {start: number for number, start, _ in documents}
    golds, gold_starts = [], set()
    for item in metadata["gold"]:
        label = qa.DOCUMENT.match(text, item["char_offset"])
        if label is None or label.end() not in starts:
            problems.append(f"no document starts at the recorded offset {item['char_offset']}")
            continue
        paragraph = text[label.end() : item["char_end"]]
        gold_starts.add(label.end())
        following = text[item["char_end"] :]
        if not (following.startswith(qa.SEPARATOR) or following.startswith("\n")):
            problems.append(f"gold document {starts[label.end()]} does not end where it is recorded to")
        count = text.count(paragraph)
        if count != 1:
            problems.append(f"gold document {starts[label.end()]} is stated {count} times, expected once")
        golds.append(paragraph)
    if golds and not any(answer in g for answer in row["answers"] for g in golds):
        problems.append("no answer occurs in the gold documents")
    subject = metadata.get("subject")  # the built-in set's town asked about: stated only in its gold
    if subject:
        stop = text.rfind(row["question"])  # the last document runs on to the question, which names it
        elsewhere = [
            n for n, start, end in documents if start not in gold_starts and subject in text[start : min(end, stop)]
        ]
        if elsewhere:
            problems.append(f"{subject}, asked about, is also named in distractor document(s) {elsewhere[:3]}")
    last_document = documents[-1][1] if documents else 0
    if text.rfind(row["question"]) < last_document:
        problems.append("the question does not follow the documents")
    return problems


def _rename_second_variable(row: dict[str, Any]) -> dict[str, Any]:
    name = row["answers"][1]
    return {**row, "input": row["input"].replace(f"VAR {name} =", "VAR QQQQQ =", 1)}


def _drop_first_answer(row: dict[str, Any]) -> dict[str, Any]:
    word = re.escape(row["answers"][0])
    return {**row, "input": re.sub(rf"(\d+\. ){word}(?= |\n|$)", r"\1zzzzqq", row["input"])}


def _silence_first_answer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "input": re.sub(rf"\b{re.escape(row['answers'][0])}\b", "...", row["input"])}


def _repeat_gold(row: dict[str, Any]) -> dict[str, Any]:
    item = decode_metadata(row["metadata"])["gold"][0]
    paragraph = row["input"][item["char_offset"] : item["char_end"]]
    cut = row["input"].rindex(row["question"])
    return {**row, "input": row["input"][:cut] + paragraph + "\n" + row["input"][cut:]}


def _for(tasks: tuple[str, ...], name: str, check, plant) -> Validator:
    """A validator that checks the rows of `tasks` and passes the others (each task here has its
    own kind of text)."""

    def scoped(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
        return check(generator, row, metadata) if row["task"] in tasks else []

    return Validator(name, scoped, plant, tasks=tasks)


VALIDATORS = (
    # The needle family's validators, run with the needle generator this family builds NIAH rows with.
    *(_for(NIAH, v.name, lambda g, row, meta, v=v: v.check(g.needle, row, meta), v.plant) for v in NEEDLE_VALIDATORS),
    _for(("vt",), "variable chains from the text", chains_from_text, _rename_second_variable),
    _for(("cwe",), "common words from the text", common_words_from_text, _drop_first_answer),
    _for(("fwe",), "frequent words from the text", frequent_words_from_text, _silence_first_answer),
    _for(("qa_1", "qa_2"), "gold documents in place", gold_documents, _repeat_gold),
)
