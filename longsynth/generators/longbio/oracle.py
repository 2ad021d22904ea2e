"""The longbio oracle: find every biography in the text with the style's own templates, read the
asked people's bios, and re-derive the answer from what they state.

Four validators, so a failure says which promise broke: each asked person has exactly one bio and
is named in the question; nothing in another bio contradicts an asked person's; the answer read from
the text is the row's answer; each solved demonstration's answer is what its own bios state (and is
not the question's). `DERIVE` holds one small function per task, used for both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from ...fitting import LABEL_FORMAT
from ...metadata_json import decode_metadata
from ...validators.base import Validator
from ...validators.plants import state_first_item_twice
from .bios import ParsedBio, bio_at, find_bios, load_style, package_templates, stated_ages
from .tasks import REFUSAL


class Reading:
    """The bios of one row's text, found once and parsed on demand."""

    def __init__(self, generator, row: dict[str, Any], metadata: dict[str, Any]):
        self.text = row["input"]
        self.style = generator.style(metadata["params"]["style"])
        self.headers = find_bios(self.text, self.style)
        self.positions: dict[str, list[int]] = {}
        for n, (_, _, name) in enumerate(self.headers):
            self.positions.setdefault(name, []).append(n)
        self._read: dict[str, ParsedBio] = {}

    def bio(self, name: str) -> ParsedBio | None:
        if name not in self._read and name in self.positions:
            self._read[name] = bio_at(self.text, self.headers, self.positions[name][0], self.style)
        return self._read.get(name)

    def value(self, name: str, attribute: str) -> str | None:
        bio = self.bio(name)
        return bio.values.get(attribute) if bio is not None else None

    def unique(self, names: list[str]) -> bool:
        return all(len(self.positions.get(name, [])) == 1 for name in names)


def _mentions(text: str, name: str) -> list[int]:
    """Offsets where `name` occurs as a whole name (not inside a longer name like "Mary Ann Lee")."""
    found, at = [], text.find(name)
    while at >= 0:
        before = text[max(0, at - 2) : at]
        after = text[at + len(name) : at + len(name) + 2]
        inside_longer = (before[-1:].isalpha()) or (len(before) == 2 and before[1] == " " and before[0].isalpha())
        inside_longer |= after[:1].isalpha() or (len(after) == 2 and after[0] == " " and after[1].isupper())
        if not inside_longer:
            found.append(at)
        at = text.find(name, at + 1)
    return found


def _named_in_question(task: str, asked: list[str]) -> list[str]:
    """Who the question names: the last of a multihop chain, nobody for twodiff, else everyone asked."""
    return asked[-1:] if task == "bio_multihop" else [] if task == "bio_twodiff" else asked


def one_bio_each(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """No person has two bios; each asked person has one and is named in the question."""
    reading = Reading(generator, row, metadata)
    problems = []
    duplicated = sorted(n for n, where in reading.positions.items() if len(where) > 1)
    if duplicated:
        problems.append(f"people with more than one bio: {', '.join(duplicated[:3])}")
    named = _named_in_question(row["task"], metadata["asked"])
    for name in metadata["asked"]:
        if name in named and name not in row["question"]:
            problems.append(f"{name} is asked about but not named in the question")
        if len(reading.positions.get(name, [])) != 1:
            problems.append(f"{name} has {len(reading.positions.get(name, []))} bios, expected 1")
    return problems


def no_contradiction(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """An asked person's bio states each attribute once, and no other bio mentions them (a mention
    could state a conflicting value) unless it links to them ("the same city as ...")."""
    reading = Reading(generator, row, metadata)
    asked = metadata["asked"]
    if not reading.headers or not reading.unique(asked):
        return []  # `one_bio_each` reports it
    problems = []
    text, headers = reading.text, reading.headers
    starts = [h[0] for h in headers]
    context_end = bio_at(text, headers, len(headers) - 1, reading.style, read=False).end
    for name in asked:
        own = reading.bio(name)
        if own.conflicts:
            problems.append(f"the bio of {name} states {', '.join(own.conflicts)} twice")
        for offset in _mentions(text, name):
            if own.start <= offset < own.end or offset < starts[0] or offset >= context_end:
                continue
            other = bio_at(text, headers, int(np.searchsorted(starts, offset, side="right")) - 1, reading.style)
            if name not in other.same_as.values():
                problems.append(f"{name} is mentioned in the bio of {other.name}, which may conflict")
    return problems


# --------------------------------------------------------------------------- answers, one function per task
# Each maps (reading, asked people, attribute, metadata, problems) to the answers read from the text,
# appending to `problems` what makes the row unanswerable.

Derive = Callable[[Reading, list[str], str, dict[str, Any], list[str]], list[str]]


def _values(reading, asked, attribute, metadata, problems) -> list[str]:
    return [reading.value(name, attribute) for name in asked]


def _refusal(reading, asked, attribute, metadata, problems) -> list[str]:
    bio = reading.bio(asked[0])
    if attribute in bio.values or attribute in bio.same_as:
        problems.append(f"the {attribute} of {asked[0]} is still stated")
    return [REFUSAL]


def _age_difference(reading, asked, attribute, metadata, problems) -> list[str]:
    a, b = (reading.value(n, "age") for n in asked)
    return [str(abs(int(a) - int(b)))] if a and b else []


def _youngest_first(reading, asked, attribute, metadata, problems) -> list[str]:
    ages = [reading.value(n, "age") for n in asked]
    if None in ages or len(set(ages)) != len(ages):
        problems.append(f"ranked people need distinct stated ages, found {ages}")
        return []
    return [n for _, n in sorted((int(a), n) for a, n in zip(ages, asked, strict=True))]


def _end_of_chain(reading, asked, attribute, metadata, problems) -> list[str]:
    current, seen = asked[-1], set()
    while reading.bio(current) is not None and attribute in reading.bio(current).same_as and current not in seen:
        seen.add(current)
        current = reading.bio(current).same_as[attribute]
    found = reading.value(current, attribute)
    return [found] if found else []


def _the_pair(reading, asked, attribute, metadata, problems) -> list[str]:
    difference = int(metadata["difference"])
    a, b = (reading.value(n, "age") for n in asked)
    if not (a and b and abs(int(a) - int(b)) == difference):
        problems.append(f"the named pair's ages {a}, {b} do not differ by {difference}")
    return [f"{asked[0]} and {asked[1]}"]


def _cited_values(reading, asked, attribute, metadata, problems) -> list[str]:
    labels = [int(m.group(1)) for m in reading.style.label_regex.finditer(reading.text)]
    if labels != list(range(1, len(reading.headers) + 1)):
        problems.append("biographies are not numbered 1..N in reading order")
    derived = []
    for name in asked:
        derived += [reading.value(name, attribute), LABEL_FORMAT.format(n=reading.bio(name).label)]
    return derived


DERIVE: dict[str, Derive] = {
    "bio_idk": _refusal,
    "bio_calculation": _age_difference,
    "bio_rank": _youngest_first,
    "bio_multihop": _end_of_chain,
    "bio_twodiff": _the_pair,
    "bio_citation": _cited_values,
}


def answers_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The row's answers are what the asked people's bios state (or, for idk, a refusal)."""
    reading = Reading(generator, row, metadata)
    asked = metadata["asked"]
    if not reading.unique(asked):
        return []  # `one_bio_each` reports it
    problems: list[str] = []
    derived = DERIVE.get(row["task"], _values)(reading, asked, metadata["attribute"], metadata, problems)
    # The ages map (twodiff scoring) is the row's, checked once here, not per derivation: reading every
    # bio's age costs about 60 ms at 128K.
    if "ages" in metadata and metadata["ages"] != stated_ages(reading.text, reading.style):
        problems.append("the recorded ages differ from those the biographies state")
    if derived != list(row["answers"]):
        problems.append(f"answers {list(row['answers'])} differ from those read in the text {derived}")
    return problems


def _as_answer(task: str, derived: list[str]) -> str:
    """A demonstration's answer as the prompt shows it: citation pairs each value with its number."""
    if task == "bio_citation":
        return ", ".join(f"{value} {label}" for value, label in zip(derived[::2], derived[1::2], strict=True))
    return ", ".join(derived)


def demonstrations_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Each solved demonstration is in the prompt, its answer is what its people's bios state, and it
    does not answer the row's own question."""
    demonstrations = metadata.get("demonstrations", [])
    if not demonstrations:
        return []
    reading, problems = Reading(generator, row, metadata), []
    derive = DERIVE.get(row["task"], _values)
    for n, demo in enumerate(demonstrations, 1):
        if not reading.unique(demo["people"]):
            problems.append(f"demonstration {n}: its people do not have one bio each")
            continue
        asked_at = row["input"].find(demo["question"])  # any prompt.j2 layout: the answer follows the question
        if asked_at < 0 or row["input"].find(demo["answer"], asked_at + len(demo["question"])) < 0:
            problems.append(f"demonstration {n} is not in the prompt as recorded")
        derived = derive(reading, demo["people"], metadata["attribute"], {**metadata, **demo}, problems)
        if _as_answer(row["task"], derived) != demo["answer"]:
            problems.append(f"demonstration {n} answers {demo['answer']!r}; its bios say {derived}")
        if derived == list(row["answers"]):
            problems.append(f"demonstration {n} has the question's own answer")
    return problems


_QUESTION = "\n\nQuestion: "


def whole_bios(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The haystack ends on a whole bio: the context (up to the first question, a demonstration's or the
    asked one) ends a sentence. A bio cut mid-sentence ("...was born on June 26,") once ended 88 of 90
    contexts at 4K, right before an asked bio at depth 100."""
    text = row["input"]
    end = text.find(_QUESTION)
    if end < 0:
        return ["no question follows the biographies"]
    tail = text[:end].rstrip()
    return [] if tail.endswith((".", "!", "?")) else [f"the biographies end mid-sentence: ...{tail[-40:]!r}"]


# --------------------------------------------------------------------------- planted defects (contract tests)


def _cut_last_bio(row: dict[str, Any]) -> dict[str, Any]:
    """The context's last sentence loses its end, as a haystack cut mid-sentence does."""
    text = row["input"]
    end = text.find(_QUESTION)
    cut = text[:end].rstrip()
    cut = cut[: cut.rfind(" ")] + ","
    return {**row, "input": cut + text[end:]}


def _mention_in_a_distractor(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    style = load_style(metadata["params"]["style"], package_templates())
    asked = set(metadata["asked"])
    text = row["input"]
    _, body, _ = next(h for h in find_bios(text, style) if h[2] not in asked)
    mention = f" {metadata['asked'][0]} was born in Oslo."
    return {**row, "input": text[:body] + mention + text[body:]}


def _wrong_answer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "answers": ["Narnia", *row["answers"][1:]]}


def _wrong_demonstration(row: dict[str, Any]) -> dict[str, Any]:
    """The first demonstration answers wrongly, in the prompt and in the metadata alike."""
    metadata = decode_metadata(row["metadata"])
    demo = metadata["demonstrations"][0]
    wrong = "Narnia [1]" if row["task"] == "bio_citation" else "Narnia"
    text = row["input"].replace(f"Answer: {demo['answer']}\n", f"Answer: {wrong}\n", 1)
    demo["answer"] = wrong
    return {**row, "input": text, "metadata": json.dumps(metadata)}


VALIDATORS = (
    Validator("whole bios", whole_bios, _cut_last_bio),
    Validator("one bio per person", one_bio_each, state_first_item_twice("bios")),
    Validator("no contradicting mention", no_contradiction, _mention_in_a_distractor),
    Validator("answers from the text", answers_from_text, _wrong_answer),
    Validator(
        "demonstrations from the text",
        demonstrations_from_text,
        _wrong_demonstration,
        tasks=("bio_calculation", "bio_rank", "bio_multihop", "bio_twodiff", "bio_citation"),
    ),
)
