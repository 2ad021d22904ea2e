"""A built-in, topical synthetic corpus (for the quickstart, tests and benchmarks).

Documents are generated from a topic's own vocabulary, so documents on one
topic share words and a retriever finds related chunks: hard negatives mean
something. Each document is a title line and a few paragraphs (one per line).
Document n is a pure function of (seed, n), so a corpus of any size is
reproducible and a larger one extends a smaller one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

VERSION = 2  # part of index cache keys: bump when the generated text changes

TOPICS: dict[str, list[str]] = {
    "astronomy": "telescope orbit comet nebula galaxy asteroid eclipse planet moonlight observatory star "
    "spectrum meteor gravity satellite horizon".split(),
    "baking": "dough oven yeast flour crust pastry butter loaf sugar whisk knead batter icing proofing "
    "cinnamon tray".split(),
    "sailing": "mast hull rudder harbour tide anchor keel sail mooring compass voyage deck galley buoy "
    "current knot".split(),
    "gardening": "seedling compost trowel hedge soil mulch greenhouse pruning bulb orchard blossom "
    "watering rake trellis weeds harvest".split(),
    "railways": "locomotive platform timetable signal carriage junction tunnel freight station conductor "
    "sleeper track viaduct ticket engine depot".split(),
    "beekeeping": "hive honey swarm queen nectar pollen smoker frame comb colony drone apiary wax "
    "forager brood veil".split(),
    "chess": "gambit bishop rook endgame checkmate pawn opening castling knight tournament rating "
    "sacrifice stalemate clock board queen".split(),
    "pottery": "clay kiln glaze wheel slip bisque porcelain stoneware trimming vessel firing potter "
    "earthenware kilnroom coil studio".split(),
    "mountaineering": "summit ridge crampon glacier rope belay ascent altitude crevasse icefall basecamp "
    "harness carabiner couloir snowfield peak".split(),
    "cartography": "atlas meridian contour survey projection scale latitude longitude legend triangulation "
    "coastline grid compass surveyor border chart".split(),
    "weaving": "loom warp weft shuttle yarn spindle tapestry heddle dye fibre thread bobbin pattern "
    "tension selvedge wool".split(),
    "volcanology": "magma crater lava eruption ash caldera vent basalt fumarole tremor seismograph pumice "
    "plume dome rift sulfur".split(),
    "clockmaking": "escapement pendulum gear spring dial balance wheel bezel movement jewel regulator "
    "winding chime ratchet mainspring hand".split(),
    "fisheries": "trawler net catch quota estuary salmon herring spawning hatchery harbour wharf "
    "shoal crate ice vessel marine".split(),
    "printing": "press typeface ink plate paper proof compositor letterpress margin folio engraving "
    "galley binding edition column serif".split(),
    "cheesemaking": "curd whey rennet brine rind cellar aging mould culture cheddar wheel press milk "
    "dairy affineur vat".split(),
}

_OPENERS = [
    "In practice",
    "For most people",
    "According to old records",
    "Every season",
    "In many towns",
    "As a rule",
    "Over the years",
    "On a good day",
    "In the workshop",
    "Once the work begins",
]
_VERBS = [
    "depends on",
    "begins with",
    "is shaped by",
    "needs",
    "is measured by",
    "changes with",
    "is protected by",
    "is judged by",
    "comes after",
    "is linked to",
]
_ENDINGS = [
    "which takes patience",
    "and experience helps",
    "as the experts insist",
    "more than beginners expect",
    "in every careful account",
    "when conditions allow",
    "which surprises visitors",
    "and nobody disputes it",
]


def _sentence(rng: random.Random, words: list[str]) -> str:
    a, b, c = rng.sample(words, 3)
    shape = rng.randrange(4)
    if shape == 0:
        text = f"{rng.choice(_OPENERS)}, the {a} {rng.choice(_VERBS)} the {b}, {rng.choice(_ENDINGS)}."
    elif shape == 1:
        text = f"The {a} and the {b} were discussed at length, along with the {c}."
    elif shape == 2:
        text = f"A good {a} {rng.choice(_VERBS)} a steady {b}, {rng.choice(_ENDINGS)}."
    else:
        text = f"{rng.choice(_OPENERS)}, nobody forgets the {a}, the {b} or the {c}."
    return text[0].upper() + text[1:]


def synthetic_document(n: int, seed: int = 0) -> tuple[str, str]:
    """(doc_id, text) of document n: a title line and 3 to 16 paragraphs on one topic."""
    rng = random.Random(f"corpus-{seed}-{n}")
    topic = rng.choice(sorted(TOPICS))
    words = TOPICS[topic]
    lines = [f"Notes on {topic}, part {n}"]
    for _ in range(rng.randint(3, 16)):
        lines.append(" ".join(_sentence(rng, words) for _ in range(rng.randint(2, 8))))
    return f"synthetic-{n}", "\n".join(lines)


def synthetic_corpus(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    for n in range(count):
        yield synthetic_document(n, seed)
