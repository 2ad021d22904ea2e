"""Attribute pools for artificial people (the longbio family).

Names come from Faker's en_US name lists (a deterministic slice, so the same
names exist on every machine); cities, universities, majors and hobbies are
lists written for longsynth. Values contain no ". " so that a biography can
be split into sentences unambiguously.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, field

CITIES = """
Aberdeen|Accra|Adelaide|Albuquerque|Alexandria|Amsterdam|Anchorage|Antwerp|Athens|Atlanta|Auckland|Austin|
Baltimore|Bangalore|Barcelona|Belfast|Bergen|Berlin|Bilbao|Birmingham|Bologna|Bordeaux|Boston|Brisbane|
Bristol|Brussels|Budapest|Buenos Aires|Cairo|Calgary|Cape Town|Cardiff|Casablanca|Charlotte|Chicago|
Cincinnati|Cleveland|Cologne|Copenhagen|Cork|Dallas|Denver|Detroit|Dresden|Dublin|Durban|Edinburgh|
Florence|Frankfurt|Geneva|Genoa|Glasgow|Gothenburg|Granada|Halifax|Hamburg|Hanoi|Helsinki|Honolulu|
Houston|Istanbul|Jakarta|Kansas City|Kingston|Krakow|Kyoto|Lagos|Leeds|Leipzig|Lima|Lisbon|Liverpool|
Ljubljana|London|Los Angeles|Lyon|Madrid|Manchester|Marseille|Melbourne|Memphis|Miami|Milan|Milwaukee|
Minneapolis|Montreal|Munich|Nagoya|Nairobi|Nantes|Naples|Nashville|New Orleans|Nice|Oakland|Osaka|Oslo|
Ottawa|Oxford|Palermo|Perth|Philadelphia|Phoenix|Pittsburgh|Porto|Portland|Prague|Quebec City|Reykjavik|
Riga|Rotterdam|Sacramento|Salzburg|San Diego|Santiago|Seattle|Seville|Sheffield|Singapore|Sofia|
Stockholm|Stuttgart|Sydney|Tallinn|Tampa|Toronto|Toulouse|Turin|Utrecht|Valencia|Vancouver|Venice|
Vienna|Vilnius|Warsaw|Wellington|Winnipeg|Zagreb|Zurich
""".replace("\n", "").split("|")

UNIVERSITIES = [f"the University of {c}" for c in CITIES[::3]] + [
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

MAJORS = """
Accounting|Aerospace Engineering|Agricultural Science|Anthropology|Applied Mathematics|Archaeology|
Architecture|Art History|Astronomy|Biochemistry|Biology|Business Administration|Chemical Engineering|
Chemistry|Civil Engineering|Classics|Cognitive Science|Communication Studies|Computer Science|Criminology|
Dance|Data Science|Dentistry|Earth Science|Economics|Education|Electrical Engineering|English Literature|
Environmental Science|Film Studies|Finance|Fine Arts|Food Science|Forestry|Geography|Geology|Graphic Design|
History|Hospitality Management|Industrial Design|International Relations|Journalism|Law|Linguistics|
Marine Biology|Marketing|Materials Science|Mechanical Engineering|Medicine|Music|Neuroscience|Nursing|
Oceanography|Pharmacy|Philosophy|Physics|Political Science|Psychology|Public Health|Sociology|Statistics|
Theatre|Urban Planning|Veterinary Science|Zoology
""".replace("\n", "").split("|")

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


@functools.lru_cache(maxsize=1)
def name_pools() -> tuple[list[str], list[str]]:
    """(first names, last names): deterministic slices of Faker's en_US lists.

    Kept small (400 and 300) so that in a long haystack many people share a
    first or a last name with the people asked about, as in the paper. The
    slices are cached per Faker version (importing Faker costs more than a
    whole sample), so only the first build on a machine pays for it.
    """
    from importlib.metadata import version

    from ..cache import cached_json

    def build() -> tuple[list[str], list[str]]:
        from faker.providers.person.en_US import Provider

        def unique(names) -> list[str]:
            seen: dict[str, None] = {}
            for n in names:
                if n.isalpha() and n not in seen:
                    seen[n] = None
            return list(seen)

        firsts = unique(list(Provider.first_names_female) + list(Provider.first_names_male))
        lasts = unique(Provider.last_names)
        return firsts[:: max(1, len(firsts) // 400)][:400], lasts[:: max(1, len(lasts) // 300)][:300]

    firsts, lasts = cached_json("names", {"faker": version("faker"), "slice": [400, 300]}, build)
    return list(firsts), list(lasts)


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
