"""Names for needles: people, towns and landscape features from Faker's lists, seeded per sample.

People are "First Last" from the en_US first and last names longsynth's families share (letters
only, so the oracle reads every needle back with one pattern); towns and landscape names come from
Faker itself. All names are distinct within a sample.
"""

from __future__ import annotations

import functools
import random
import re

from faker import Faker

from ...text import vocabulary_zh
from ...text.language import IDEOGRAPHS
from ...text.vocabulary import name_pools

PERSON = r"[A-Z][a-z]+ [A-Z][a-z]+"
# A person read backwards from where the name ends (the ATC oracle reads a statement from its mark
# back): a run of small letters ends at its capital, so the reading is unique, as PERSON's is forwards.
PERSON_BACKWARDS = r"[a-z]+[A-Z] [a-z]+[A-Z]"
PLACE = r"[A-Z][a-z]+(?: [A-Z][a-z]+)*"
# Chinese: a name is two to four characters, a place name two (its kind, 镇 or 湖, is in the template).
# No word boundaries: the template's own characters around a name end it.
PERSON_ZH = rf"[{IDEOGRAPHS}]{{2,4}}"
PLACE_ZH = rf"[{IDEOGRAPHS}]{{2}}"
_PERSON = re.compile(PERSON)
_WORD = re.compile(r"[A-Z][a-z]+")


@functools.lru_cache(maxsize=1)
def _faker() -> Faker:
    return Faker("en_US")


def _distinct(make, count: int, check: re.Pattern[str], taken: set[str]) -> list[str]:
    out: list[str] = []
    for _ in range(count * 200 + 1000):  # bounded: Faker's lists hold thousands of names
        if len(out) == count:
            return out
        name = make()
        if check.fullmatch(name) and name not in taken and not any(name in t or t in name for t in taken):
            taken.add(name)
            out.append(name)
    raise ValueError(f"could not draw {count} distinct names")


def people(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct people, none in `taken` (which grows). Every name is two words, and every
    reader of them (patterns, metrics) matches whole words, so "Ann Lee" never hides in "Joann Lee"."""
    firsts, lasts = name_pools()
    if count > len(firsts) * len(lasts) // 2:
        raise ValueError(f"{count} distinct names asked for")
    out: list[str] = []
    while len(out) < count:
        name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        if name not in taken and _PERSON.fullmatch(name):
            taken.add(name)
            out.append(name)
    return out


def places(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct one-word place names (a surname, as "Lake Harmon" or "the Harmon River")."""
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    return _distinct(fake.last_name, count, _WORD, taken)


def towns(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    return _distinct(fake.city, count, re.compile(PLACE), taken)


def people_in(language: str, rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`people` in a language (Chinese names from `text.vocabulary_zh`)."""
    return vocabulary_zh.people(rng, count, taken) if language == "zh" else people(rng, count, taken)


def places_in(language: str, rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """One-word place names (`places`; Chinese: made-up two-character names)."""
    return vocabulary_zh.place_names(rng, count, taken) if language == "zh" else places(rng, count, taken)


def towns_in(language: str, rng: random.Random, count: int, taken: set[str]) -> list[str]:
    return vocabulary_zh.place_names(rng, count, taken) if language == "zh" else towns(rng, count, taken)


def language_param(options) -> dict[str, str]:
    """The row's language for its metadata params, where it is not English (English rows read as before)."""
    return {} if options.language == "en" else {"language": options.language}


ZH = "_zh"  # a Chinese twin's task name ends with it ("multi_retrieval_zh")


def base_task(task: str) -> str:
    """The task a Chinese twin is the twin of ("multi_retrieval_zh" -> "multi_retrieval")."""
    return task.removesuffix(ZH)
