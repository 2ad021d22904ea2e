"""The ten LongBioBench tasks as data: who is asked about, what the gold answer is, and how the
oracle re-derives it from the text. One small function per task, looked up in `BIO_TASKS`.

`constrain` shapes the people a question is about (ages to rank, a pair with a given difference,
a chain of "same as" links); `answer` is the gold answer from the people as generated; `derive`
(in `oracle.py`) is the same answer read back from the text alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .people import Person

REFUSAL = "not stated"  # what the prompt asks for when the biographies lack the answer (the reference's phrase)


def no_constraint(people: list[Person], attribute: str, rng: random.Random) -> dict[str, Any]:
    return {}


def distinct_ages(people: list[Person], attribute: str, rng: random.Random) -> dict[str, Any]:
    """Ranked people get distinct ages, so the order is unique."""
    for person, age in zip(people, rng.sample(range(20, 81), len(people)), strict=True):
        person.attributes["age"] = str(age)
    return {}


def ages_apart(people: list[Person], attribute: str, rng: random.Random) -> dict[str, Any]:
    """The asked pair's ages differ by a drawn number of years."""
    difference = rng.randint(1, 30)
    base = rng.randint(20, 80 - difference)
    people[0].attributes["age"], people[1].attributes["age"] = str(base), str(base + difference)
    return {"difference": difference}


def shared_value(people: list[Person], attribute: str, rng: random.Random) -> dict[str, Any]:
    """Everyone in a multihop chain has the first person's value (stated only in the first bio)."""
    for person in people[1:]:
        person.attributes[attribute] = people[0].attributes[attribute]
    return {}


def each_value(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [p.attributes[attribute] for p in people]


def age_difference(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [str(abs(people[0].age - people[1].age))]


def youngest_first(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [p.name for p in sorted(people, key=lambda p: p.age)]


def first_value(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [people[0].attributes[attribute]]


def the_pair(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [f"{people[0].name} and {people[1].name}"]


def refusal(people: list[Person], attribute: str, extra: dict[str, Any]) -> list[str]:
    return [REFUSAL]


@dataclass(frozen=True)
class BioTask:
    style: str  # standard, paraphrase or pronoun bios
    ages: bool  # people have ages (arithmetic tasks) instead of birthdates
    people: int  # people asked about by default
    allowed: tuple[int, ...] = (1,)  # people counts `num_people` may choose
    takes_shots: bool = True  # solved demonstrations can be prepended
    shots: int = 0  # demonstrations by default: the paper's headline setting (two-shot reasoning tasks)
    constrain: Callable[[list[Person], str, random.Random], dict[str, Any]] = no_constraint
    answer: Callable[[list[Person], str, dict[str, Any]], list[str]] = each_value
    chain: bool = False  # each asked bio after the first says "the same X as" the previous person
    drop_asked: bool = False  # the asked attribute is removed from the asked bio (idk)
    twin: str | None = None  # the task whose sample this one is, minus the asked sentence
    cites: bool = False  # units are numbered and the answer cites the asked bios' numbers
    ages_map: bool = False  # record every stated age (any pair with the asked difference scores)


BIO_TASKS = {
    "bio_standard": BioTask("standard", False, 1),
    "bio_multi_standard": BioTask("standard", False, 2, (2, 5, 10)),
    "bio_paraphrase": BioTask("paraphrase", False, 1),
    "bio_pronoun": BioTask("pronoun", False, 1),
    "bio_calculation": BioTask("standard", True, 2, (2,), shots=2, constrain=distinct_ages, answer=age_difference),
    "bio_rank": BioTask("standard", True, 2, (2, 5), shots=2, constrain=distinct_ages, answer=youngest_first),
    "bio_multihop": BioTask(
        "standard", False, 2, (2, 5), shots=2, constrain=shared_value, answer=first_value, chain=True
    ),
    "bio_twodiff": BioTask("standard", True, 2, (2,), shots=2, constrain=ages_apart, answer=the_pair, ages_map=True),
    "bio_citation": BioTask("standard", False, 1, (1, 2), shots=2, cites=True),
    "bio_idk": BioTask("standard", False, 1, takes_shots=False, answer=refusal, drop_asked=True, twin="bio_standard"),
}
