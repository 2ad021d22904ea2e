"""Names for needles: people, towns and landscape features from Faker, seeded per sample.

Names are kept to plain two-word "First Last" forms (letters only), so that the oracle can read
every needle back with one pattern, and are distinct within a sample.
"""

from __future__ import annotations

import functools
import random
import re

from faker import Faker

PERSON = r"[A-Z][a-z]+ [A-Z][a-z]+"
PLACE = r"[A-Z][a-z]+(?: [A-Z][a-z]+)*"
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
    """`count` distinct people, none a part of another name in `taken` (which grows)."""
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    return _distinct(lambda: f"{fake.first_name()} {fake.last_name()}", count, _PERSON, taken)


def places(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct one-word place names (a surname, as "Lake Harmon" or "the Harmon River")."""
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    return _distinct(fake.last_name, count, _WORD, taken)


def towns(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    fake = _faker()
    fake.seed_instance(rng.getrandbits(64))
    return _distinct(fake.city, count, re.compile(PLACE), taken)
