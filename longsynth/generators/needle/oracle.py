"""The needle oracle: read every needle back out of the text with the needle template itself, and
re-derive the answers from what was read.

The template is rendered with sentinel key and value, then turned into a regex (`pattern_from`), so a
user's own needle template is parsed as exactly as ours.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ...metadata_json import decode_metadata, encode_metadata
from ...templating import Templates, pattern_from
from ...text.patterns import bounded
from ...validators.base import Validator
from ..base import localized
from .options import KIND, PATTERNS, patterns

KEY, VALUE = "\x00KEY\x00", "\x00VALUE\x00"


@functools.lru_cache(maxsize=64)
def needle_pattern(templates: Templates, key_type: str, value_type: str, language: str = "en") -> re.Pattern[str]:
    rendered = templates.render(localized("needle.j2", language), kind=KIND[value_type][0], key=KEY, value=VALUE)
    shapes = patterns(language)
    return pattern_from(rendered, {KEY: ("key", shapes[key_type]), VALUE: ("value", shapes[value_type])})


def _pattern_of(generator, metadata: dict[str, Any]) -> re.Pattern[str]:
    params = metadata["params"]
    return needle_pattern(generator.templates, params["key_type"], params["value_type"], params.get("language", "en"))


def read_needles(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, value) of every needle stated in the input, in reading order."""
    return _needles_in(_pattern_of(generator, metadata), row["input"])


@functools.lru_cache(maxsize=4)
def _needles_in(pattern: re.Pattern[str], text: str) -> list[tuple[str, str]]:
    """Cached: a row's two validators read the same text (thousands of needles in a haystack of them).
    `findall` hands back the two groups without a match object per needle (0.44 against 0.75 ms for a
    32K haystack of 1,800 needles)."""
    key, value = pattern.groupindex["key"], pattern.groupindex["value"]
    if pattern.groups == 2:
        pairs = pattern.findall(text)
        return pairs if (key, value) == (1, 2) else [(k, v) for v, k in pairs]
    return [m.group(key, value) for m in pattern.finditer(text)]


def needles_in_place(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every recorded needle is stated at its recorded offset (the needle template read there gives
    its key and value), and no value is stated twice."""
    found = read_needles(generator, row, metadata)
    pattern = _pattern_of(generator, metadata)
    text = row["input"]
    problems = []
    values = [v for _, v in found]
    if len(set(values)) != len(values):
        problems.append("a value is stated by more than one needle")
    for needle in metadata.get("needles", []):
        offset = needle["char_offset"]
        valid = isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset  # match() takes -1 as 0
        stated = pattern.match(text, offset) if valid else None
        if stated is None or stated.group("key", "value") != (needle["key"], needle["value"]):
            problems.append(
                f"needle {needle['key']}={needle['value']} is not at its recorded offset {needle['char_offset']}"
            )
    return problems


def answers_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The answers are the values the text states for the queried keys, each stated once; the
    question names those keys and the answer prefix does not appear in the context."""
    params = metadata["params"]
    text, question = row["input"], row["question"]
    found = read_needles(generator, row, metadata)
    problems: list[str] = []
    derived: list[str] = []
    if question not in text:
        problems.append("the question is not in the input")
    for key in metadata["queries"]:
        if key not in question:
            problems.append(f"queried key {key} does not appear in the question")
        key_values = [v for k, v in found if k == key]
        if len(key_values) != params["num_values"]:
            problems.append(f"key {key} has {len(key_values)} needles in the text, expected {params['num_values']}")
        derived.extend(key_values)
    if derived != list(row["answers"]):
        problems.append(f"answers {list(row['answers'])} differ from those read in the text {derived}")
    for value in row["answers"]:
        occurrences = text.count(value)  # substrings count too: "12345678" would hide "1234567"
        if occurrences != 1:
            problems.append(f"answer {value} occurs {occurrences} times in the input, expected once")
    prefix = row["answer_prefix"].strip()
    if prefix and prefix in text:
        problems.append("the answer prefix appears in the input")
    return problems


def _move_first_needle(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    metadata["needles"][0]["char_offset"] += 1
    return {**row, "metadata": encode_metadata(metadata)}


def _repeat_first_answer(row: dict[str, Any]) -> dict[str, Any]:
    text = row["input"]
    cut = text.index(row["question"])
    return {**row, "input": text[:cut] + row["answers"][0] + " " + text[cut:]}


VALIDATORS = (
    Validator("needles in place", needles_in_place, _move_first_needle),
    Validator("answers from the text", answers_from_text, _repeat_first_answer),
)


def needle_values(row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every needle value the row placed, for the scoring policy's over-generation check: the needles
    its metadata records, and for number and UUID values every string of their shape in the input (a
    haystack of distractor needles records only the asked ones; the prose and noise haystacks hold no
    digits, so only needles match there)."""
    values = [str(n["value"]) for n in metadata.get("needles", []) if isinstance(n, dict) and "value" in n]
    value_type = metadata.get("params", {}).get("value_type")
    if value_type in ("numbers", "uuids"):
        # ASCII boundaries: in Chinese text a number follows a character ("是7654321"), not a space.
        values += re.findall(bounded(PATTERNS[value_type], "[0-9A-Za-z_-]"), row["input"])
    return list(dict.fromkeys(values))
