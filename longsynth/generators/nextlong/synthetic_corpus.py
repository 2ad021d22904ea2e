"""A built-in, topical synthetic corpus (for the quickstart, tests and benchmarks).

Documents are generated from a topic's own vocabulary, so documents on one
topic share words and a retriever finds related chunks: hard negatives mean
something. Each document is a title line and a few paragraphs (one per line).
Document n is a pure function of (seed, n), so a corpus of any size is
reproducible and a larger one extends a smaller one.
"""

from __future__ import annotations

import functools
import random
import re
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
# The four sentence shapes, filled from the draws: opener, verb, ending and three topic words. Each
# starts with a capital letter.
_SHAPES = (
    "{o}, the {a} {v} the {b}, {e}.",
    "The {a} and the {b} were discussed at length, along with the {c}.",
    "A good {a} {v} a steady {b}, {e}.",
    "{o}, nobody forgets the {a}, the {b} or the {c}.",
)
_DRAWS = 7  # random numbers per sentence: shape, opener, verb, ending, three words
_GLUES = (" ", "\n", "")  # what follows a sentence: more of its paragraph, a new one, the document's end


BATCH_DOCUMENTS = 2048  # documents generated together (their sentences assembled by polars)
_WORDS = len(TOPICS[_TOPIC_NAMES[0]])  # every topic has as many words
_WORD_TABLE = [word for name in _TOPIC_NAMES for word in TOPICS[name]]  # topic t's words at t * _WORDS
_PARAGRAPHS = 16  # at most, per document
_HEAD = 2 + _PARAGRAPHS  # a document's first random numbers: topic, paragraphs, each one's sentences


@functools.lru_cache(maxsize=1)
def _fragments():
    """Every piece a sentence is made of, as one polars table: the shapes' fixed texts, the openers,
    verbs, endings and topic words, and each shape's last text with what follows the sentence (a
    space, a line break or nothing); and, for each shape, its pieces in order: a row of that table,
    or a field's letter (o, v, e, a, b, c), whose row each sentence draws.
    A batch's text is one gather of this table and one join (as the Zipf corpus's)."""
    import polars as pl

    table: list[str] = []
    rows: list[list[int | str]] = []
    tails: list[list[int]] = []
    for shape in _SHAPES:
        parts = re.split(r"\{(\w)\}", shape)  # text, field, text, field, ..., text
        row: list[int | str] = []
        for n, part in enumerate(parts[:-1]):
            if n % 2:
                row.append(part)
            elif part:
                row.append(len(table))
                table.append(part)
        tails.append([len(table) + k for k in range(3)])
        table += [parts[-1] + glue for glue in _GLUES]
        rows.append(row)
    offsets = {}
    for name, words in (("o", _OPENERS), ("v", _VERBS), ("e", _ENDINGS), ("w", _WORD_TABLE)):
        offsets[name] = len(table)
        table += words
    series = pl.Series(table, dtype=pl.String)
    return series, series.str.len_chars().to_numpy().astype(np.int64), rows, tails, offsets


def _uint32(numbers: list[int], words: list[int]) -> np.ndarray:
    """Python integers as their 32-bit words, least significant first: `words[i]` words of the i-th."""
    return np.frombuffer(b"".join(x.to_bytes(4 * w, "little") for x, w in zip(numbers, words, strict=True)), np.uint32)


def synthetic_documents(start: int, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(doc_id, text) of documents start .. start + count - 1: each a title line and 3 to 16
    paragraphs on one topic.

    Each document's numbers come from its own generator (document n is the same in any batch),
    but the sentences of a whole batch are assembled at once, as one gather of their pieces from a
    table (`_fragments`) and one join, by polars, instead of one Python format call per sentence
    (that loop cost a quarter of a 100,000-document index's build) or a polars frame of the
    sentences' fields formatted by their shape (which formatted every shape for every sentence:
    36 ms per 1,024 documents against 15 ms; the same text, tested)."""
    if count <= 0:
        return []
    # Document n's numbers are the 32-bit words of its own generator's bits, in order: its head, then
    # seven a sentence. Only the words its sentences use are drawn (a second call goes on where the
    # first stopped): drawing room for 128 sentences and converting those bits cost 13 us a document.
    generators = [random.Random(f"corpus-{seed}-{n}") for n in range(start, start + count)]
    heads = [rng.getrandbits(32 * _HEAD) for rng in generators]
    head = _uint32(heads, [_HEAD] * count).reshape(count, _HEAD).astype(np.int64)
    topic = head[:, 0] % len(_TOPIC_NAMES)
    paragraphs = 3 + head[:, 1] % 14
    sizes = np.where(np.arange(_PARAGRAPHS) < paragraphs[:, None], 2 + head[:, 2:] % 7, 0)
    per_doc = sizes.sum(axis=1)
    drawn = (per_doc * _DRAWS).tolist()  # each document's words after its head
    rests = [rng.getrandbits(32 * w) for rng, w in zip(generators, drawn, strict=True)]
    sentence = _uint32(rests, drawn).reshape(-1, _DRAWS).astype(np.int64)  # (sentences, draws), in text order
    words = _WORDS
    first = sentence[:, 4] % words  # three distinct words: the 2nd and 3rd skip the ones before
    second = (first + 1 + sentence[:, 5] % (words - 1)) % words
    third = sentence[:, 6] % (words - 2)
    third = np.where(third >= np.minimum(first, second), third + 1, third)
    third = np.where(third >= np.maximum(first, second), third + 1, third)
    base = np.repeat(topic, per_doc) * words
    # Each sentence ends with what follows it: a space, a new paragraph's line break, or nothing at a
    # document's end.
    last = np.cumsum(sizes.ravel())[sizes.ravel() > 0] - 1  # the last sentence of each paragraph
    follow = np.zeros(len(sentence), dtype=np.int64)
    follow[last] = 1
    follow[np.cumsum(per_doc) - 1] = 2
    table, chars, shape_rows, tails, offsets = _fragments()
    shape = sentence[:, 0] % 4
    field = {  # each field's row of the table, per sentence
        "o": offsets["o"] + sentence[:, 1] % len(_OPENERS),
        "v": offsets["v"] + sentence[:, 2] % len(_VERBS),
        "e": offsets["e"] + sentence[:, 3] % len(_ENDINGS),
        "a": offsets["w"] + base + first,
        "b": offsets["w"] + base + second,
        "c": offsets["w"] + base + third,
    }
    # The sentences' pieces in text order: each sentence's shape's pieces, then its tail.
    size = np.array([len(row) + 1 for row in shape_rows], dtype=np.int64)[shape]
    piece_start = np.cumsum(size) - size  # each sentence's first piece
    pieces = np.empty(int(size.sum()), dtype=np.int64)
    for s, row in enumerate(shape_rows):
        mine = np.flatnonzero(shape == s)
        for k, code in enumerate(row):
            pieces[piece_start[mine] + k] = field[code][mine] if isinstance(code, str) else code
        pieces[piece_start[mine] + len(row)] = np.asarray(tails[s])[follow[mine]]
    sentence_start = np.cumsum(per_doc) - per_doc  # each document's first sentence ...
    doc_start = piece_start[sentence_start]  # ... and first piece
    ends = np.cumsum(np.add.reduceat(chars[pieces], doc_start)).tolist()
    whole = table.gather(pieces).str.join("").item()
    return [
        (f"synthetic-{n}", f"Notes on {_TOPIC_NAMES[t]}, part {n}\n{whole[begin:end]}")
        for n, t, begin, end in zip(range(start, start + count), topic.tolist(), [0, *ends[:-1]], ends, strict=True)
    ]


def synthetic_document(n: int, seed: int = 0) -> tuple[str, str]:
    """(doc_id, text) of document n (see `synthetic_documents`)."""
    return synthetic_documents(n, 1, seed)[0]


def synthetic_corpus(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    for start in range(0, count, BATCH_DOCUMENTS):
        yield from synthetic_documents(start, min(BATCH_DOCUMENTS, count - start), seed)
