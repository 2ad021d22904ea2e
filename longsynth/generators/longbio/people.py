"""Artificial people for the longbio family: their attributes and the pools values come from.

Names, cities and majors are shared word lists (`text/vocabulary.py`); universities and hobbies are
longbio's own lists. Values contain no ". " so that a biography can be split into sentences
unambiguously.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from ...text.vocabulary import CITIES, MAJORS, name_pools

UNIVERSITIES = [f"University of {c}" for c in CITIES[::3]] + [
    "Northfield Institute of Technology",
    "Westbrook College",
    "Harrowgate University",
    "Lakeshore State University",
    "Ridgemont Polytechnic",
    "Eastvale University",
    "Kingsbridge College of Arts",
    "Silverton University",
    "Brightwater Institute",
    "Old Mill College",
    "Highland Technical University",
    "Marlowe University",
    "Southgate School of Economics",
    "Crescent Bay University",
    "Ashford College",
    "Pinecrest University",
]

HOBBIES = """
playing chess|painting landscapes|baking bread|birdwatching|rock climbing|knitting scarves|playing the violin|
gardening|writing poetry|photographing old buildings|sailing|cycling long distances|collecting stamps|
playing the piano|bouldering|fly fishing|making pottery|running marathons|woodworking|cooking curries|
playing tennis|hiking in the mountains|reading detective novels|solving crossword puzzles|swimming|
practising yoga|playing the guitar|building model ships|kayaking|skiing|learning languages|brewing coffee|
watching old films|restoring furniture|playing basketball|camping|dancing salsa|drawing comics|
playing board games|stargazing|scuba diving|playing volleyball|writing short stories|playing golf|
making candles|keeping bees|playing the drums|sketching portraits|horse riding|ice skating|surfing|
playing football|collecting vinyl records|foraging mushrooms|doing embroidery|fencing with foils|
practising archery|practising calligraphy|
folding origami|playing the cello|photographing birds|trail running|growing bonsai trees|playing badminton
""".replace("\n", "").split("|")

ATTRIBUTES = ("birthdate", "birthplace", "hobby", "university", "major", "work_city")
ARITHMETIC_ATTRIBUTES = ("age", "birthplace", "hobby", "university", "major", "work_city")
ATTRIBUTE_WORDS = {
    "birthdate": ("birth date", "birth dates"),
    "age": ("age", "ages"),
    "birthplace": ("birthplace", "birthplaces"),
    "hobby": ("hobby", "hobbies"),
    "university": ("university", "universities"),
    "major": ("major", "majors"),
    "work_city": ("work city", "work cities"),
}
AGE_RANGE = (20, 80)
_BIRTH_RANGE = (dt.date(1950, 1, 1), dt.date(2001, 12, 31))


def stated(attribute: str, value: str) -> str:
    """A value as a sentence states it: "the University of Oslo". Answers hold the bare value
    ("University of Oslo"), so a natural answer matches; the article lives in the text only."""
    return f"the {value}" if attribute == "university" and value.startswith("University of ") else value


def unstated(attribute: str, text: str) -> str:
    """The bare value of a stated one (the inverse of `stated`, whatever the article's case)."""
    if attribute == "university" and text[:18].lower() == "the university of ":
        return text[4:]
    return text


def value_pools() -> dict[str, list[str]]:
    return {"birthplace": CITIES, "work_city": CITIES, "university": UNIVERSITIES, "major": MAJORS, "hobby": HOBBIES}


@dataclass
class Person:
    name: str
    first: str
    last: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def age(self) -> int:
        return int(self.attributes["age"])


def format_date(day: dt.date) -> str:
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def random_person(
    rng: random.Random, with_age: bool, taken: set[str], first: str | None = None, last: str | None = None
) -> Person:
    """A person with a full name not in `taken` (which is updated) and one value per attribute."""
    firsts, lasts = name_pools()
    pools = value_pools()
    for _ in range(1000):
        f = first or rng.choice(firsts)
        m = rng.choice(firsts) if rng.random() < 0.5 else None
        ln = last or rng.choice(lasts)
        name = " ".join(p for p in (f, m, ln) if p)
        if name not in taken and (m is None or m != f):
            taken.add(name)
            break
    else:  # pragma: no cover - 120,000 name combinations
        raise RuntimeError("ran out of distinct names")
    attributes = {k: rng.choice(v) for k, v in pools.items()}
    if with_age:
        attributes["age"] = str(rng.randint(*AGE_RANGE))
    else:
        span = (_BIRTH_RANGE[1] - _BIRTH_RANGE[0]).days
        attributes["birthdate"] = format_date(_BIRTH_RANGE[0] + dt.timedelta(days=rng.randrange(span + 1)))
    return Person(name, f, ln, attributes)
