"""Multi-needle reasoning (NeedleBench's M-RS): 2 to 5 needles that form one chain of facts, and a
question answerable only by following all of them.

The chain runs person -> town of birth -> lake -> river -> mountains -> the person who mapped them;
with n needles the question asks for link n ("the river that feeds the lake on whose shore lies the
town where Ann Lee was born"). NeedleBench v1 took its chains from a multi-hop QA set and v2 from
fictional kinship; ours are fictional facts of our own, so no model knows them beforehand. The first
link sits at the cell's depth and the others at seeded depths, in any order.

NeedleBench has one chain and no distractors, so the answer is the one name of its kind stated once.
Ours adds `distractors` other chains (3 by default) with the same links and the same length, from
other people: each chain's two ends are stated once, so no count of mentions finds the answer, and
only following the asked person's links does.
"""

from __future__ import annotations

import functools
import random
import re
from typing import TYPE_CHECKING, Any

from ...fitting import Insert
from ...templating import Templates, pattern_from
from ..base import Cell, Sample, localized
from .names import PERSON, PERSON_ZH, PLACE, PLACE_ZH, language_param, people_in, places_in, towns_in

if TYPE_CHECKING:
    from .generator import NeedleBenchGenerator

MAX_HOPS = 5
A_SLOT, B_SLOT = "\x00A\x00", "\x00B\x00"
# What each link's two ends are: link k ties entity k - 1 to entity k.
ENTITY_PATTERNS = {
    "en": (PERSON, PLACE, r"[A-Z][a-z]+", r"[A-Z][a-z]+", r"[A-Z][a-z]+", PERSON),
    "zh": (PERSON_ZH, PLACE_ZH, PLACE_ZH, PLACE_ZH, PLACE_ZH, PERSON_ZH),
}


def link_pattern(generator: NeedleBenchGenerator, hop: int, language: str = "en") -> re.Pattern[str]:
    return _link_pattern(generator.templates, hop, language)


@functools.lru_cache(maxsize=64)
def _link_pattern(templates: Templates, hop: int, language: str) -> re.Pattern[str]:
    rendered = templates.render(localized("reasoning_needle.j2", language), hop=hop, a=A_SLOT, b=B_SLOT)
    shapes = ENTITY_PATTERNS[language]
    return pattern_from(rendered, {A_SLOT: ("a", shapes[hop - 1]), B_SLOT: ("b", shapes[hop])})


def chain_entities(rng: random.Random, hops: int, taken: set[str], language: str = "en") -> list[str]:
    """One chain's hops + 1 entities, none in `taken` (which grows)."""
    person = people_in(language, rng, 1, taken)
    town = towns_in(language, rng, 1, taken)
    features = places_in(language, rng, 3, taken)
    mapper = people_in(language, rng, 1, taken)
    return (person + town + features + mapper)[: hops + 1]


DEFAULT_DISTRACTORS = 3


def sample(generator: NeedleBenchGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    hops = options.num_needles
    distractors = DEFAULT_DISTRACTORS if options.distractors < 0 else options.distractors
    taken: set[str] = set()
    language = options.language
    chains = [chain_entities(rng, hops, taken, language) for _ in range(1 + distractors)]  # chains[0] is asked
    entities = chains[0]
    inserts = [
        Insert(
            generator.templates.render(
                localized("reasoning_needle.j2", language), hop=hop, a=chain[hop - 1], b=chain[hop]
            ),
            float(cell.depth) if (c, hop) == (0, 1) else round(rng.uniform(0.0, 100.0), 1),
            {"hop": hop, "asked": c == 0},
        )
        for c, chain in enumerate(chains)
        for hop in range(1, hops + 1)
    ]
    question = generator.templates.render(localized("reasoning_question.j2", language), person=entities[0], hops=hops)
    metadata = {
        "params": {
            "num_needles": hops,
            "distractors": distractors,
            "haystack": options.haystack,
            **language_param(options),
        },
        "person": entities[0],
        # Every name the text states (the asked chain's first): a final answer naming another scores 0.
        "names": [name for chain in chains for name in chain],
    }
    return generator.place(cell, rng, options, budget_adjust, inserts, question, [entities[-1]], metadata)
