"""An index's chunks as pieces: each distinct piece tokenized once, for its token count and its BM25 terms.

A chunk of prose is a few hundred words from a vocabulary that repeats: a million documents hold about
600 million words but a few million distinct pieces (a word with what sticks to it: punctuation, a
line break). Counting every chunk's tokens with a BPE and finding its BM25 words with a regex did the
same work again for every repeat. Here a batch's bytes are cut into pieces at spaces and line breaks,
each piece is looked up by its keys (its bytes, or two hashes of a longer one) in a fixed table of
the pieces seen lately, the others are counted and split into words once per batch, and each chunk's
count and terms are gathered from those.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from ...tokenizers import PIECE_UNSURE, Tokenizer
from .bm25 import TermIds, grown
from .keys import MIX, piece_keys

# The memo's size: 2**21 slots of 32 bytes and a batch number (72 MB), whatever the corpus. (With one
# slot a piece, 2**20 held the Zipf corpus's 400,000 live pieces so crowded that a piece whose slot a
# more frequent one held missed in every batch: 55,000 pieces a batch missed, 9,700 with 2**21, and a
# 200,000-document index's batch phase went from 24-26 to 21-22 s. With two slots a piece, 2**20 slots
# miss 1,600 pieces a batch and 2**21 1,200, and the lookups took as long.)
SLOT_BITS = 21
TERM_STORE = 1 << 23  # terms the memo's pieces may hold (64 MB) before it starts over
CHECK_EVERY = 1000  # every 1,000th text counted by its pieces is also counted whole (see `PieceTable`)


@dataclass(frozen=True)
class Split:
    """One batch's texts (with the suffix), made ready on the thread that reads the batches: the texts
    (`series`), their UTF-8 bytes one after another (`data`, 8 zero bytes after; `text_start`: where
    each starts), and which must be counted whole (`whole`: `PIECE_UNSURE` finds a cut there that
    is not certain, see the note above it in `tokenizers`). Their pieces are cut on the mapping
    thread (`_Pieces`). `keys`: each piece's keys, when given (a test's)."""

    series: pl.Series
    data: bytes
    text_start: np.ndarray
    whole: np.ndarray
    keys: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.series)


def split(texts: list[str], suffix: str = "", encoded: list[bytes] | None = None) -> Split:
    """`texts` + `suffix` as a `Split` (`encoded`: the texts' UTF-8 bytes, when the caller has them).
    The batch's pieces are cut from these bytes on the mapping thread: numpy arrays made on one
    thread and let go on another made the reading thread's memory arena keep 160 MB more."""
    if encoded is None:
        encoded = [text.encode("utf-8") for text in texts]
    ending = suffix.encode("utf-8")
    data = ending.join([*encoded, bytes(8)])  # (8 zero bytes after the last text's ending: see `piece_keys`)
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)) + len(ending)
    series = pl.Series(texts, dtype=pl.String)
    if suffix:
        series = series + suffix
    return Split(series, data, np.cumsum(sizes) - sizes, series.str.contains(PIECE_UNSURE).to_numpy())


SPACE, LINE_BREAK = 0x20, 0x0A


@dataclass(frozen=True)
class _Pieces:
    """A `Split`'s texts cut before every space (which neither piece keeps: the one after is counted
    with it) and after every line break, as `str.split(" ")` cuts a text with a space put after each
    line break: each piece's bytes `data[start:end]` (without its leading space), whether it comes
    without one (`bare`: a text's first piece, or one after a line break; `alone`: where), its
    text's row (`owner`), each text's first piece (`first`) and each piece's two keys (`piece_keys`). A
    text's first piece, a piece after two spaces or after a line break followed by a space may be
    empty, and a text that ends with a line break ends with an empty piece.

    The cuts are found in the batch's bytes by numpy: polars' split, on the reading thread, made
    every piece a string (26 ns a piece, a fifth of that thread's time); here no piece is made a
    string unless the memo lacks it."""

    start: np.ndarray
    end: np.ndarray
    bare: np.ndarray
    alone: np.ndarray
    owner: np.ndarray
    first: np.ndarray
    keys: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, batch: Split) -> _Pieces:
        data, text_start = batch.data, batch.text_start
        raw = np.frombuffer(data, dtype=np.uint8, count=len(data) - 8)
        cut = np.flatnonzero((raw == SPACE) | (raw == LINE_BREAK))
        after_space = raw[cut] == SPACE
        # A piece's text starts after each cut (p + 1), and at each text's start t: after the pieces of
        # a cut just before t (the text before ends with it) and before those of a cut at t.
        at = np.searchsorted(cut, text_start, side="left")
        first = at + np.arange(len(text_start), dtype=np.int64)
        start = np.insert(cut + 1, at, text_start)
        spaced = np.insert(after_space, at, False)
        end = np.empty_like(start)
        np.subtract(start[1:], spaced[1:], out=end[:-1])  # (before the space that starts the next)
        end[-1:] = len(raw)
        owner = np.repeat(np.arange(len(text_start), dtype=np.int64), np.diff(first, append=len(start)))
        bare = ~spaced
        keys = batch.keys or piece_keys(data, start, end)
        return cls(start, end, bare, np.flatnonzero(bare), owner, first, keys)

    def texts(self, data: bytes, pieces: np.ndarray) -> list[str]:
        """The text of the pieces at `pieces` (cut at ASCII bytes, so each is whole UTF-8)."""
        starts, ends = self.start[pieces].tolist(), self.end[pieces].tolist()
        return [data[a:b].decode("utf-8") for a, b in zip(starts, ends, strict=True)]


_SLOT_MULTIPLIERS = (np.uint64(0xD6E8FEB86659FD93), np.uint64(0xC2B2AE3D27D4EB4F))


class _Memo:
    """The pieces seen lately, each in one of its two slots: each slot's piece's keys (`piece_keys`),
    token count after a space and alone (-1 until the piece is seen alone), its BM25 term or where its
    terms lie in `terms`, and how many; and, apart, the last batch that used each slot.

    A piece whose keys match its first or second slot's takes the slot's values with a few array
    lookups (a polars categorical mapping took 170 ns a piece, most of the mapping thread's time,
    and grew with every distinct piece: 140 bytes each). A new piece takes the first of its slots
    whose holder was not used in this batch or the one before; one that finds both held is worked
    out again in each batch it comes in. (With one slot a piece, 9,000 pieces of a Zipf batch missed,
    most of them because a more frequent piece held their slot; with two, 1,200.) The memory is fixed:
    slots, and a store of terms that starts over when full (evicted pieces leave their terms behind)."""

    # One row of 32 bytes per slot, so a lookup reads one cache line, and numpy's `take` copies it
    # as one 32-byte word (a 40-byte row, with the batch that last used it, was copied byte by byte:
    # 11 against 6 ms for 620,000 pieces; seven gathers from separate arrays took 11 ms; a structured
    # dtype's gather, far longer): the two keys, then in 32 bits the piece's term (its only one) or
    # where its terms start in `terms` (two or more), its token count after a space and alone, and
    # how many terms it has. (Most pieces are one word: looking every term up in the store, 64 MB
    # read all over, took a tenth of the mapping thread's time.)
    FIRST, SECOND = 0, 1  # 64-bit columns
    TERM, SPACED, BARE, TERM_COUNT = 4, 5, 6, 7  # 32-bit columns (of the same rows seen as eight)
    EMPTY = 9  # an empty slot's second key: no piece's (a short piece's is its length, a long one's is huge)

    def __init__(self):
        self.slots = np.zeros((1 << SLOT_BITS, 4), dtype=np.uint64)
        self.used = np.zeros(1 << SLOT_BITS, dtype=np.int32)  # the last batch that used each slot
        self.batch = 0
        self.clear()

    def clear(self) -> None:
        """Empty every slot and the store of terms (in place: a second table would double the memory)."""
        self.slots[:] = 0
        self.slots[:, self.SECOND] = self.EMPTY
        self.used[:] = -2
        self.terms = np.zeros(1 << 16, dtype=np.int64)
        self.terms_used = 0

    @staticmethod
    def _slot(keys: tuple[np.ndarray, np.ndarray], choice: int) -> np.ndarray:
        """Each piece's first (`choice` 0) or second slot: the top bits of its keys' sum times an odd
        number (a short piece's first key is its bytes, whose low bits are its first letter)."""
        mixed = keys[0] + keys[1] * MIX
        if choice:
            mixed ^= mixed >> np.uint64(29)
        mixed *= _SLOT_MULTIPLIERS[choice]
        return (mixed >> np.uint64(64 - SLOT_BITS)).astype(np.intp)

    def find(self, keys: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(each piece's slot row, found); the found slots are marked used by this batch. A piece is
        looked for in its first slot, and the few not there (one in forty) in their second."""
        first, second = keys
        slot = self._slot(keys, 0)
        rows = np.take(self.slots, slot, axis=0)  # (`self.slots[slot]` took four times as long)
        found = rows[:, self.FIRST] == first
        found &= rows[:, self.SECOND] == second
        missed = np.flatnonzero(~found)
        other = self._slot((first[missed], second[missed]), 1)
        again = np.take(self.slots, other, axis=0)
        hit = (again[:, self.FIRST] == first[missed]) & (again[:, self.SECOND] == second[missed])
        there = missed[hit]
        rows[there], slot[there], found[there] = again[hit], other[hit], True
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

    def keep(self, keys: tuple[np.ndarray, np.ndarray], values: tuple[np.ndarray, ...]) -> None:
        """Give pieces (their keys; spaced, bare, term or term start, term count) a slot: the first of
        their two that holds the same piece (now also seen alone), else the first whose holder was not
        used in this batch or the last; a piece whose both slots are held waits for a later batch."""
        choices = [self._slot(keys, 0), self._slot(keys, 1)]
        same, free = [], []
        for slot in choices:
            held = np.take(self.slots, slot, axis=0)
            same.append((held[:, self.FIRST] == keys[0]) & (held[:, self.SECOND] == keys[1]))
            free.append(self.used[slot] < self.batch - 1)
        second = ~same[0] & (same[1] | ~free[0])  # (where the first slot is neither the same nor free)
        slot = np.where(second, choices[1], choices[0])
        kept = np.where(second, same[1] | free[1], True)
        rows = np.zeros((int(kept.sum()), 4), dtype=np.uint64)
        rows[:, self.FIRST], rows[:, self.SECOND] = keys[0][kept], keys[1][kept]
        halves = rows.view(np.int32)
        for column, value in zip((self.SPACED, self.BARE, self.TERM, self.TERM_COUNT), values, strict=True):
            halves[:, column] = value[kept]
        self.slots[slot[kept]] = rows
        self.used[slot[kept]] = self.batch


class PieceTable:
    """BM25 terms (as `TermIds.of` finds them in whole texts) and token counts (of each text plus
    `suffix`, as `tokenizer.count` gives them) of a build's batches, one batch at a time (`of`).

    Terms: a word never spans a cut (spaces and line breaks are never part of one), so a text's
    words are its pieces' words in order; the batch's pieces the memo lacks go through
    `TermIds.of` in order of first appearance, and a word's first appearance lies in such a piece's
    first, so term ids come in order of first appearance as for whole texts (tested; the index's
    bytes are the same). Counts: each piece's count with and without its leading space; a text's
    count is its pieces' counts summed unless it is to be counted whole (`Split.whole`). Every
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

    def keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Every term's keys, in id order (`TermIds.keys`); the memo is let go (no more batches), so
        the index's later passes do not hold it (`counts` stays)."""
        self._memo = None
        return self.terms.keys()

    def split(self, texts: list[str], encoded: list[bytes] | None = None) -> Split:
        """`texts` cut into pieces (`split`; `encoded`: their UTF-8 bytes, when the caller has them)."""
        return split(texts, self.suffix, encoded)

    def of(self, batch: Split | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, term id) of every kept token of the batch's texts, in order, as int64 arrays (as
        `TermIds.of`); the texts' token counts are appended to `counts`."""
        if not isinstance(batch, Split):
            batch = self.split(batch)
        if self._memo.terms_used > TERM_STORE:
            self._memo.clear()
        memo = self._memo
        pieces = _Pieces.of(batch)
        rows, found = memo.find(pieces.keys)
        spaced, bare, term, many = memo.fields(rows)
        unknown = pieces.alone[bare[pieces.alone] < 0]  # first seen after a space: no count alone yet
        found[unknown] = False
        missed = np.flatnonzero(~found)
        if len(missed):
            which, learnt = self._learn(batch, pieces, missed)
            for field, value in zip((spaced, bare, term, many), learnt, strict=True):
                field[missed] = value[which]
        tokens = spaced.copy()
        tokens[pieces.alone] = bare[pieces.alone]
        self.counts.append(self._counted(batch, pieces.first, tokens))
        held = np.flatnonzero(many)
        if not (many > 1).any():  # (each piece one word or none: most text) its term is in its row
            return pieces.owner[held], term[held].astype(np.int64)
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
        return np.repeat(pieces.owner[held], many), terms

    def _learn(self, batch: Split, pieces: _Pieces, missed: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The pieces at `missed` the memo lacks, each distinct one (by its keys) counted and split
        into words once, in order of first appearance, and kept in the memo where it may: (each
        missed piece's distinct one, their (spaced, bare, term or term start, term count)). A piece is
        counted alone only if it comes alone in this batch (a text's first piece, or one after a
        line break: one in sixty): its count alone is -1 until then."""
        first, second = pieces.keys[0][missed], pieces.keys[1][missed]
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
        texts = pieces.texts(batch.data, missed[at])
        alone = np.zeros(len(texts), dtype=bool)
        alone[which[pieces.bare[missed]]] = True
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

    def _counted(self, batch: Split, first: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Each text's token count: its pieces' `tokens` (each text's from its `first`) summed where that
        is exact, else counted whole."""
        series, whole, n = batch.series, batch.whole, len(batch)
        if not self._by_pieces:
            return np.asarray(self.tokenizer.count_many(series.to_list()), dtype=np.int64)
        counts = np.add.reduceat(tokens, first, dtype=np.int64) if n else np.zeros(0, np.int64)
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
