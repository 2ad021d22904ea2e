"""A built-in corpus with a realistic vocabulary: `builtin-zipf:<documents>`.

The topical corpus (`synthetic_corpus.py`) has about 300 distinct words, so every word is in most
chunks and every posting list is long: a retrieval benchmark on it is flattered (a tiny vocabulary
indexes fast) and hurt (every query term is common) at once. This one draws its words the way text
does: 65,536 made-up words whose frequencies follow Zipf's law (the word of rank r appears in
proportion to 1 / r), shorter words for more frequent ranks, and 512 topics, each with 64 words of its
own from the middle of the ranking that its documents use far more often than the rest of the corpus
does. So a rare word is rare, a query has telling terms, and documents on one topic share them.

Documents are made in blocks of `BLOCK` from one seeded generator per block, so document n is a pure
function of (seed, n) in any batch, and assembled by polars (no Python loop per word).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

VERSION = 1  # part of index cache keys: bump when the generated text changes
VOCABULARY = 65_536
EXPONENT = 1.0  # Zipf's law: frequency of the word of rank r proportional to r ** -EXPONENT
TOPICS = 512
TOPIC_WORDS = 64
TOPIC_SHARE = 0.15  # of a document's words drawn from its topic's own words
BLOCK = 1024  # documents drawn from one generator

_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS] + [v + c for v in _VOWELS for c in "lnrst"]


@functools.lru_cache(maxsize=1)
def words() -> np.ndarray:
    """The vocabulary, most frequent first: rank r spelled as its digits in base len(_SYLLABLES),
    one syllable per digit, so frequent words are short (1 syllable for the first 110 ranks, 2 for
    the next 12,100, 3 after) and every word is distinct."""
    base = len(_SYLLABLES)
    out, rank, size = [], 0, 1
    while len(out) < VOCABULARY:
        size_words = base**size
        for n in range(min(size_words, VOCABULARY - len(out))):
            digits = []
            for _ in range(size):
                n, digit = divmod(n, base)
                digits.append(_SYLLABLES[digit])
            out.append("".join(digits))
        rank += size_words
        size += 1
    return np.asarray(out, dtype=object)


TABLE_BITS = 22  # ranks are drawn through a table of 2**22 slots (the rarest word has about 5)


@functools.lru_cache(maxsize=1)
def _rank_table() -> np.ndarray:
    """Slot u of 2**TABLE_BITS holds the rank whose share of the Zipf distribution covers u: a uniform
    slot is a Zipf-distributed rank (one lookup, where a search of the cumulative weights cost a third
    of a block's time)."""
    weights = 1.0 / np.arange(1, VOCABULARY + 1, dtype=np.float64) ** EXPONENT
    cumulative = np.cumsum(weights / weights.sum())
    slots = (np.arange(1 << TABLE_BITS, dtype=np.float64) + 0.5) / (1 << TABLE_BITS)
    # Slot u holds how many cumulative shares are at most its centre, so rank r holds the slots whose
    # centres lie from rank r - 1's cumulative share up to below its own: one search per rank, then a
    # repeat (a search per slot, 4 million of them, took 0.09 s of every process that makes documents).
    ends = np.searchsorted(slots, cumulative, side="left")
    per_rank = np.diff(ends, prepend=0, append=len(slots))
    ranks = np.repeat(np.arange(VOCABULARY + 1), per_rank)
    # uint16 (every rank fits): half the memory of int32, so more of the table stays in cache when a
    # block looks up its 700,000 ranks
    return np.minimum(ranks, VOCABULARY - 1).astype(np.uint16)


@functools.lru_cache(maxsize=1)
def _topic_words(seed: int = 0) -> np.ndarray:
    """(TOPICS, TOPIC_WORDS) ranks: each topic's own words, from the middle ranks (1,000 to 60,000)."""
    rng = np.random.default_rng([seed, 7])
    return rng.integers(1_000, 60_000, size=(TOPICS, TOPIC_WORDS))


@functools.lru_cache(maxsize=1)
def _pieces():
    """Every word in both cases with each of what can follow it (a space, or the end of a sentence,
    paragraph or document), as one table: a document is a run of lookups into it, joined."""
    import polars as pl

    vocabulary = pl.Series(words().tolist())
    table = pl.DataFrame({"word": vocabulary}).select(
        pl.concat_list(pl.col("word"), pl.col("word").str.to_titlecase()).alias("word")
    )
    table = table.explode("word").join(pl.DataFrame({"glue": [" ", ". ", ".\n", "."]}), how="cross")
    table = table.select(pl.concat_str("word", "glue").alias("piece"))["piece"]
    return table, table.str.len_chars().to_numpy().astype(np.uint8)  # at most 8 characters a piece


def _block(block: int, seed: int) -> list[tuple[str, str]]:
    """Every document of one block, as (doc_id, text)."""

    rng = np.random.default_rng([seed, block])
    count = BLOCK
    topic = rng.integers(0, TOPICS, size=count)
    paragraphs = rng.integers(3, 17, size=count)
    sentences_per_paragraph = rng.integers(2, 9, size=int(paragraphs.sum()))
    sentence_words = rng.integers(6, 21, size=int(sentences_per_paragraph.sum()))
    total = int(sentence_words.sum())
    # the last word of each sentence, paragraph and document
    sentence_end = np.cumsum(sentence_words) - 1
    paragraph_end = sentence_end[np.cumsum(sentences_per_paragraph) - 1]
    document_end = paragraph_end[np.cumsum(paragraphs) - 1]
    ranks = _rank_table()[rng.integers(0, 1 << TABLE_BITS, size=total)].astype(np.int32)
    own = np.flatnonzero(rng.random(total) < TOPIC_SHARE)  # words drawn from their document's topic
    own_doc = np.searchsorted(document_end, own)  # (only these need their document: no per-word table)
    ranks[own] = _topic_words(seed)[topic[own_doc], rng.integers(0, TOPIC_WORDS, size=len(own))]
    # what follows each word: a space, or the end of its sentence, paragraph or document
    follow = np.zeros(total, dtype=np.int32)
    follow[sentence_end] = 1
    follow[paragraph_end] = 2
    follow[document_end] = 3
    capital = np.zeros(total, dtype=np.int32)  # a sentence's first word is capitalized (not the block's first,
    capital[1:] = follow[:-1] != 0  # which never starts a sentence: its document starts with the heading)
    pieces, piece_chars = _pieces()
    piece = (ranks * 2 + capital) * 4 + follow  # the word, its case and what follows it (int32: 2**19 pieces)
    text = pieces.gather(piece).str.join("").item()  # the whole block, document after document
    chars = np.add.reduceat(piece_chars[piece], np.concatenate([[0], document_end[:-1] + 1]), dtype=np.int64)
    ends = np.cumsum(chars).tolist()
    bodies = [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    start = block * BLOCK
    return [
        (f"zipf-{start + n}", f"Article {start + n} on subject {int(t)}\n{body}")
        for n, (t, body) in enumerate(zip(topic.tolist(), bodies, strict=True))
    ]


def zipf_documents(start: int, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(doc_id, text) of documents start .. start + count - 1."""
    out: list[tuple[str, str]] = []
    for block in range(start // BLOCK, (start + count - 1) // BLOCK + 1 if count > 0 else 0):
        documents = _block(block, seed)
        lo, hi = max(start, block * BLOCK), min(start + count, (block + 1) * BLOCK)
        out += documents[lo - block * BLOCK : hi - block * BLOCK]
    return out


def zipf_corpus(count: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    for start in range(0, count, BLOCK):
        yield from zipf_documents(start, min(BLOCK, count - start), seed)
