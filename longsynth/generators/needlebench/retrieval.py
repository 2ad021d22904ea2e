"""Multi-needle retrieval (NeedleBench's M-RT): several independent needles, all asked at once.

Each needle says what one person keeps in a drawer; the question names every asked person, in an
order the answer keeps. Unlike NeedleBench, whose needles are all asked (so every box label in the
text is an answer), `distractors` more needles (5 by default) give boxes to people who are not
asked about. The first asked needle sits at the cell's depth and the others at seeded depths.
"""

from __future__ import annotations

import functools
import random
import re
from typing import TYPE_CHECKING, Any

from ...fitting import Insert
from ...templating import Templates, pattern_from
from ...text.language import IDEOGRAPHS
from ...text.vocabulary import profanity, wonderwords_list
from ...text.vocabulary_zh import NOUNS
from ..base import Cell, Sample, localized
from .names import PERSON, PERSON_ZH, language_param, people_in

if TYPE_CHECKING:
    from .generator import NeedleBenchGenerator

PERSON_SLOT, ITEM_SLOT = "\x00PERSON\x00", "\x00ITEM\x00"


@functools.lru_cache(maxsize=2)
def items(language: str = "en") -> list[str]:
    return list(NOUNS) if language == "zh" else wonderwords_list("nounlist.txt", profanity())


def needle_pattern(generator: NeedleBenchGenerator, language: str = "en") -> re.Pattern[str]:
    return _needle_pattern(generator.templates, language)


@functools.lru_cache(maxsize=16)
def _needle_pattern(templates: Templates, language: str) -> re.Pattern[str]:
    rendered = templates.render(localized("retrieval_needle.j2", language), person=PERSON_SLOT, item=ITEM_SLOT)
    person, item = (PERSON_ZH, rf"[{IDEOGRAPHS}]{{2,3}}") if language == "zh" else (PERSON, r"[a-z]+")
    return pattern_from(rendered, {PERSON_SLOT: ("person", person), ITEM_SLOT: ("item", item)})


DEFAULT_DISTRACTORS = 5


def sample(generator: NeedleBenchGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    distractors = DEFAULT_DISTRACTORS if options.distractors < 0 else options.distractors
    language = options.language
    everyone = people_in(language, rng, options.num_needles + distractors, set())
    things = rng.sample(items(language), len(everyone))
    names = everyone[: options.num_needles]  # asked; the rest are distractors
    inserts = [
        Insert(
            generator.templates.render(localized("retrieval_needle.j2", language), person=p, item=t),
            float(cell.depth) if n == 0 else round(rng.uniform(0.0, 100.0), 1),
            {"person": p, "item": t, "asked": n < len(names)},
        )
        for n, (p, t) in enumerate(zip(everyone, things, strict=True))
    ]
    question = generator.templates.render(localized("retrieval_question.j2", language), people=names)
    metadata = {
        "params": {
            "num_needles": options.num_needles,
            "distractors": distractors,
            "haystack": options.haystack,
            **language_param(options),
        },
        "people": names,
        "items": things,
    }
    return generator.place(cell, rng, options, budget_adjust, inserts, question, things[: len(names)], metadata)
