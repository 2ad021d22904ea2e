"""An index's chunks as pieces: each distinct piece tokenized once, for its token count and its BM25 terms.

A chunk of prose is a few hundred words from a vocabulary that repeats: a million documents hold about
600 million words but a few million distinct pieces (a word with what sticks to it: punctuation, a
line break). Counting every chunk's tokens with a BPE and finding its BM25 words with a regex did the
same work again for every repeat. Here a batch is cut into pieces by polars (a split at spaces, on the
thread that reads the batches), each piece is looked up by its hashes in a fixed table of the pieces
seen lately, the others are counted and split into words once per batch, and each chunk's count and
terms are gathered from those.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from ...tokenizers import PIECE_UNSURE, Tokenizer
from .bm25 import TermIds, grown

# The memo's size: 2**21 slots of 32 bytes and a batch number (72 MB), whatever the corpus. (2**20 held
# the Zipf corpus's 400,000 live pieces so crowded that a piece whose slot a more frequent one held missed
# in every batch: 55,000 pieces a batch missed, 9,700 with 2**21, and a 200,000-document index's batch
# phase went from 24-26 to 21-22 s.)
SLOT_BITS = 21
HASH_SEEDS = (0x5EED1, 0x5EED2)
TERM_STORE = 1 << 23  # terms the memo's pieces may hold (64 MB) before it starts over
CHECK_EVERY = 1000  # every 1,000th text counted by its pieces is also counted whole (see `PieceTable`)


@dataclass(frozen=True)
class Split:
    """One batch's texts (with the suffix) cut into pieces: each piece's text without its leading
    space (`flat`), its text's row (`owner`) and each text's first piece (`first`); the two 64-bit
    hashes of each piece's text (`_Memo`) when given (a test's), else made by `PieceTable.of`."""

    series: pl.Series
    flat: pl.Series
    owner: np.ndarray
    first: np.ndarray
    hashes: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.series)


def split(texts: list[str], suffix: str = "") -> Split:
    """Each of `texts` + `suffix` cut before every space and after every line break: polars alone,
    outside the GIL, on the thread that reads the batches while another maps the batch before
    (`PieceTable.of`, which finds the rest: each piece's hashes, whether it comes alone, and which
    texts to count whole). A split at spaces took a quarter of the time of a regex that finds the
    pieces."""
    series = pl.Series(texts, dtype=pl.String)
    if suffix:
        series = series + suffix
    parts = series.str.replace_all("\n", "\n ", literal=True).str.split(" ")
    many = parts.list.len().to_numpy()
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), many)
    first = np.cumsum(many, dtype=np.int64) - many  # (every text has a part: splitting "" gives [""])
    return Split(series, parts.explode(), owner, first)


@dataclass(frozen=True)
class _Marks:
    """What `PieceTable.of` finds in a `Split`: whether each piece comes without a leading space
    (`bare`: a text's first piece, or one after a line break; `alone`: where), which texts must be
    counted whole (`whole`: `PIECE_UNSURE` finds a cut there that is not certain, see the note above
    it in `tokenizers`), and each piece's two hashes. (Found on the mapping thread: the reading
    thread, which also makes and chunks the documents, was the build's slowest.)"""

    bare: np.ndarray
    alone: np.ndarray
    whole: np.ndarray
    hashes: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, batch: Split) -> _Marks:
        """The scans run as one polars query, on its threads at once (7.6 against 14.5 ms for a
        batch of 620,000 pieces, alone; the reading thread leaves a core free part of the time)."""
        piece = pl.col("piece")
        columns = [piece.str.ends_with("\n").alias("broken")]
        if batch.hashes is None:
            columns += [piece.hash(HASH_SEEDS[0]).alias("first"), piece.hash(HASH_SEEDS[1]).alias("second")]
        pieces = pl.LazyFrame({"piece": batch.flat}).select(columns)
        texts = pl.LazyFrame({"text": batch.series}).select(pl.col("text").str.contains(PIECE_UNSURE))
        found, unsure = pl.collect_all([pieces, texts])
        bare = np.empty(len(found), dtype=bool)
        bare[1:] = found["broken"].to_numpy()[:-1]  # the space after a line break was put there
        bare[batch.first] = True
        hashes = batch.hashes or (found["first"].to_numpy(), found["second"].to_numpy())
        return cls(bare, np.flatnonzero(bare), unsure["text"].to_numpy(), hashes)


class _Memo:
    """The pieces seen lately, one per slot (a slot per first hash's low bits): each slot's two hashes,
    its piece's token count after a space and alone (-1 until the piece is seen alone), its BM25
    term or where its terms lie in `terms`, and how many; and, apart, the last batch that used each slot.

    A piece whose two 64-bit hashes match its slot's takes the slot's values with a few array
    lookups (a polars categorical mapping took 170 ns a piece, most of the mapping thread's time,
    and grew with every distinct piece: 140 bytes each). A new piece takes its slot unless the
    holder was used in this batch or the one before; one that finds its slot held is worked out
    again in each batch it comes in. The memory is fixed: slots, and a store of terms that starts
    over when full (evicted pieces leave their terms behind).

    Two different pieces with the same 128 bits of hash would be taken for one; the hashes are
    polars', seeded, and not built to resist a corpus crafted to collide (such a corpus would mislead
    only its own index's token counts, which plan samples that are measured anyway, and its terms)."""

    # One row of 32 bytes per slot, so a lookup reads one cache line, and numpy's `take` copies it
    # as one 32-byte word (a 40-byte row, with the batch that last used it, was copied byte by byte:
    # 11 against 6 ms for 620,000 pieces; seven gathers from separate arrays took 11 ms; a structured
    # dtype's gather, far longer): the two hashes, then in 32 bits the piece's term (its only one) or
    # where its terms start in `terms` (two or more), its token count after a space and alone, and
    # how many terms it has. (Most pieces are one word: looking every term up in the store, 64 MB
    # read all over, took a tenth of the mapping thread's time.)
    FIRST, SECOND = 0, 1  # 64-bit columns
    TERM, SPACED, BARE, TERM_COUNT = 4, 5, 6, 7  # 32-bit columns (of the same rows seen as eight)

    def __init__(self):
        self.slots = np.zeros((1 << SLOT_BITS, 4), dtype=np.uint64)
        self.used = np.zeros(1 << SLOT_BITS, dtype=np.int32)  # the last batch that used each slot
        self.batch = 0
        self.clear()

    def clear(self) -> None:
        """Empty every slot and the store of terms (in place: a second table would double the memory)."""
        size = len(self.slots)
        self.slots[:] = 0
        # An empty slot's first hash ends in other bits than its own index, so no piece matches it.
        self.slots[:, self.FIRST] = np.arange(size, dtype=np.uint64) ^ np.uint64(1)
        self.used[:] = -2
        self.terms = np.zeros(1 << 16, dtype=np.int64)
        self.terms_used = 0

    def find(self, hashes: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(each piece's slot row, found); the found slots are marked used by this batch."""
        first, second = hashes
        slot = (first & np.uint64((1 << SLOT_BITS) - 1)).astype(np.intp)
        rows = np.take(self.slots, slot, axis=0)  # (`self.slots[slot]` took four times as long)
        found = rows[:, self.FIRST] == first
        found &= rows[:, self.SECOND] == second
        self.batch += 1
        self.used[slot[found]] = self.batch
        return rows, found

    @classmethod
    def fields(cls, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(spaced, bare, term or term start, term count) of slot rows: views of `rows` (int32)."""
        halves = rows.view(np.int32)
        return halves[:, cls.SPACED], halves[:, cls.BARE], halves[:, cls.TERM], halves[:, cls.TERM_COUNT]

    def add_terms(self, terms: np.ndarray) -> int:
        """Store `terms`; returns where they start."""
        start = self.terms_used
        self.terms = grown(self.terms, start + len(terms))
        self.terms[start : start + len(terms)] = terms
        self.terms_used += len(terms)
        return start

    def keep(self, hashes: tuple[np.ndarray, np.ndarray], values: tuple[np.ndarray, ...]) -> None:
        """Give pieces (their hashes; spaced, bare, term or term start, term count) their slots, where the
        holder was not used in this batch or the last, or is the same piece (now also seen alone)."""
        slot = (hashes[0] & np.uint64((1 << SLOT_BITS) - 1)).astype(np.intp)
        held = np.take(self.slots, slot, axis=0)
        free = self.used[slot] < self.batch - 1
        free |= (held[:, self.FIRST] == hashes[0]) & (held[:, self.SECOND] == hashes[1])
        rows = np.zeros((int(free.sum()), 4), dtype=np.uint64)
        rows[:, self.FIRST], rows[:, self.SECOND] = hashes[0][free], hashes[1][free]
        halves = rows.view(np.int32)
        for column, value in zip((self.SPACED, self.BARE, self.TERM, self.TERM_COUNT), values, strict=True):
            halves[:, column] = value[free]
        self.slots[slot[free]] = rows
        self.used[slot[free]] = self.batch


class PieceTable:
    """BM25 terms (as `TermIds.of` finds them in whole texts) and token counts (of each text plus
    `suffix`, as `tokenizer.count` gives them) of a build's batches, one batch at a time (`of`).

    Terms: a word never spans a cut (spaces and line breaks are never part of one), so a text's
    words are its pieces' words in order; the batch's pieces the memo lacks go through
    `TermIds.of` in order of first appearance, and a word's first appearance lies in such a piece's
    first, so term ids come in order of first appearance as for whole texts (tested; the index's
    bytes are the same). Counts: each piece's count with and without its leading space; a text's
    count is its pieces' counts summed unless it is to be counted whole (`_Marks`). Every
    `CHECK_EVERY`-th text summed is also counted whole by the tokenizer: one difference and every
    later text is counted whole (with a warning)."""

    def __init__(self, tokenizer: Tokenizer, suffix: str = ""):
        self.tokenizer = tokenizer
        self.suffix = suffix
        if hasattr(tokenizer, "count_in_bulk"):  # (the new pieces of a batch are too few to load quicktok)
            tokenizer.count_in_bulk()
        self.terms = TermIds()
        self.counts: list[np.ndarray] = []  # each batch's token counts, in order
        self._memo: _Memo | None = _Memo()
        self._by_pieces = True  # counts are summed from pieces (until a check disagrees)
        self._checked = 0  # texts summed so far (every CHECK_EVERY-th is counted whole too)

    @property
    def size(self) -> int:
        """Terms so far (as `TermIds.size`)."""
        return self.terms.size

    def vocabulary(self) -> pl.Series:
        """Every term, in id order (`TermIds.vocabulary`); the memo is let go (no more batches), so
        the index's later passes do not hold it (`counts` stays)."""
        self._memo = None
        return self.terms.vocabulary()

    def split(self, texts: list[str]) -> Split:
        return split(texts, self.suffix)

    def of(self, batch: Split | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, term id) of every kept token of the batch's texts, in order, as int64 arrays (as
        `TermIds.of`); the texts' token counts are appended to `counts`."""
        if not isinstance(batch, Split):
            batch = self.split(batch)
        if self._memo.terms_used > TERM_STORE:
            self._memo.clear()
        memo = self._memo
        marks = _Marks.of(batch)
        rows, found = memo.find(marks.hashes)
        spaced, bare, term, many = memo.fields(rows)
        unknown = marks.alone[bare[marks.alone] < 0]  # first seen after a space: no count alone yet
        found[unknown] = False
        missed = np.flatnonzero(~found)
        if len(missed):
            which, learnt = self._learn(batch, marks, missed)
            for field, value in zip((spaced, bare, term, many), learnt, strict=True):
                field[missed] = value[which]
        tokens = spaced.copy()
        tokens[marks.alone] = bare[marks.alone]
        self.counts.append(self._counted(batch, marks.whole, tokens))
        held = np.flatnonzero(many)
        if not (many > 1).any():  # (each piece one word or none: most text) its term is in its row
            return batch.owner[held], term[held].astype(np.int64)
        many, term = many[held], term[held]
        ends = np.cumsum(many, dtype=np.int64)
        terms = np.empty(int(ends[-1]), dtype=np.int64)
        one = many == 1
        terms[ends[one] - 1] = term[one]
        several = np.flatnonzero(~one)  # pieces of two or more terms: theirs are in the store, in order
        size = many[several]
        offset = np.cumsum(size, dtype=np.int64) - size
        step = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(offset, size)
        terms[np.repeat(ends[several] - size, size) + step] = memo.terms[np.repeat(term[several], size) + step]
        return np.repeat(batch.owner[held], many), terms

    def _learn(self, batch: Split, marks: _Marks, missed: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The pieces at `missed` the memo lacks, each distinct one (by its hashes) counted and split
        into words once, in order of first appearance, and kept in the memo where it may: (each
        missed piece's distinct one, their (spaced, bare, term or term start, term count)). A piece is
        counted alone only if it comes alone in this batch (a text's first piece, or one after a
        line break: one in sixty): its count alone is -1 until then."""
        first, second = marks.hashes[0][missed], marks.hashes[1][missed]
        order = np.lexsort((second, first))  # stable: equal pieces keep their order
        new = np.ones(len(order), dtype=bool)
        new[1:] = (first[order][1:] != first[order][:-1]) | (second[order][1:] != second[order][:-1])
        run = np.cumsum(new) - 1  # each missed piece's distinct piece, numbered in hash order
        appears = order[new]  # where each distinct piece first appears (among the missed)
        by_appearance = np.argsort(appears, kind="stable")
        rank = np.empty(len(appears), dtype=np.int64)
        rank[by_appearance] = np.arange(len(appears))
        which = np.empty(len(missed), dtype=np.int64)
        which[order] = rank[run]  # each missed piece's distinct piece, numbered by first appearance
        at = appears[by_appearance]
        texts = batch.flat.gather(missed[at]).to_list()
        alone = np.zeros(len(texts), dtype=bool)
        alone[which[marks.bare[missed]]] = True
        alone_at = np.flatnonzero(alone).tolist()
        # Both forms in one call (the tokenizer's fast counter was loaded for them: `count_in_bulk`)
        counts = self.tokenizer.count_many([" " + text for text in texts] + [texts[n] for n in alone_at])
        counts = np.asarray(counts, dtype=np.int32)
        bare = np.full(len(texts), -1, dtype=np.int32)
        bare[alone_at] = counts[len(texts) :]
        row, term = self.terms.of(texts)
        term_count = np.bincount(row, minlength=len(texts)).astype(np.int32)
        # A piece's one term goes in its row; two or more, to the store, and their start in the row
        held = np.zeros(len(texts), dtype=np.int32)
        begins = np.cumsum(term_count, dtype=np.int64) - term_count
        one = term_count == 1
        held[one] = term[begins[one]]
        several = term_count > 1
        if several.any():
            stored = several[row]
            start = self._memo.add_terms(term[stored])
            size = term_count[several]
            held[several] = start + np.cumsum(size, dtype=np.int64) - size
        values = (counts[: len(texts)], bare, held, term_count)
        self._memo.keep((first[at], second[at]), values)
        return which, values

    def _counted(self, batch: Split, whole: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Each text's token count: its pieces' `tokens` summed where that is exact, else counted whole."""
        series, n = batch.series, len(batch)
        if not self._by_pieces:
            return np.asarray(self.tokenizer.count_many(series.to_list()), dtype=np.int64)
        counts = np.add.reduceat(tokens, batch.first, dtype=np.int64) if n else np.zeros(0, np.int64)
        summed = np.flatnonzero(~whole)
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
        if whole.any():
            rows = np.flatnonzero(whole)
            counts[rows] = self.tokenizer.count_many(series.gather(rows).to_list())
        return counts
