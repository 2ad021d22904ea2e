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

import numpy as np

VERSION = 3  # part of index cache keys: bump when the generated text changes (3: drawn in bulk)

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


_TOPIC_NAMES = sorted(TOPICS)
# The four sentence shapes, filled from the draws: opener, verb, ending and three topic words.
_SHAPES = (
    "{o}, the {a} {v} the {b}, {e}.",
    "The {a} and the {b} were discussed at length, along with the {c}.",
    "A good {a} {v} a steady {b}, {e}.",
    "{o}, nobody forgets the {a}, the {b} or the {c}.",
)
_MAX_SENTENCES = 16 * 8  # paragraphs x sentences per paragraph, at most
_DRAWS = 7  # random numbers per sentence: shape, opener, verb, ending, three words


def synthetic_document(n: int, seed: int = 0) -> tuple[str, str]:
    """(doc_id, text) of document n: a title line and 3 to 16 paragraphs on one topic.

    All of a document's random numbers come from one draw of its own generator (a Python loop of
    random calls per word cost most of a 100,000-document index's build)."""
    rng = random.Random(f"corpus-{seed}-{n}")
    raw = rng.getrandbits(32 * (2 + 16 + _MAX_SENTENCES * _DRAWS)).to_bytes(
        4 * (2 + 16 + _MAX_SENTENCES * _DRAWS), "little"
    )
    draws = np.frombuffer(raw, dtype=np.uint32)
    topic = _TOPIC_NAMES[draws[0] % len(_TOPIC_NAMES)]
    words = TOPICS[topic]
    paragraphs = 3 + int(draws[1] % 14)
    sizes = 2 + draws[2 : 2 + paragraphs] % 7
    sentence = draws[18:].reshape(_MAX_SENTENCES, _DRAWS)[: int(sizes.sum())]
    count = len(words)
    first = sentence[:, 4] % count  # three distinct words: the 2nd and 3rd skip the ones before
    second = (first + 1 + sentence[:, 5] % (count - 1)) % count
    third = sentence[:, 6] % (count - 2)
    third = np.where(third >= np.minimum(first, second), third + 1, third)
    third = np.where(third >= np.maximum(first, second), third + 1, third)
    texts = []
    for row, a, b, c in zip(sentence.tolist(), first.tolist(), second.tolist(), third.tolist(), strict=True):
        text = _SHAPES[row[0] % 4].format(
            o=_OPENERS[row[1] % len(_OPENERS)],
            v=_VERBS[row[2] % len(_VERBS)],
            e=_ENDINGS[row[3] % len(_ENDINGS)],
            a=words[a],
            b=words[b],
            c=words[c],
        )
        texts.append(text[0].upper() + text[1:])
    lines = [f"Notes on {topic}, part {n}"]
    start = 0
    for size in sizes.tolist():
        lines.append(" ".join(texts[start : start + size]))
        start += size
    return f"synthetic-{n}", "\n".join(lines)


def synthetic_corpus(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    for n in range(count):
        yield synthetic_document(n, seed)
