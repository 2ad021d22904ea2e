"""The Ancestral Trace Challenge (NeedleBench's ATC): kinship statements that form one chain, in
shuffled order; the question asks for the eldest ancestor of the last person in the chain.

As in NeedleBench: `num_needles` statements link `num_needles + 1` people (names from Faker), each
statement in one of several wordings and with a relation term (father, mother, grandfather,
grandmother) that says who is the elder. With `haystack=none` (the default, as NeedleBench v2) the
statements are the whole context, and a row's target length is only an upper bound (its
`metadata.fills_target` is false). With a haystack they sit at seeded depths in it.

NeedleBench has one chain, so its eldest person answers whoever is asked. Ours adds `distractors`
other family lines (2 by default), each as long as the asked one and shuffled in among it: the
eldest ancestor depends on who is asked, and finding it means walking up from that person.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import SpecError
from ...fitting import Insert
from ...templating import Templates, pattern_from
from ...text.language import LANGUAGES
from ...text.units import count_units
from ..base import Cell, Sample, localized
from .names import PERSON, PERSON_BACKWARDS, PERSON_ZH, language_param, people_in
from .options import RELATIONS, RELATIONS_ZH

if TYPE_CHECKING:
    from .generator import NeedleBenchGenerator

FORMS = 4  # wordings in kinship.j2
ELDER, YOUNGER, RELATION = "\x00ELDER\x00", "\x00YOUNGER\x00", "\x00RELATION\x00"


RELATION_WORDS = {"en": RELATIONS, "zh": RELATIONS_ZH}
# How a wording says "<younger>'s <relation>" in each language (the oracle's mark, see below).
POSSESSIVE = {"en": "'s ", "zh": "的"}
PEOPLE_PATTERN = {"en": PERSON, "zh": PERSON_ZH}
# Names read backwards, where that reading is unique (a Chinese name has no boundary of its own: its
# statements are found by scanning around each mark instead).
PEOPLE_BACKWARDS = {"en": PERSON_BACKWARDS}


@functools.lru_cache(maxsize=16)
def _rendered_forms(templates: Templates, language: str = "en") -> tuple[str, ...]:
    return tuple(
        templates.render(localized("kinship.j2", language), form=form, elder=ELDER, younger=YOUNGER, relation=RELATION)
        for form in range(FORMS)
    )


def statement_patterns(generator: NeedleBenchGenerator, language: str = "en") -> tuple[re.Pattern[str], ...]:
    return _statement_patterns(generator.templates, language)


@functools.lru_cache(maxsize=16)
def _statement_patterns(templates: Templates, language: str) -> tuple[re.Pattern[str], ...]:
    relation = "|".join(re.escape(r) for r in sorted(RELATION_WORDS[language], key=len, reverse=True))
    person = PEOPLE_PATTERN[language]
    groups = {ELDER: ("elder", person), YOUNGER: ("younger", person), RELATION: ("relation", relation)}
    return tuple(pattern_from(rendered, groups) for rendered in _rendered_forms(templates, language))


# Every wording says "<younger>'s <relation>" ("<younger>的<relation>"): the oracle finds those first
# (one fast scan), then reads the statement around each with the wordings' patterns, instead of
# running every pattern over a whole 128K haystack.
_MARK = {
    language: re.compile(POSSESSIVE[language] + "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")")
    for language, words in RELATION_WORDS.items()
}
_REACH = 200  # characters a statement can extend on either side of its mark
_EXAMPLE = {"en": ("Ann Lee", "Bo Hart", "father"), "zh": ("王伟", "李娜", "父亲")}


def check_wordings(generator: NeedleBenchGenerator, language: str = "en") -> None:
    """Every wording of kinship.j2 names the younger person's relation ("Ann Lee's father", "李娜的父亲"):
    the oracle finds statements by it; and it prints the names and the relation as they are (each
    wording is rendered once and filled per statement)."""
    elder, younger, relation = _EXAMPLE[language]
    mark = f"{younger}{POSSESSIVE[language]}{relation}"
    for form in range(FORMS):
        rendered = generator.templates.render(
            localized("kinship.j2", language), form=form, elder=elder, younger=younger, relation=relation
        )
        if mark not in rendered or elder not in rendered:
            raise SpecError(
                f"kinship.j2 form {form} must name both people and say {{{{ younger }}}}"
                f"{POSSESSIVE[language]}{{{{ relation }}}}"
            )
    generator.templates.require_plain(
        localized("kinship.j2", language),
        ("elder", "younger", "relation"),
        "each wording is rendered once and filled per statement, and the validator reads statements back by it",
    )


@dataclass(frozen=True)
class _Reading:
    """How the oracle reads one wording's statements at a "<younger>'s <relation>" mark.

    `after`: the literal text the wording has right after its mark (up to the next placeholder;
    empty when it ends there): a mark followed by anything else is not one of its statements (this
    skips 2 of the 4 wordings per mark). `head`: the wording's text up to the end of the younger's
    name, reversed, with names as `PEOPLE_BACKWARDS`: matched on the text before a mark read
    backwards, it says where a statement would start, so the wording's pattern is tried once, there,
    instead of over the window around the mark (0.46 against 1.0 ms a 64-statement 32K sample); None
    where names cannot be read backwards uniquely (Chinese)."""

    pattern: re.Pattern[str]
    after: str
    head: re.Pattern[str] | None


@functools.lru_cache(maxsize=16)
def _readings(templates: Templates, language: str) -> tuple[_Reading, ...]:
    mark = YOUNGER + POSSESSIVE[language] + RELATION
    backwards = PEOPLE_BACKWARDS.get(language)
    relations = "|".join(re.escape(r[::-1]) for r in sorted(RELATION_WORDS[language], key=len, reverse=True))
    reversed_slot = {ELDER: backwards, YOUNGER: backwards, RELATION: f"(?:{relations})"}
    readings = []
    patterns = _statement_patterns(templates, language)
    for pattern, rendered in zip(patterns, _rendered_forms(templates, language), strict=True):
        at = rendered.find(mark)  # every wording has its mark (`check_wordings`)
        after = rendered[at + len(mark) :].split("\x00", 1)[0]
        head = None
        if backwards is not None:
            pieces = re.split(
                f"({re.escape(ELDER)}|{re.escape(YOUNGER)}|{re.escape(RELATION)})", rendered[: at + len(YOUNGER)]
            )
            head = re.compile("".join(reversed_slot.get(p) or re.escape(p[::-1]) for p in reversed(pieces)))
        readings.append(_Reading(pattern, after, head))
    return tuple(readings)


def read_statements(generator: NeedleBenchGenerator, text: str, language: str = "en") -> list[tuple[str, str]]:
    """(younger, elder) of every kinship statement in the text, in reading order: each statement is
    one of the wordings' patterns matched around a "<younger>'s <relation>" mark (see `_Reading`), no
    further than `_REACH` characters from it."""
    readings = _readings(generator.templates, language)
    reads_back = any(reading.head is not None for reading in readings)
    found: dict[tuple[int, int], tuple[str, str]] = {}
    for mark in _MARK[language].finditer(text):
        at, follows = mark.span()
        start, end = max(0, at - _REACH), min(len(text), follows + _REACH)
        before = text[start:at][::-1] if reads_back else ""
        for reading in readings:
            if reading.after and not text.startswith(reading.after, follows):
                continue
            if reading.head is None:
                matches = reading.pattern.finditer(text, start, end)
            else:
                head = reading.head.match(before)
                matches = () if head is None else [reading.pattern.match(text, at - head.end(), end)]
            for match in matches:
                if match is not None and match.start() <= at < match.end():
                    found[match.span()] = (match.group("younger"), match.group("elder"))
    return [found[span] for span in sorted(found)]


DEFAULT_DISTRACTORS = 2


def sample(generator: NeedleBenchGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    n = options.num_needles
    lines = 1 + (DEFAULT_DISTRACTORS if options.distractors < 0 else options.distractors)
    taken: set[str] = set()
    # Line 0 is asked: names[0] is its eldest, names[n] its last. Line j holds names[j*(n+1) : (j+1)*(n+1)].
    language = options.language
    names = [name for _ in range(lines) for name in people_in(language, rng, n + 1, taken)]
    forms = _rendered_forms(generator.templates, language)  # rendered once; filled in per statement
    relations = RELATION_WORDS[language]
    pairs = [(j * (n + 1) + k, j * (n + 1) + k + 1) for j in range(lines) for k in range(n)]
    texts = [
        forms[rng.randrange(FORMS)]
        .replace(RELATION, rng.choice(relations))
        .replace(ELDER, names[e])
        .replace(YOUNGER, names[y])
        for e, y in pairs
    ]
    order = list(range(len(pairs)))
    rng.shuffle(order)
    if options.haystack == "none":
        # The statements are the context, in shuffled order: each one's depth is its share of the
        # tokens before it, known from its own count.
        joining = LANGUAGES[language]
        counted = count_units([texts[k] for k in order], generator.tokenizer, joining.separator, joining.lead)
        tokens = np.asarray(counted, dtype=np.float64)
        before = np.concatenate([[0.0], np.cumsum(tokens)[:-1]])
        share = 100.0 * before / np.maximum(1.0, tokens.sum() - tokens)
        depths = dict(zip(order, np.round(share, 1).tolist(), strict=True))
    else:
        depths = {k: round(rng.uniform(0.0, 100.0), 1) for k in order}
    inserts = [Insert(texts[k], depths[k], {"elder": names[pairs[k][0]], "younger": names[pairs[k][1]]}) for k in order]
    question = generator.templates.render(localized("ancestry_question.j2", language), person=names[n])
    metadata = {
        "params": {
            "num_needles": n,
            "distractors": lines - 1,
            "haystack": options.haystack,
            **language_param(options),
        },
        "person": names[n],
        "names": names,
    }
    return generator.place(cell, rng, options, budget_adjust, inserts, question, [names[0]], metadata)
