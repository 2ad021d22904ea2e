"""BM25 over a corpus's chunks, built with polars and numpy, impact-pruned so a search's cost is bounded.

Tokens are what bm25s makes of a text (lower case, runs of two or more word characters, minus its
English stop words; besides, each Chinese or Japanese character is a word of its own, see `WORDS`),
found by polars' regex engine over a whole batch of chunks at once. Scores are
BM25's (k1 1.5, b 0.75, Lucene's idf). The index is a sparse (terms x chunks) matrix of each
term's score in each chunk, in CSR form (three arrays), keeping for each term only its
`POSTINGS_PER_TERM` best chunks (see `Bm25.write`); a loaded index reads a term's postings from disk
when a search needs them, and keeps the rows it read last (`Bm25.ROW_CACHE_BYTES`).

Each query keeps its `QUERY_TERMS` rarest terms (highest idf) among those two or more chunks hold:
common terms have the longest postings and the least say in the ranking. (It keeps up to
QUERY_TERMS terms that one chunk holds besides, one posting each: those find that chunk alone, and
ranked with the rest they crowded out the words a chunk shares with others.) A search therefore
reads at most QUERY_TERMS x (POSTINGS_PER_TERM + 1) postings and sums them by chunk (in an array as
long as the corpus's chunks when they cover a good share of it, else by sorting those of the chunks
that can rank: `top_by_chunk`), whatever the corpus's size.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from ...cores import available_cores
from ...read_ahead import WriteBehind, ordered_map
from .keys import MIX, keys_of, mixed, series_keys

QUERY_TERMS = 24
POSTINGS_PER_TERM = 4096  # the most chunks a term keeps in the index (see `Bm25.write`)
SCORE_BINS = 1024  # score resolution when choosing which of a common term's chunks to keep
K1, B = 1.5, 0.75
TOKEN = r"\b\w\w+\b"  # bm25s's words: runs of two or more word characters
# Chinese and Japanese are written without spaces, so a run of their word characters is a clause, found
# again only where the clause is repeated: each of their characters is a word of its own (unigrams, as
# a plain CJK baseline does). Elsewhere `WORDS` finds what TOKEN does (tested on both built-in corpora).
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
WORDS = rf"[{_CJK}]|[^\W{_CJK}]{{2,}}"
BATCH = 2000  # chunks tokenized at once (bounds the memory of their exploded tokens)
# ... and at most this many characters (a chunk may be a million; a batch cut into pieces at spaces
# holds about 40 bytes a space, and 2,000 chunks of spaces would be 80 GB)
BATCH_CHARS = 4_000_000
BLOCK_POSTINGS = 4_000_000  # postings gathered at once when the matrix is written (48 MB)


@functools.lru_cache(maxsize=1)
def stop_words() -> tuple[str, ...]:
    """bm25s's English stop words, sorted: read from the installed package's `stopwords.py` as a
    literal (parsed, nothing run). Importing even `bm25s.stopwords` runs the package's `__init__`,
    which imports scipy: 0.21 s and 15 MiB of every process that indexes or searches, for a list of
    33 words. Imported only when the file cannot be read that way (another layout in a later bm25s)."""
    words = _stop_words_literal()
    if words is None:
        from bm25s.stopwords import STOPWORDS_EN

        words = STOPWORDS_EN
    return tuple(sorted(words))


def _stop_words_literal() -> tuple[str, ...] | None:
    """`STOPWORDS_EN` as bm25s's `stopwords.py` writes it (a parenthesized tuple of strings at the
    start of a line), or None. Only that tuple is parsed (the whole file, every language's list,
    takes 36 ms)."""
    import ast
    import importlib.util

    try:
        found = importlib.util.find_spec("bm25s")  # (finds the package without importing it)
        folder = next(iter(found.submodule_search_locations or ()))
        source = Path(folder, "stopwords.py").read_text(encoding="utf-8")
        written = re.search(r"^STOPWORDS_EN\s*=\s*(\([^()]*\))", source, re.MULTILINE)
        value = ast.literal_eval(written.group(1)) if written else None
    except (ImportError, AttributeError, StopIteration, OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    if isinstance(value, tuple) and value and all(isinstance(word, str) for word in value):
        return value
    return None


def _words(texts: list[str]) -> tuple[np.ndarray, pl.Series]:
    """(row, word) of every word of `texts`, in order, stop words included: one tokenizer for the
    index and its queries (were they to differ, a query would miss the chunks that hold its words)."""
    found = pl.Series(texts, dtype=pl.String).str.to_lowercase().str.extract_all(WORDS)
    row = np.repeat(np.arange(len(texts), dtype=np.int64), found.list.len().to_numpy())
    return row, found.explode().drop_nulls()  # polars 1 gives an empty list a null; 2 gives nothing


def tokens(texts: list[str]) -> pl.DataFrame:
    """(row, term) of every kept token of `texts`, in order."""
    row, words = _words(texts)
    frame = pl.DataFrame({"row": row, "term": words})
    return frame.filter(~pl.col("term").is_in(list(stop_words())))


# A few ASCII texts (a search's queries, a document's words) are split by Python's regex instead
QUERY_CHARS = 64_000  # (polars' calls cost about 1 ms however short the text; 2 to 3 ms inside a build)
_ASCII_TOKEN = re.compile(TOKEN, re.ASCII)  # on ASCII text, Rust's Unicode \w and \b are these


@functools.lru_cache(maxsize=1)
def _stop_set() -> frozenset[str]:
    return frozenset(stop_words())


def terms_of(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """(row of each, terms) of every kept token of `texts`, in order: what `tokens` finds (tested),
    found by Python's regex when the texts are short and ASCII (two 2,000-character queries: 0.12
    against 0.82 ms), else by `tokens`."""
    if sum(map(len, texts)) <= QUERY_CHARS and all(text.isascii() for text in texts):
        stops = _stop_set()
        rows: list[int] = []
        terms: list[str] = []
        for n, text in enumerate(texts):
            kept = [word for word in _ASCII_TOKEN.findall(text.lower()) if word not in stops]
            rows += [n] * len(kept)
            terms += kept
        return np.asarray(rows, dtype=np.int64), terms
    found = tokens(texts)
    return found["row"].to_numpy().astype(np.int64), found["term"].to_list()


class TermIds:
    """Term ids for one index build, in order of first appearance, from a table of the terms' keys
    (`keys.piece_keys`): each batch's distinct words are keyed and looked up at once (numpy, linear
    probing in a table kept at most half full), and the new ones are added in order.

    The table holds 40 to 50 bytes a term (each id's two keys, a slot or two, with room to grow),
    and no strings. One polars categorical mapping for the whole build, with the new terms kept as
    polars strings, held about 150 bytes a term: a corpus whose words are all new (30,000 documents
    of made-up words, 18 million terms) took 3.25 GB to index, now 1.50 GB. (Looking each batch's
    terms up in a sorted vocabulary cost time in step with the vocabulary: a million-document
    corpus numbers its articles, so its vocabulary passes a million terms.)

    The stop words take the first ids (below `stop`), so a token is dropped by its id."""

    FIRST_BITS = 16  # the table's first size: 2**16 slots
    PLACE_AT_ONCE = 1 << 20  # ids placed at once when the table doubles

    def __init__(self):
        self._key1 = np.zeros(1 << 12, dtype=np.uint64)  # each id's keys (stop words first)
        self._key2 = np.zeros(1 << 12, dtype=np.uint64)
        self._ids = 0  # ids given so far, stop words included
        self._slots = np.full(1 << self.FIRST_BITS, -1, dtype=np.int32)  # the id in each slot, -1 if none
        self._seed = np.uint64(int.from_bytes(os.urandom(8), "little"))  # (see `_slot`)
        self.stop = 0
        self.size = 0  # terms so far (stop words aside)
        self._add(*keys_of(list(stop_words())))
        self.stop = self._ids

    def keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Every term's two keys, in id order (stop words aside), handed over: the table lets go of
        them and of its slots (no more batches), so they are freed once the caller is done."""
        keys = self._key1[self.stop : self._ids], self._key2[self.stop : self._ids]
        self._slots = self._key1 = self._key2 = None
        return keys

    def of(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, term id) of every kept token of `texts`, in order, as int64 arrays. Each distinct word
        of the batch is keyed and looked up once: a polars categorical mapping of the batch alone
        (let go with it) numbers them in order of first appearance."""
        row, flat = _words(texts)
        codes = flat.cast(pl.Categorical(pl.Categories.random())).to_physical().to_numpy().astype(np.int64)
        first = _first_places(codes)  # where each distinct word first comes, in that order
        key1, key2 = series_keys(flat.gather(first))
        term = self._find(key1, key2)
        new = np.flatnonzero(term < 0)  # new terms: ids count on from the last, in order of first appearance
        term[new] = self._ids + np.arange(len(new))
        self._add(key1[new], key2[new])
        term = term[codes] - self.stop
        self.size = self._ids - self.stop
        kept = term >= 0
        if kept.all():  # no stop word (a made-up vocabulary, a batch of code): no copies
            return row, term
        return row[kept], term[kept]

    def _slot(self, key1: np.ndarray, key2: np.ndarray) -> np.ndarray:
        """Each key's first slot: the top bits of both keys mixed with this table's random seed. A
        corpus is someone else's: with slots it could work out, it could bring a hundred thousand
        short words of one slot and make each lookup walk them all. The slots never reach the
        index (ids come in order of first appearance), so the index is the same whatever the seed."""
        spread = mixed(key1 ^ self._seed, 0)
        spread += key2 * MIX
        spread = mixed(spread, 1)
        return (spread >> np.uint64(64 - (len(self._slots).bit_length() - 1))).astype(np.intp)

    def _find(self, key1: np.ndarray, key2: np.ndarray) -> np.ndarray:
        """Each key's id (int64), -1 for a key the table lacks: its slots from its first on, until
        its id or an empty slot."""
        found = np.full(len(key1), -1, dtype=np.int64)
        slot = self._slot(key1, key2)
        live = np.arange(len(key1))
        mask = len(self._slots) - 1
        while len(live):
            held = self._slots[slot[live]].astype(np.int64)
            full = held >= 0
            same = full & (self._key1[held] == key1[live]) & (self._key2[held] == key2[live])
            found[live[same]] = held[same]
            live = live[full & ~same]
            slot[live] = (slot[live] + 1) & mask
        return found

    def _add(self, key1: np.ndarray, key2: np.ndarray) -> None:
        """Give new, distinct keys the next ids, in order, and slots (the table doubles to stay at
        most half full)."""
        ids = np.arange(self._ids, self._ids + len(key1), dtype=np.int64)
        self._key1 = grown(self._key1, self._ids + len(key1))
        self._key2 = grown(self._key2, self._ids + len(key1))
        self._key1[ids], self._key2[ids] = key1, key2
        self._ids += len(key1)
        if 2 * self._ids > len(self._slots):
            size = len(self._slots)
            while 2 * self._ids > size:
                size *= 2
            self._slots = np.full(size, -1, dtype=np.int32)
            ids = np.arange(self._ids, dtype=np.int64)  # every id placed again
        # A slice of ids at a time: placing them takes about 60 bytes an id in arrays of its own.
        for start in range(0, len(ids), self.PLACE_AT_ONCE):
            self._place(ids[start : start + self.PLACE_AT_ONCE])

    def _place(self, ids: np.ndarray) -> None:
        """Put ids (keys not in the table) in the first empty slot from each one's first; of several
        reaching one empty slot together, the lowest id takes it and the others go on."""
        slot = self._slot(self._key1[ids], self._key2[ids])
        live = np.arange(len(ids))
        mask = len(self._slots) - 1
        while len(live):
            empty = self._slots[slot[live]] < 0
            trying = live[empty]
            taken, first = np.unique(slot[trying], return_index=True)  # (ids ascend along `live`)
            self._slots[taken] = ids[trying[first]]
            placed = np.zeros(len(ids), dtype=bool)
            placed[trying[first]] = True
            live = live[~placed[live]]
            slot[live] = (slot[live] + 1) & mask


def _first_places(codes: np.ndarray) -> np.ndarray:
    """Where each code first comes in `codes` (numbered 0, 1, 2, ... in order of first appearance, as
    a fresh polars categorical mapping numbers a series' values), in code order."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    seen = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate([[True], seen[1:] > seen[:-1]]))
    if not np.array_equal(codes[first], np.arange(len(first))):
        raise RuntimeError("polars numbered a batch's words out of their order of first appearance")
    return first


def grown(array: np.ndarray, size: int) -> np.ndarray:
    """`array` with room for at least `size` values, zeros after its own (grown by half again:
    growing by each batch's need alone copied the whole array per batch, quadratic over a build)."""
    if size <= len(array):
        return array
    return np.concatenate([array, np.zeros(max(size, len(array) * 3 // 2) - len(array), dtype=array.dtype)])


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts."""
    first = np.empty(len(values), dtype=bool)
    first[:1] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return np.flatnonzero(first)


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct value of a sorted array and how many times it occurs (`np.unique` without its copy
    and sort, for arrays already sorted)."""
    starts = _run_starts(values)
    return values[starts], np.diff(starts, append=len(values))


def _term_blocks(kept: np.ndarray, size: int | None = None) -> list[tuple[int, int]]:
    """Consecutive term ranges [low, high) of about `size` (BLOCK_POSTINGS) kept postings each."""
    size = size or BLOCK_POSTINGS
    ends = np.cumsum(kept)
    blocks, low = [], 0
    while low < len(kept):
        base = ends[low - 1] if low else 0
        high = int(np.searchsorted(ends, base + size, side="right"))
        high = max(high, low + 1)
        blocks.append((low, min(high, len(kept))))
        low = high
    return blocks


def top_k(scores: np.ndarray, ids: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (ids, scores), best first; ties go to the lower id, whatever order they came in
    (a partition alone would pick among the chunks tied with the k-th by their position). Without
    `ids`, a score's id is its position."""
    if len(scores) > k:
        kth = np.partition(-scores, k - 1)[k - 1]  # minus the k-th best score
        keep = np.flatnonzero(-scores <= kth)  # the k best and every chunk tied with the k-th
        scores, ids = scores[keep], keep if ids is None else ids[keep]
    elif ids is None:
        ids = np.arange(len(scores))
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


def _term_factor(count: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Each posting's BM25 term-frequency factor (its score over its term's idf), in float32, as the
    index stores it times the idf: in (0, K1 + 1)."""
    factor = count.astype(np.float32)
    factor *= (K1 + 1.0) / (factor + norm)
    return factor


def _score_bin(factor: np.ndarray) -> np.ndarray:
    """A posting's term factor (`_term_factor`) as one of SCORE_BINS bins: within one term, a higher
    bin is a higher score."""
    return np.minimum((factor * (SCORE_BINS / (K1 + 1.0))).astype(np.int32), SCORE_BINS - 1)


def top_by_chunk(
    chunk_ids: np.ndarray, scores: np.ndarray, k: int, sums: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k chunks whose postings' scores sum highest (positive sums only), best first, ties to the
    lower id (`top_k`), from a query's postings: each chunk at most once per term. Each chunk's sum
    adds its postings in the order they come, whichever way it is computed.

    Three ways, the same chunks and the same float sums (tested): with `sums` (a float64 per chunk of
    the index, zero between calls), the postings are added into it where they fall (`_top_by_table`);
    without, only the postings of the chunks that can rank are sorted by chunk (`_top_by_bounds`), or,
    for a query of few postings, all of them (`_top_by_sorting`). The table pays when the postings
    cover a good share of it (a corpus of few words: 57,000 postings in 22,649 chunks, 0.61 against
    0.91 ms a query); sorting pays when they are sparse in a large index, where each posting's add and
    read missed the cache (a million Zipf documents: 47,000 postings in two million chunks, 0.81
    against 1.02 ms; 100,000, 0.11 against 0.25; a million topical ones, 98,000 postings, 1.67
    against 2.0), and the 18 MB table no longer pushes the rest of a
    sample's work out of the cache: mining a million documents went 12 to 18% faster, more than the
    searches alone saved. Sorting only the chunks that can rank took a million topical documents'
    searches from 6.5 to 7.8 ms to 1.0 to 2.0 ms (72 captured queries, alternated in one process,
    a slow hour). `Bm25.search_many` chooses the table (`TABLE_SHARE`); the rest is chosen here."""
    if not len(chunk_ids):
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    if sums is not None:
        return _top_by_table(chunk_ids, scores, k, sums)
    if len(chunk_ids) >= 2 * BOUND_FIRST * k:
        return _top_by_bounds(chunk_ids, scores, k)
    return _top_by_sorting(chunk_ids, scores, k)


# `search_many` adds into a table when a query has at least 1/TABLE_SHARE as many postings as the index has chunks
TABLE_SHARE = 4


def _top_by_sorting(chunk_ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`top_by_chunk` by sorting the postings by (chunk, place in the query): each chunk's postings
    end up side by side in the order they came, and are summed in that order."""
    n = len(chunk_ids)
    if n >= 1 << 31:
        raise ValueError("a query of 2**31 postings or more")
    # One uint64 per posting, its place in the low half and its chunk in the high (little-endian):
    # sorting those sorts by chunk, then place; the halves are read back as views.
    pairs = np.empty((n, 2), dtype=np.uint32)
    pairs[:, 0] = np.arange(n, dtype=np.uint32)
    pairs[:, 1] = chunk_ids
    pairs.view(np.uint64).reshape(n).sort()
    place = pairs[:, 0].astype(np.intp)  # (contiguous: a strided uint32 index gathers at half the speed)
    chunk = pairs[:, 1]
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(chunk[1:], chunk[:-1], out=first[1:])
    run = np.cumsum(first, dtype=np.int32)  # each posting's chunk, numbered in chunk order from 1
    run -= 1  # (int32: a bool's own cumsum counts in int64, slowly: 0.49 against 0.19 ms for 98,000)
    starts = np.flatnonzero(first)
    # Added one posting at a time, in order, as the table does (`bincount` adds each weight to its bin
    # in turn; `add.reduceat` adds pairwise, in another order, and its floats differ in the last bit).
    summed = np.bincount(run, weights=np.asarray(scores, dtype=np.float64)[place], minlength=len(starts))
    # Sums are positive (BM25's idf and term factor are); ranked first, so that filtering them does not
    # copy every chunk's sum: the best positive ones are the best ones, in the same order.
    # Ranked by position: chunks come in id order, so ties still go to the lower id.
    best, values = top_k(summed, None, k)
    positive = values > 0
    return chunk[starts[best[positive]]].astype(np.int64), values[positive]


# `_top_by_bounds` first sums exactly the chunks of about BOUND_FIRST x k postings with the highest bounds
BOUND_FIRST = 16


def _top_by_bounds(
    chunk_ids: np.ndarray, scores: np.ndarray, k: int, slots: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`top_by_chunk` for a query whose postings are sparse in a large index: only the postings of the
    chunks that can be among the k best are sorted (`_top_by_sorting`), a few thousand of 98,000.

    Each posting falls in one of `slots` buckets by its chunk id's low bits (two to four times as
    many buckets as postings), and a bucket's sum (`bincount`: 2 MB for 98,000 postings) bounds the
    sum of each chunk in it: scores are positive, and rounding to nearest is monotonic, so a float sum
    with more positive terms mixed in is never below the sum without them. A chunk whose bound is
    below the k-th best sum cannot be among the k best. That k-th best is not known yet; the k-th
    best of any set of whole chunks is a floor under it, so the chunks of the postings with the
    highest bounds (about BOUND_FIRST x k of them, found on every 16th posting) are summed first, and
    their k-th best sum is the bar every other chunk's bound must reach. A chunk's postings share a
    bucket, so each chunk is kept or dropped whole and summed from all its postings in the order
    they came.

    In a million topical documents, no chunk found by one term alone was among a query's best (each
    posting scores below the k-th best sum), and about 2,000 postings cleared the bar."""
    n = len(chunk_ids)
    scores = np.asarray(scores, dtype=np.float64)
    slots = slots or 1 << max(10, int(n).bit_length() + 1)  # a power of two
    bucket = chunk_ids.astype(np.intp)  # (as intp: `bincount` and `take` would each convert an int32)
    bucket &= slots - 1
    bound = np.bincount(bucket, weights=scores, minlength=slots).take(bucket)  # each posting's chunk's bound
    stride = 16
    sampled = bound[::stride]
    first = BOUND_FIRST * k // stride
    if first < 1 or first > len(sampled) or scores.min() <= 0:  # (no floor to find; or a bound fails)
        return _top_by_sorting(chunk_ids, scores, k)
    bar = -np.partition(-sampled, first - 1)[first - 1]
    best = np.flatnonzero(bound >= bar)
    ids, sums = _top_by_sorting(chunk_ids[best], scores[best], k)
    if len(ids) < k:  # fewer than k chunks cleared it: no floor
        return _top_by_sorting(chunk_ids, scores, k)
    if sums[-1] >= bar:
        # Every chunk left out has a bound, so a sum, below the bar, so below the k-th best: these
        # are the k best (in a million Zipf documents' searches, more than half; the pass below
        # would find them again).
        return ids, sums
    kept = np.flatnonzero(bound >= sums[-1])
    return _top_by_sorting(chunk_ids[kept], scores[kept], k)


def _top_by_table(chunk_ids: np.ndarray, scores: np.ndarray, k: int, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`top_by_chunk` by adding into `sums` (its postings' entries are zeroed again before returning).
    Only the chunks of the k x QUERY_TERMS postings with the highest sums (and any tied with the last)
    can be among the k best, and only they are ranked (sorting every posting by chunk took longer
    for a query of 98,000 postings into 22,649 chunks)."""
    np.add.at(sums, chunk_ids, np.asarray(scores, dtype=np.float64))
    try:
        per_posting = sums[chunk_ids]
        keep = k * QUERY_TERMS
        if len(chunk_ids) > keep:
            bar = -np.partition(-per_posting, keep - 1)[keep - 1]
            candidates = np.unique(chunk_ids[per_posting >= bar]).astype(np.int64)
        else:
            candidates = np.unique(chunk_ids).astype(np.int64)
        summed = sums[candidates]
    finally:
        sums[chunk_ids] = 0.0
    positive = summed > 0
    return top_k(summed[positive], candidates[positive], k)


class _Pruning:
    """Which postings of each common term (in more than `limit` chunks) the index keeps: every one in a
    score bin above the term's cut bin, then the cut bin's in chunk order until the term has `limit`."""

    def __init__(self, frequency: np.ndarray, limit: int):
        self.common = frequency > limit
        self.slot = np.where(self.common, np.cumsum(self.common) - 1, -1)  # a common term's histogram row
        self.limit = limit
        # int32 and 1,024 bins: on a 65,536-word corpus of 2 million chunks, 13,000 terms are common
        # (int64 and 4,096 bins held 420 MB, and deciding copied it twice)
        self.histogram = np.zeros((int(self.common.sum()), SCORE_BINS), dtype=np.int32)
        self.cut = np.full(len(frequency), -1, dtype=np.int32)  # -1: keep all (a term that is not common)
        self.quota = np.zeros(len(frequency), dtype=np.int64)  # how many of the cut bin's chunks are left

    def cells(self, term: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """The histogram cells (flat) of the postings of common terms among (term, bins)."""
        slot = self.slot[term]
        common = np.flatnonzero(slot >= 0)  # (then gathers: a boolean mask took twice as long)
        cells = slot.take(common)
        cells *= SCORE_BINS
        cells += bins.take(common)
        return cells

    def count(self, cells: np.ndarray) -> None:
        np.add.at(self.histogram.reshape(-1), cells, np.int32(1))  # the histogram's own type: numpy's fast path (20x)

    def decide(self, rows: int = 1024) -> None:
        """Each common term's cut bin and how many of that bin's chunks it keeps (a block of terms at a
        time, so the running sums never copy the whole histogram)."""
        terms = np.flatnonzero(self.common)
        for start in range(0, len(terms), rows):
            block = self.histogram[start : start + rows]
            above = np.cumsum(block[:, ::-1], axis=1, dtype=np.int64)[:, ::-1]  # chunks in bin b or higher
            below = above < self.limit  # true from the bin above the cut on (above never grows with b)
            first_below = np.where(below.any(axis=1), np.argmax(below, axis=1), SCORE_BINS)
            padded = np.concatenate([above, np.zeros((len(above), 1), dtype=above.dtype)], axis=1)
            self.cut[terms[start : start + rows]] = first_below - 1
            self.quota[terms[start : start + rows]] = self.limit - padded[np.arange(len(above)), first_below]

    def select(self, term: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """The postings (of a run of parts, in chunk order within each term) that the index keeps."""
        cut = self.cut[term]
        chosen = bins > cut
        tied = np.flatnonzero(bins == cut)
        if len(tied):
            tied_terms = term[tied]
            by_term = np.argsort(tied_terms, kind="stable")  # (parts' terms ascend within each part only)
            sorted_terms = tied_terms[by_term]
            ordinal = np.empty(len(tied), dtype=np.int64)  # each tied posting's place among its term's
            ordinal[by_term] = np.arange(len(tied)) - np.searchsorted(sorted_terms, sorted_terms, side="left")
            take = ordinal < self.quota[tied_terms]
            chosen[tied[take]] = True
            # Only the terms taken from: a count over the whole vocabulary for each of a build's
            # (block, part) pairs was quadratic (a million-document corpus has a million terms, in
            # thousands of pairs).
            taken, times = _runs(sorted_terms[take[by_term]])
            self.quota[taken] -= times
        return chosen


def _block_postings(parts, starts, keep, norm, idf, terms, indptr, block: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Block `block`'s kept postings, term by term and each term's chunks in order: (scores as float32,
    chunk ids as int32), gathered from every part; None when it keeps none.

    Each term's postings are a known stretch of the block (`indptr`), and each part holds a term's
    chunks in order, after those of the parts before it: so each part's run of a term's kept postings
    goes straight to the place after that term's runs in the parts before it. Only the runs are sorted
    by term (sorting the postings took a seventh of the block's time; a million Zipf documents' matrix
    pass, alone on its scratch, went from 28.5 to 21-23 s with this alone). The parts are read
    a few at a time, as many consecutive ones as hold about GROUP_POSTINGS of the block's postings:
    a part at a time, a million documents' thousand parts were each sliced for each of their fifty
    blocks, and the fixed cost of those 50,000 slices grew as the square of the corpus (a third of
    the build)."""
    low, high = terms[block]
    base = int(indptr[low])
    size = int(indptr[high]) - base
    if size == 0:
        return None
    next_slot = indptr[low:high] - base  # where each of the block's terms goes on
    scores = np.empty(size, dtype=np.float32)
    chunks = np.empty(size, dtype=np.int32)
    for group in _groups(starts[:, block + 1] - starts[:, block]):
        sliced = [parts[n].slice(int(starts[n, block]), int(starts[n, block + 1])) for n in group]
        row, term, count = sliced[0] if len(sliced) == 1 else np.concatenate(sliced, axis=1)
        factor = _term_factor(count, norm[row])
        chosen = keep.select(term, _score_bin(factor))
        # (a gather at the chosen places: a boolean mask of a few in ten, as here, took six times as long)
        taken = np.flatnonzero(chosen)
        row, term, factor = row.take(taken), term.take(taken), factor.take(taken)
        if not len(term):
            continue
        # A part's postings of one term are a run, in chunk order, and its runs come after those of
        # the parts before it: each run goes to the place after the runs of its term before it.
        run = np.empty(len(term), dtype=bool)
        run[0] = True
        np.not_equal(term[1:], term[:-1], out=run[1:])
        part_starts = np.searchsorted(taken, np.cumsum([0] + [part.shape[1] for part in sliced[:-1]]))
        run[part_starts[part_starts < len(term)]] = True
        first = np.flatnonzero(run)
        many = np.diff(first, append=len(term))
        run_term = term[first] - low
        # Runs by term, each term's in part order: numpy sorts 16-bit keys stably by radix
        by_term = np.argsort(run_term.astype(np.uint16) if high - low <= 1 << 16 else run_term, kind="stable")
        sorted_term, sorted_many = run_term[by_term], many[by_term]
        before = np.cumsum(sorted_many) - sorted_many
        term_starts = _run_starts(sorted_term)
        before -= np.repeat(before[term_starts], np.diff(term_starts, append=len(sorted_term)))  # within its term
        slot = np.empty(len(first), dtype=np.int64)
        slot[by_term] = next_slot[sorted_term] + before
        place = np.arange(len(term)) + np.repeat(slot - first, many)
        factor *= idf[term]
        scores[place] = factor
        chunks[place] = row
        np.add.at(next_slot, run_term, many)
    if not np.array_equal(next_slot, indptr[low + 1 : high + 1] - base):
        raise RuntimeError("the index's pruned postings do not fill their terms' rows")
    return scores, chunks


GROUP_POSTINGS = 500_000  # a block's postings read from the scratch parts at once (at most, but for one part)


def _groups(sizes: np.ndarray) -> list[list[int]]:
    """Runs of consecutive parts with postings (`sizes`, each part's for one block) of about
    GROUP_POSTINGS postings each; a part larger than that is a run of its own."""
    groups: list[list[int]] = []
    held = GROUP_POSTINGS
    for n in np.flatnonzero(sizes).tolist():
        size = int(sizes[n])
        if held + size > GROUP_POSTINGS:
            groups.append([])
            held = 0
        groups[-1].append(n)
        held += size
    return groups


def _narrowest(most: int) -> np.dtype:
    """uint16 when values up to `most` fit in it, else int32."""
    return np.dtype(np.uint16) if most < 1 << 16 else np.dtype(np.int32)


@dataclass(frozen=True)
class _Part:
    """One batch's postings on disk, sorted by term then chunk: each posting's chunk (counted from the
    batch's first, `first`), term and count, as three raw columns of `size` values each, the chunks and
    counts in 16 bits where they fit (8 bytes a posting instead of 12: a million Zipf documents write a
    third less scratch), so a slice of them is three `pread`s. Read back as int32 (chunk ids global)."""

    path: Path
    size: int
    first: int
    types: tuple[np.dtype, np.dtype, np.dtype]

    @classmethod
    def of(cls, path: Path, chunks: int, first: int, counts: np.ndarray) -> _Part:
        """The part for a batch of `chunks` chunks whose first is chunk `first`, with these counts."""
        most = int(counts.max()) if len(counts) else 0
        types = (_narrowest(chunks - 1), np.dtype(np.int32), _narrowest(most))
        return cls(path, len(counts), first, types)

    def write(self, chunk: np.ndarray, term: np.ndarray, count: np.ndarray) -> None:
        with open(self.path, "wb") as handle:
            for values, dtype in zip((chunk, term, count), self.types, strict=True):
                values.astype(dtype, copy=False).tofile(handle)

    def _offsets(self) -> list[int]:
        return [0, self.size * self.types[0].itemsize, self.size * (self.types[0].itemsize + self.types[1].itemsize)]

    def _columns(self, data: list[bytes]) -> np.ndarray:
        out = np.empty((3, len(data[0]) // self.types[0].itemsize), dtype=np.int32)
        for n, (raw, dtype) in enumerate(zip(data, self.types, strict=True)):
            out[n] = np.frombuffer(raw, dtype=dtype)
        out[0] += self.first
        return out

    def load(self) -> np.ndarray:
        """Every posting, as a (3, size) int32 array: chunk ids, terms, counts."""
        return self.slice(0, self.size)

    def slice(self, start: int, end: int) -> np.ndarray:
        """Postings [start, end), as a (3, end - start) int32 array: chunk ids, terms, counts."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = [
                os.pread(fd, (end - start) * dtype.itemsize, at + start * dtype.itemsize)
                for at, dtype in zip(self._offsets(), self.types, strict=True)
            ]
        finally:
            os.close(fd)
        return self._columns(data)


class ArrayFile:
    """A .npy file read by slices of its first axis, each with one `pread`: a process holds the postings
    (or vectors) its searches read, never the file. Through a memory map, the kernel's read-around
    mapped several megabytes per search (a mining process of the million-document Zipf corpus reached
    1.75 GB; one of a 681,018-chunk dense index held its whole 697 MB of vectors after 600 searches)."""

    def __init__(self, path: Path):
        self._path = path
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            self._offset = handle.tell()
        if fortran:
            raise ValueError(f"{path} is stored column by column")
        self.dtype, self.size, self.shape = np.dtype(dtype), int(shape[0]), tuple(shape)
        self._row_bytes = self.dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __reduce__(self):  # another process opens the file itself
        return ArrayFile, (self._path,)

    def __len__(self) -> int:
        return self.size

    def read(self, start: int, end: int) -> np.ndarray:
        data = os.pread(self._fd, (end - start) * self._row_bytes, self._offset + start * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(-1, *self.shape[1:])

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (in range), in the order given: one `pread` each."""
        size, offset = self._row_bytes, self._offset
        data = b"".join(os.pread(self._fd, size, offset + int(row) * size) for row in rows)
        return np.frombuffer(data, dtype=self.dtype).reshape(len(rows), *self.shape[1:])


def _write_terms(folder: Path, keys: tuple[np.ndarray, np.ndarray]) -> None:
    """Every term's two keys (`keys.piece_keys`, in id order as `TermIds.keys` gives them), sorted
    (`term_key1.npy`, then `term_key2.npy` within equal first keys), and the term id at each place
    (`term_id.npy`): a search finds a term's id by two binary searches of its keys
    (`Bm25.term_ids`), so a loaded index holds 20 bytes a term for them and no strings. A dict of
    the terms (read from a JSON list of them) held about 150 bytes a term: a corpus of 100,000
    documents with 50 words of their own each (5 million terms) took 960 MB and 3.2 s to load."""
    first, second = keys
    # Stable: two terms with the same keys (long ones whose 128 bits of hash agree) keep their id
    # order, and the lower id is the one found.
    order = np.lexsort((second, first))
    np.save(folder / "term_key1.npy", first[order])
    np.save(folder / "term_key2.npy", second[order])
    np.save(folder / "term_id.npy", order.astype(np.int32))


@dataclass(frozen=True)
class _Scratch:
    """What an index build's first pass leaves: its postings in scratch parts (one a batch), each term's
    chunks (`frequency`) and each chunk's kept tokens (`length`)."""

    parts: list[_Part]
    frequency: np.ndarray
    length: np.ndarray


def _write_parts(batches: Iterable, scratch: Path, terms: TermIds) -> _Scratch:
    """Each batch's (chunk, term, count) triples, sorted by term then chunk, written to a scratch part in
    `scratch`, counting each term's chunks and each chunk's tokens: memory holds a few batches, never
    the corpus's postings. This thread finds each batch's terms; another sorts, counts and writes
    them (the thread that finds the terms was the build's slowest), in batch order."""
    scratch.mkdir()
    frequency = np.zeros(0, dtype=np.int64)  # chunks holding each term
    lengths: list[np.ndarray] = []
    parts: list[_Part] = []

    def write(row: np.ndarray, term: np.ndarray, chunks: int, first: int, size: int) -> None:  # in order
        nonlocal frequency
        key = term << 32  # (term, chunk) pairs, sorted and counted in place: by term, then chunk
        key |= row
        key.sort()
        pairs, count = _runs(key)
        part = _Part.of(scratch / f"{len(parts)}.bin", chunks, first, count)
        term_of_pair = (pairs >> 32).astype(np.int32)
        part.write(pairs & 0xFFFFFFFF, term_of_pair, count)
        parts.append(part)
        frequency = grown(frequency, size)
        found, holding = _runs(term_of_pair)  # the batch's terms (sorted) and how many chunks hold each
        frequency[found] += holding
        lengths.append(np.bincount(row, minlength=chunks))

    offset = 0
    with WriteBehind(name="longsynth-postings") as writer:  # a write the disk holds back waits there
        for batch in batches:
            row, term = terms.of(batch)
            writer.put(write, row, term, len(batch), offset, terms.size)
            offset += len(batch)
            del row, term
    length = np.concatenate(lengths).astype(np.float32) if lengths else np.zeros(0, np.float32)
    return _Scratch(parts, frequency[: terms.size], length)


def _write_matrix(scratch: _Scratch, folder: Path, postings_per_term: int) -> None:
    """The pruned (terms x chunks) matrix of BM25 scores from the scratch parts, as `indptr.npy`,
    `indices.npy` and `data.npy` in `folder`: a pass over the parts finds, for each common term, its
    chunks per score bin (the bin that holds its last kept chunk) and where each block of terms starts
    in each part; a second gathers each block's kept postings from the parts and appends them to the
    files (each term's chunks in order, as one sparse row)."""
    parts, frequency, length = scratch.parts, scratch.frequency, scratch.length
    chunks = len(length)
    idf = np.log(1.0 + (chunks - frequency.astype(np.float32) + 0.5) / (frequency.astype(np.float32) + 0.5))
    idf = idf.astype(np.float32)
    mean = max(1e-9, float(length.mean())) if len(length) else 1.0
    norm = (K1 * (1.0 - B + B * length / mean)).astype(np.float32)
    keep = _Pruning(frequency, postings_per_term)
    kept = np.minimum(frequency, postings_per_term)
    indptr = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    size = int(indptr[-1])
    # Two threads (where two cores are): each holds a block of half the size. More would split the
    # blocks finer, and every block slices every scratch part (a thousand at a million documents).
    workers = min(2, available_cores())
    blocks = _term_blocks(kept, max(1, BLOCK_POSTINGS // workers))
    # One pass over the parts: where each block's terms start in each part (its postings are sorted
    # by term), and each common term's chunks per score bin. (Searching each part again for each
    # block cost more than the search: a million documents make a thousand parts and 30 blocks.)
    edges = np.array([low for low, _ in blocks] + [len(kept)], dtype=np.int64)
    starts = np.zeros((len(parts), len(edges)), dtype=np.int64)

    def read_part(part: _Part) -> tuple[np.ndarray, np.ndarray | None]:  # on `workers` threads
        row, term, count = part.load()
        cells = keep.cells(term, _score_bin(_term_factor(count, norm[row]))) if keep.common.any() else None
        return np.searchsorted(term, edges, side="left"), cells

    for n, (found, cells) in enumerate(ordered_map(read_part, parts, workers=workers)):
        starts[n] = found
        if cells is not None:
            keep.count(cells)  # in part order, on this thread
    if keep.common.any():
        keep.decide()
    # The matrix is written term block by term block, each block's postings gathered from every
    # part (in part order, so each term's chunks come in order) and appended to the files: memory
    # holds one block. Writing part by part into a memory map touched every page of the files for
    # each part, so the whole matrix counted in the build's memory (550 MB at 300,000 documents).
    with open(folder / "data.npy", "wb") as data_file, open(folder / "indices.npy", "wb") as index_file:
        for handle, dtype in ((data_file, np.float32), (index_file, np.int32)):
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
            np.lib.format.write_array_header_1_0(handle, {**header, "shape": (size,)})
        # Blocks hold disjoint terms, so two are gathered at once (numpy releases the GIL; the
        # pruning's quotas are per term) and written in order (`ordered_map`).
        block_postings = functools.partial(_block_postings, parts, starts, keep, norm, idf, blocks, indptr)
        for found in ordered_map(block_postings, range(len(blocks)), workers=workers):
            if found is None:
                continue
            score, row = found
            score.tofile(data_file)  # (no copy, as `tobytes` made)
            row.tofile(index_file)
    np.save(folder / "indptr.npy", indptr)


def _check_terms(folder: Path, key1: np.ndarray, key2: np.ndarray, ids: np.ndarray, terms: int, rows: int) -> None:
    """The term files agree with each other and with the matrix: as many keys as terms, sorted, and
    each id once. Their sha256s are checked at load, but meta.json, which records them, is not itself
    hashed: an entry whose files were replaced and rehashed (a shared cache) raises here, and is
    rebuilt, instead of searching with ids outside the matrix."""
    size = len(key1)
    if not size == len(key2) == len(ids) == terms == rows:
        raise ValueError(f"{folder}: the index's term files do not agree in length")
    ordered = (key1[1:] > key1[:-1]) | ((key1[1:] == key1[:-1]) & (key2[1:] >= key2[:-1]))
    if size and (not ordered.all() or ids.min() < 0 or ids.max() >= size):
        raise ValueError(f"{folder}: the index's term keys are out of order or its term ids out of range")
    seen = np.zeros(size, dtype=bool)
    seen[ids] = True
    if not seen.all():
        raise ValueError(f"{folder}: the index's term ids are not each term once")


class Bm25:
    def __init__(self, folder: Path):
        meta = json.loads((folder / "bm25.json").read_text())
        self.chunks = int(meta["chunks"])
        self.frequency = np.load(folder / "frequency.npy")  # chunks holding each term (before pruning)
        self.indptr = np.load(folder / "indptr.npy")  # term t's postings are [indptr[t], indptr[t + 1])
        self._indices = ArrayFile(folder / "indices.npy")  # each posting's chunk, in order within a term
        self._scores = ArrayFile(folder / "data.npy")  # and its BM25 score
        # The terms' keys, sorted, and each one's term id (`_write_terms`, `term_ids`)
        self._key1 = np.load(folder / "term_key1.npy")
        self._key2 = np.load(folder / "term_key2.npy")
        self._key_id = np.load(folder / "term_id.npy")
        _check_terms(folder, self._key1, self._key2, self._key_id, len(self.frequency), len(self.indptr) - 1)
        self._sums: np.ndarray | None = None  # a search's per-chunk sums (`top_by_chunk`), made on first use
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # rows read last
        self._row_bytes = 0
        self._lock = threading.Lock()

    # The postings rows read last are kept, up to this many bytes (a full row is 4,096 x 8 bytes): the
    # same terms come back query after query (a topical corpus has a few hundred words), and each read
    # was two `pread`s of 16 KB, a sixth of a search of a million documents.
    ROW_CACHE_BYTES = 32 << 20

    def __getstate__(self) -> dict:  # another process makes its own table, row cache and lock
        return {**self.__dict__, "_sums": None, "_rows": OrderedDict(), "_row_bytes": 0, "_lock": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def row(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Term `term`'s kept (chunk ids, scores), chunk ids ascending (read-only arrays)."""
        with self._lock:
            found = self._rows.get(term)
            if found is not None:
                self._rows.move_to_end(term)
                return found
        start, end = int(self.indptr[term]), int(self.indptr[term + 1])
        found = (self._indices.read(start, end), self._scores.read(start, end))
        with self._lock:
            if term not in self._rows:
                self._rows[term] = found
                self._row_bytes += found[0].nbytes + found[1].nbytes
                while self._row_bytes > self.ROW_CACHE_BYTES and len(self._rows) > 1:
                    ids, scores = self._rows.popitem(last=False)[1]
                    self._row_bytes -= ids.nbytes + scores.nbytes
        return found

    @property
    def terms(self) -> int:
        """How many terms the index holds (ids 0 to terms - 1, in order of first appearance)."""
        return len(self.frequency)

    def term_ids(self, terms: list[str]) -> np.ndarray:
        """Each term's id, -1 for a term the index does not have: its keys (`keys.keys_of`) looked up
        in the index's sorted keys. Equal first keys are a short term and a long one whose hash is
        the short one's bytes, or two long ones: rare, and the second key decides."""
        ids = np.full(len(terms), -1, dtype=np.int64)
        if not terms or not len(self._key1):
            return ids
        first, second = keys_of(terms)
        low = np.searchsorted(self._key1, first, side="left")
        high = np.searchsorted(self._key1, first, side="right")
        at = low.copy()
        for n in np.flatnonzero(high - low > 1).tolist():
            at[n] += int(np.searchsorted(self._key2[low[n] : high[n]], second[n], side="left"))
        hit = np.flatnonzero(at < high)
        hit = hit[self._key2[at[hit]] == second[hit]]
        ids[hit] = self._key_id[at[hit]]
        return ids

    def document_frequency(self, terms: list[str]) -> np.ndarray:
        """How many chunks hold each term (before pruning; 0 for a term the index does not have)."""
        ids = self.term_ids(terms)
        held = np.zeros(len(terms), dtype=np.float64)
        known = ids >= 0
        held[known] = self.frequency[ids[known]]
        return held

    def idf(self, terms: list[str]) -> np.ndarray:
        """BM25's idf of each term (0 for a term the index does not have)."""
        chunks = self.chunks
        held = self.document_frequency(terms)
        return np.where(held > 0, np.log(1.0 + (chunks - held + 0.5) / (held + 0.5)), 0.0)

    @classmethod
    def write(
        cls,
        batches: Iterable[list[str]],  # (or whatever `terms.of` takes: a `PieceTable` takes its splits)
        folder: Path,
        postings_per_term: int | None = None,
        terms: TermIds | None = None,
    ) -> int:
        """Index every chunk of `batches` (chunk ids count on across batches) into `folder` (`load` reads
        it); returns how many terms the index holds.

        Each term keeps only its `postings_per_term` best-scoring chunks (an impact-pruned index): a
        query then reads at most QUERY_TERMS x that many postings however large the corpus is, so the
        cost of a search stays flat as the corpus grows. A term in fewer chunks keeps them all, so a
        rare word still finds every chunk that has it; what a common word loses are the chunks where
        it counts least (a long chunk that says it once).

        Passes over scratch files, so memory holds one batch, never the corpus's postings (13 million
        for 100,000 documents): the first tokenizes each batch and writes its (chunk, term, count)
        triples, counting each term's chunks and each chunk's tokens; once idf and the mean length
        are known, the second counts, for each common term, its chunks per score bin (the bin that
        holds its last kept chunk) and notes where each block of terms starts in each part; the third
        gathers each block's kept postings from the parts and appends them to the matrix's files
        (each term's chunks in order, as one sparse row). Ties in that last bin go to the lower chunk
        id. The index is the same whatever the batches and blocks (tested)."""
        postings_per_term = postings_per_term or POSTINGS_PER_TERM
        folder.mkdir(parents=True, exist_ok=True)
        scratch_folder = folder / "postings"
        terms = terms or TermIds()
        scratch = _write_parts(batches, scratch_folder, terms)
        # The terms' keys first, so they are let go before the matrix's pass (at 5 million terms,
        # the peak is in that pass: 683 MiB with them let go, 801 held; bench/nextlong_vocabulary.py)
        _write_terms(folder, terms.keys())
        _write_matrix(scratch, folder, postings_per_term)
        for part in scratch.parts:
            part.path.unlink()
        scratch_folder.rmdir()
        np.save(folder / "frequency.npy", scratch.frequency.astype(np.int32))  # (chunk ids are int32 too)
        count = len(scratch.frequency)
        meta = {"chunks": len(scratch.length), "terms": count, "postings_per_term": postings_per_term}
        (folder / "bm25.json").write_text(json.dumps(meta))
        return count

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        return cls(folder)

    def search_many(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, up to k (chunk ids, scores) with a positive score, best first."""
        rows, terms = terms_of(queries)
        ids = self.term_ids(terms)
        known = ids >= 0
        size = len(self.indptr) - 1
        pairs, times = np.unique(rows[known] * size + ids[known], return_counts=True)
        query_rows, query_terms = pairs // size, pairs % size
        held = self.frequency[query_terms]
        order = np.lexsort((query_terms, held, query_rows))  # each query's rarest first
        query_rows, query_terms, times, held = query_rows[order], query_terms[order], times[order], held[order]
        # A term one chunk holds finds that chunk alone: a query keeps QUERY_TERMS of those (one posting
        # each; lowest term ids) apart from its QUERY_TERMS rarest among the terms chunks share. Ranked
        # with the rest, a chunk's own unique words (names, numbers) took the slots of the words that
        # find its negatives: a corpus whose chunks each have 24 words of their own found none at all.
        shared = held > 1
        position = np.arange(len(query_rows))
        first = np.searchsorted(query_rows, query_rows, side="left")  # where each term's query starts
        before = np.concatenate([[0], np.cumsum(shared)])  # shared terms before each position
        kept = np.where(shared, before[:-1] - before[first], position - first) < QUERY_TERMS
        query_rows, query_terms, times = query_rows[kept], query_terms[kept], times[kept]
        bounds = np.searchsorted(query_rows, np.arange(len(queries) + 1), side="left")
        results = []
        for n in range(len(queries)):
            rows = [self.row(int(t)) for t in query_terms[bounds[n] : bounds[n + 1]]]
            weights = times[bounds[n] : bounds[n + 1]]
            chunk_ids = np.concatenate([ids for ids, _ in rows] or [np.zeros(0, np.int32)])
            # Each posting's score times its term's count in the query, in float64 (exact: a float32
            # times a small count). One conversion and one product: a product per row, with numpy's
            # int64 count, took 17 to 50 us a row, 0.4 to 1.2 ms a query of 24 rows (0.09 ms this way).
            scores = np.concatenate([found for _, found in rows] or [np.zeros(0, np.float32)]).astype(np.float64)
            scores *= np.repeat(weights.astype(np.float64), [len(ids) for ids, _ in rows])
            table = None
            if len(chunk_ids) * TABLE_SHARE >= self.chunks:
                if self._sums is None:
                    self._sums = np.zeros(self.chunks, dtype=np.float64)
                table = self._sums
            results.append(top_by_chunk(chunk_ids, scores, k, table))
        return results
