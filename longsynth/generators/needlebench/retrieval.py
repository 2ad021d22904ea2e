"""Multi-needle retrieval (NeedleBench's M-RT): several independent needles, all asked at once.

Each needle says what one person keeps in a drawer; the question names every person. The first
needle sits at the cell's depth and the others at seeded depths.
"""

from __future__ import annotations

import functools
import random
import re
from typing import TYPE_CHECKING, Any

from ...fitting import Insert
from ...templating import Templates, pattern_from
from ...text.vocabulary import profanity, wonderwords_list
from ..base import Cell, Sample
from .names import PERSON, people

if TYPE_CHECKING:
    from .generator import NeedleBenchGenerator

PERSON_SLOT, ITEM_SLOT = "\x00PERSON\x00", "\x00ITEM\x00"


@functools.lru_cache(maxsize=1)
def items() -> list[str]:
    return wonderwords_list("nounlist.txt", profanity())


def needle_pattern(generator: NeedleBenchGenerator) -> re.Pattern[str]:
    return _needle_pattern(generator.templates)


@functools.lru_cache(maxsize=16)
def _needle_pattern(templates: Templates) -> re.Pattern[str]:
    rendered = templates.render("retrieval_needle.j2", person=PERSON_SLOT, item=ITEM_SLOT)
    return pattern_from(rendered, {PERSON_SLOT: ("person", PERSON), ITEM_SLOT: ("item", r"[a-z]+")})


def sample(generator: NeedleBenchGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    names = people(rng, options.num_needles, set())
    things = rng.sample(items(), options.num_needles)
    inserts = [
        Insert(
            generator.templates.render("retrieval_needle.j2", person=p, item=t),
            float(cell.depth) if n == 0 else round(rng.uniform(0.0, 100.0), 1),
            {"person": p, "item": t},
        )
        for n, (p, t) in enumerate(zip(names, things, strict=True))
    ]
    question = generator.templates.render("retrieval_question.j2", people=names)
    metadata = {"params": {"num_needles": options.num_needles, "haystack": options.haystack}, "people": names}
    return generator.place(cell, rng, options, budget_adjust, inserts, question, things, metadata)
