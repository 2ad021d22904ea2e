"""Word lists two or more families share: place names, fields of study and people's names.

Longbio's people and holobench's database rows draw on the same lists. Names come from Faker's en_US
lists (a deterministic slice, so the same names exist on every machine); the other lists were
written for longsynth. Values contain no ". " so that a sentence stating one can be split from its
neighbours unambiguously.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.metadata import version

from ..cache import cached_json

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


@functools.lru_cache(maxsize=1)
def name_pools(firsts_kept: int = 400, lasts_kept: int = 300) -> tuple[list[str], list[str]]:
    """(first names, last names): deterministic slices of Faker's en_US lists.

    Kept small (400 and 300) so that in a long haystack many people share a
    first or a last name with the people asked about, as in the paper. The
    slices are cached per Faker version (importing Faker costs more than a
    whole sample), so only the first build on a machine pays for it. Larger
    slices (the built-in QA set's thousands of towns and founders) are asked
    for by size.
    """

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
        return (
            firsts[:: max(1, len(firsts) // firsts_kept)][:firsts_kept],
            lasts[:: max(1, len(lasts) // lasts_kept)][:lasts_kept],
        )

    firsts, lasts = cached_json("names", {"faker": version("faker"), "slice": [firsts_kept, lasts_kept]}, build)
    return list(firsts), list(lasts)


_PLAIN_WORD = re.compile(r"[a-z]+")


def wonderwords_list(name: str, banned: frozenset[str] = frozenset()) -> list[str]:
    """One word list of the installed `wonderwords` package (RULER draws its keys and words from
    them; we read the package's files, never a copy): plain lower-case words, minus `banned`, sorted
    so that nothing depends on file order."""
    text = (resources.files("wonderwords") / "assets" / name).read_text(encoding="utf-8")
    words = {w.strip() for w in text.split("\n")}
    return sorted(w for w in words if _PLAIN_WORD.fullmatch(w) and w not in banned)


@functools.lru_cache(maxsize=1)
def profanity() -> frozenset[str]:
    return frozenset(wonderwords_list("profanitylist.txt"))
