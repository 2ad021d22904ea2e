"""An index's chunks as pieces: each distinct piece tokenized once, for its token count and its BM25 terms.

A chunk of prose is a few hundred words from a vocabulary that repeats: a million documents hold about
600 million words but a few million distinct pieces (a word with what sticks to it: punctuation, a
line break). Counting every chunk's tokens with a BPE and finding its BM25 words with a regex did the
same work again for every repeat. Here a batch is cut into pieces by polars (a split at spaces, on the
thread that reads the batches), the pieces are numbered by one polars categorical mapping (a lookup
each), the new ones are counted and split into words once, and each chunk's count and terms are
gathered from those.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from ...tokenizers import PIECE_UNSURE, Tokenizer
from .bm25 import TermIds

SLOT_BITS = 21  # the slot cache's size: 2**21 slots of 24 bytes (48 MB)
HASH_SEEDS = (0x5EED1, 0x5EED2)
MAX_PIECES = 4_000_000  # distinct pieces remembered before the memo starts over (bounds its memory)
CHECK_EVERY = 1000  # every 1,000th text counted by its pieces is also counted whole (see `PieceTable`)


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """`array` with room for at least `size` values (grown by half again: growing by each batch's
    need alone copied the whole array per batch)."""
    if size <= len(array):
        return array
    return np.concatenate([array, np.zeros(max(size, len(array) * 3 // 2) - len(array), dtype=array.dtype)])


@dataclass(frozen=True)
class Split:
    """One batch's texts (with the suffix) cut into pieces: each piece's text without its leading
    space (`flat`), its text's row (`owner`), whether it has no leading space (`bare`: a text's
    first piece, or one after a line break), and which texts must be counted whole (`whole`)."""

    series: pl.Series
    flat: pl.Series
    owner: np.ndarray
    bare: np.ndarray
    whole: np.ndarray
    hashes: tuple[np.ndarray, np.ndarray]  # two 64-bit hashes of each piece's text (`_SlotCache`)

    def __len__(self) -> int:
        return len(self.series)


def split(texts: list[str], suffix: str = "") -> Split:
    """Each of `texts` + `suffix` cut before every space and after every line break: polars alone,
    outside the GIL, so the thread that reads the batches does it while another maps the batch
    before. (A split at spaces took a quarter of the time of a regex that finds the pieces.)

    A text's token count is its pieces' counts summed when every cut is certain (`PIECE_UNSURE`
    finds none: see `tokenizers.PIECE_PATTERN`); otherwise `whole` says to count it whole."""
    series = pl.Series(texts, dtype=pl.String)
    if suffix:
        series = series + suffix
    parts = series.str.replace_all("\n", "\n ", literal=True).str.split(" ")
    many = parts.list.len().to_numpy()
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), many)
    flat = parts.explode()
    bare = np.empty(len(flat), dtype=bool)
    bare[1:] = flat.str.ends_with("\n").to_numpy()[:-1]  # the space after a line break was put there
    bare[np.cumsum(many) - many] = True  # (every text has a part: splitting "" gives [""])
    whole = series.str.contains(PIECE_UNSURE).to_numpy()
    hashes = (flat.hash(HASH_SEEDS[0]).to_numpy(), flat.hash(HASH_SEEDS[1]).to_numpy())
    return Split(series, flat, owner, bare, whole, hashes)


class _SlotCache:
    """Piece ids of the pieces seen last, by a slot per hash: a piece whose two 64-bit hashes match
    its slot's gets the slot's id with two array lookups, where the categorical mapping took 170 ns
    a piece (most of an index build's mapping thread). Only the rest (new pieces, and those whose
    slot another piece holds) go through the mapping, which stays the source of every id, and then
    take their slots, unless the holder was used in this batch or the one before.

    Two different pieces with the same 128 bits of hash would share an id; the hashes are polars',
    seeded, and not built to resist a corpus crafted to collide (such a corpus would mislead only
    its own index's token counts, which plan samples that are measured anyway, and its BM25 terms)."""

    def __init__(self):
        size = 1 << SLOT_BITS
        # An empty slot's first hash ends in other bits than its own index, so no piece matches it.
        self.first = np.arange(size, dtype=np.uint64) ^ np.uint64(1)
        self.second = np.zeros(size, dtype=np.uint64)
        self.piece = np.zeros(size, dtype=np.int64)
        self.used = np.full(size, -2, dtype=np.int64)  # the last batch that found its piece here
        self.batch = 0

    def find(self, hashes: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slot, piece id, found) of each piece: ids are good where `found`."""
        first, second = hashes
        slot = (first & np.uint64((1 << SLOT_BITS) - 1)).astype(np.intp)
        found = self.first[slot] == first
        found &= self.second[slot] == second
        self.batch += 1
        self.used[slot[found]] = self.batch
        return slot, self.piece[slot], found

    def keep(self, slot: np.ndarray, hashes: tuple[np.ndarray, np.ndarray], piece: np.ndarray) -> None:
        """Give these pieces their slots, where the holder was not used in this batch or the last."""
        free = self.used[slot] < self.batch - 1
        slot = slot[free]
        self.first[slot], self.second[slot] = hashes[0][free], hashes[1][free]
        self.piece[slot] = piece[free]
        self.used[slot] = self.batch


class PieceTable:
    """BM25 terms (as `TermIds.of` finds them in whole texts) and token counts (of each text plus
    `suffix`, as `tokenizer.count` gives them) of a build's batches, one batch at a time (`of`).

    Terms: a word never spans a cut (spaces and line breaks are never part of one), so a text's
    words are its pieces' words in order; a new piece's words go through `TermIds.of`, in order of
    the piece's first appearance, so term ids come in order of first appearance as for whole texts
    (tested; the index's bytes are the same). Counts: each piece's count with and without its
    leading space is kept; a text's count is its pieces' counts summed unless `split` marked it
    `whole`. Every `CHECK_EVERY`-th text summed is also counted whole by the tokenizer: one
    difference and every later text is counted whole (with a warning).

    The memo keeps up to MAX_PIECES pieces, then starts over (a corpus of many one-off pieces,
    numbers or addresses, would otherwise grow it without end); term ids live in `TermIds` and are
    never forgotten."""

    def __init__(self, tokenizer: Tokenizer, suffix: str = ""):
        self.tokenizer = tokenizer
        self.suffix = suffix
        self.terms = TermIds()
        self.counts: list[np.ndarray] = []  # each batch's token counts, in order
        self._by_pieces = True  # counts are summed from pieces (until a check disagrees)
        self._checked = 0  # texts summed so far (every CHECK_EVERY-th is counted whole too)
        self._forget()

    def _forget(self) -> None:
        """Start the memo over. Piece 0 is "" (no tokens, no terms), whose series keeps the mapping
        alive (a polars mapping lives as long as a series uses it)."""
        self._dtype = pl.Categorical(pl.Categories.random())
        self._held = pl.Series([""], dtype=pl.String).cast(self._dtype)
        self._cache = _SlotCache()
        self._pieces = 1
        size = 1 << 16
        self._spaced = np.zeros(size, dtype=np.int64)  # each piece's token count after a space
        self._bare = np.zeros(size, dtype=np.int64)  # and alone
        self._first_term = np.zeros(size, dtype=np.int64)  # where its terms start in _term_ids
        self._term_count = np.zeros(size, dtype=np.int64)  # and how many it has
        self._term_ids = np.zeros(size, dtype=np.int64)
        self._term_used = 0

    @property
    def size(self) -> int:
        """Terms so far (as `TermIds.size`)."""
        return self.terms.size

    def vocabulary(self) -> pl.Series:
        """Every term, in id order (`TermIds.vocabulary`); the memo is let go (no more batches)."""
        self._held = None
        return self.terms.vocabulary()

    def split(self, texts: list[str]) -> Split:
        return split(texts, self.suffix)

    def of(self, batch: Split | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, term id) of every kept token of the batch's texts, in order, as int64 arrays (as
        `TermIds.of`); the texts' token counts are appended to `counts`."""
        if not isinstance(batch, Split):
            batch = self.split(batch)
        if self._pieces >= MAX_PIECES:
            self._forget()
        slot, piece, found = self._cache.find(batch.hashes)
        missed = np.flatnonzero(~found)
        if len(missed):  # through the mapping, then into the cache
            flat = batch.flat.gather(missed)
            ids = flat.cast(self._dtype).to_physical().to_numpy().astype(np.int64)
            self._learn(flat, ids)
            piece[missed] = ids
            self._cache.keep(slot[missed], (batch.hashes[0][missed], batch.hashes[1][missed]), ids)
        self.counts.append(self._counted(batch, piece))
        many = self._term_count[piece]  # each piece's terms, in order: a gather of runs
        ends = np.cumsum(many)
        at = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
        at += np.repeat(self._first_term[piece] - (ends - many), many)
        return np.repeat(batch.owner, many), self._term_ids[at]

    def _learn(self, flat: pl.Series, piece: np.ndarray) -> None:
        """Count and split the pieces first seen in this batch (numbered from `_pieces` on)."""
        new = np.flatnonzero(piece >= self._pieces)
        if not len(new):
            return
        ids, first = np.unique(piece[new], return_index=True)
        if ids[0] != self._pieces or ids[-1] != self._pieces + len(ids) - 1:
            raise RuntimeError("the index's piece mapping lost pieces during the build")
        order = np.argsort(first, kind="stable")  # by first appearance: terms are numbered in that order
        ids, texts = ids[order], flat.gather(new[first[order]]).to_list()
        top = self._pieces + len(ids)
        for name in ("_spaced", "_bare", "_first_term", "_term_count"):
            setattr(self, name, _grown(getattr(self, name), top))
        # Both forms in one call: a large corpus's first batches are then big enough for the
        # tokenizer's fast counter (`count_many`), which the later, smaller ones use once it is loaded.
        counts = self.tokenizer.count_many(texts + [" " + text for text in texts])
        self._bare[ids], self._spaced[ids] = counts[: len(texts)], counts[len(texts) :]
        row, term = self.terms.of(texts)
        many = np.bincount(row, minlength=len(texts))
        self._term_count[ids] = many
        self._first_term[ids] = self._term_used + np.cumsum(many) - many
        self._term_ids = _grown(self._term_ids, self._term_used + len(term))
        self._term_ids[self._term_used : self._term_used + len(term)] = term
        self._term_used += len(term)
        self._pieces = top

    def _counted(self, batch: Split, piece: np.ndarray) -> np.ndarray:
        """Each text's token count: its pieces' counts summed where that is exact, else counted whole."""
        series, n = batch.series, len(batch)
        if not self._by_pieces:
            return np.asarray(self.tokenizer.count_many(series.to_list()), dtype=np.int64)
        tokens = np.where(batch.bare, self._bare[piece], self._spaced[piece])
        counts = np.bincount(batch.owner, weights=tokens, minlength=n).astype(np.int64)
        summed = np.flatnonzero(~batch.whole)
        checks = summed[(self._checked + np.arange(len(summed))) % CHECK_EVERY == 0]
        self._checked += len(summed)
        texts = series.gather(checks).to_list()
        if any(self.tokenizer.count(text) != int(counts[row]) for text, row in zip(texts, checks, strict=True)):
            self._by_pieces = False
            warnings.warn(
                f"{self.tokenizer.name}: a text's pieces did not add up to its token count; counting whole texts",
                stacklevel=3,
            )
            return np.asarray(self.tokenizer.count_many(series.to_list()), dtype=np.int64)
        if batch.whole.any():
            rows = np.flatnonzero(batch.whole)
            counts[rows] = self.tokenizer.count_many(series.gather(rows).to_list())
        return counts
