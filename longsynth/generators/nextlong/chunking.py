"""Cutting documents into meta-chunks (NExtLong).

A meta-chunk is a group of whole lines up to `chunk_size` characters (2048 by
default, as in the reference code), or up to a token budget when a token
counter is given. A single line longer than that is split at a sentence end
(a Chinese or Japanese full stop needs no space after it), else at a blank,
else between two characters (a line of Chinese, a blob). Each chunk
records the text that followed it in the document (its joiner: a newline, or
nothing for a split line), so the chunks always reproduce the document
exactly: `doc == "".join(chunk.text + chunk.joiner for chunk in chunks)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_CHUNK = 16  # the smallest meta-chunk size, in characters or tokens
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|(?<=[。！？])")
_LAST_BLANK = re.compile(r"\s\S*\Z")  # the last whitespace character of a text (linear: \S* stops at the next)


@dataclass(frozen=True)
class Chunk:
    text: str
    joiner: str  # "\n" or "" (what followed the chunk in its document)
    start: int  # char offset in the document


def _split_long_line(line: str, size: int, length: Callable[[str], int] = len) -> list[str]:
    """Pieces of at most `size` (chars, or tokens with a token `length`; a cut keeps the blank or full
    stop after it, so one more), concatenating to the line. Cut after a sentence end if one is near
    (`.!?` and a blank, or `。！？`), else after a space, a tab or any other blank, else where the size
    ends. A line with none of those was one piece: a 21,000-character line of Chinese one chunk of
    26,000 tokens (every NExtLong sample of such a corpus dropped, no negative fitting its share), a
    line of 99,999 tabs between two words one of 6,254 that no 4K sample could fit.

    Linear in the line: the line is walked by offset (never re-sliced from the cut on), and a token
    budget is searched for within a window just wider than one piece, never over the rest of the line
    (a 0.7 MB line with no breaks took 57 s at 256 tokens, growing four-fold per doubling)."""
    pieces = []
    pos, end = 0, len(line)
    while pos < end:
        fits = _longest_prefix(line, pos, size, length)
        if pos + fits >= end:  # the rest fits
            pieces.append(line[pos:])
            break
        window = line[pos : pos + fits + 1]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window)), default=-1)
        if cut < fits // 4:  # after the window's last blank: its last space, or one after that
            space = window.rfind(" ")
            blank = _LAST_BLANK.search(window, space + 1)  # (the regex only past the last space: fast)
            cut = (blank.start() if blank else space) + 1
        if cut <= 0:  # no blank and no full stop (Chinese, a blob): where the size ends
            cut = fits
        pieces.append(line[pos : pos + cut])
        pos += cut
    if not pieces:
        pieces.append(line)
    return pieces


def _longest_prefix(text: str, start: int, size: int, length: Callable[[str], int]) -> int:
    """The most characters of `text` from `start` whose `length` stays within `size`: all that remain
    if they fit. By characters directly; by tokens, a window doubled until it no longer fits (so each
    count covers about one piece), then a binary search inside it."""
    remaining = len(text) - start
    if length is len:
        return min(size, remaining)
    width, fitting = min(remaining, 4 * size + 16), 0
    while length(text[start : start + width]) <= size:
        if width == remaining:
            return remaining
        width, fitting = min(remaining, 2 * width), width
    lo, hi = max(1, fitting), width  # text[start:start + fitting] fits, text[start:start + width] does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if length(text[start : start + mid]) <= size:
            lo = mid
        else:
            hi = mid - 1
    return lo


def chunk_document(text: str, size: int = 2048, length: Callable[[str], int] = len) -> list[Chunk]:
    """Meta-chunks of a document: newline-bounded groups of lines up to `size` (characters by default,
    tokens when `length` counts tokens)."""
    if size < MIN_CHUNK:
        raise ValueError(f"chunk size must be at least {MIN_CHUNK}")
    chunks: list[Chunk] = []
    lines = text.split("\n")
    group: list[str] = []
    group_start = 0
    group_chars = 0  # len("\n".join(group)), kept as lines come when sizes are characters
    offset = 0

    def flush(joiner: str) -> None:
        nonlocal group, group_start
        if group:
            body = "\n".join(group)
            chunks.append(Chunk(body, joiner, group_start))
            group = []

    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if length(line) > size:
            flush("\n")
            pieces = _split_long_line(line, size, length)
            start = offset
            for k, piece in enumerate(pieces):
                joiner = "" if k < len(pieces) - 1 else ("" if last else "\n")
                chunks.append(Chunk(piece, joiner, start))
                start += len(piece)
        else:
            if length is len:  # characters add up (tokens need not: a join can merge across the newline)
                candidate = group_chars + 1 + len(line) if group else len(line)
            else:
                candidate = length("\n".join(group + [line]))
            if group and candidate > size:
                flush("\n")
            if not group:
                group_start = offset
            group_chars = group_chars + 1 + len(line) if group else len(line)
            group.append(line)
        offset += len(line) + 1
    flush("")
    # The final chunk is followed by nothing.
    if chunks and chunks[-1].joiner:
        last = chunks[-1]
        chunks[-1] = Chunk(last.text, "", last.start)
    return chunks


ROUNDS = 64  # `chunk_texts`'s rounds: a text of more characters than this many chunks' is walked line by line


def chunk_texts(texts: Sequence[str], size: int = 2048) -> tuple[list[str], list[str], list[int]]:
    """The meta-chunks of each of `texts` as `chunk_document(text, size)` makes them (sizes in
    characters), all texts' in one list: (chunk texts, their joiners, how many chunks each text has).

    The lines of all texts are grouped at once: a chunk ends where the running count of its lines'
    characters (and the line breaks between them) would pass `size`, found for every text together
    by searching that running count, one chunk of each text per round. A text with a line longer
    than `size` goes to `chunk_document`, which cuts long lines at sentence ends and spaces; so does
    a text long enough for more than about 2 x ROUNDS chunks (each round costs the same however few
    texts are left in it: a 512 MiB text in 16-character chunks would take 30 million). (Walking
    each line in Python took an index's reading thread 13 ms per 1,024 documents of ten lines; this,
    about 4.)"""
    import numpy as np
    import polars as pl

    if size < MIN_CHUNK:
        raise ValueError(f"chunk size must be at least {MIN_CHUNK}")
    if not texts:
        return [], [], []
    lines = pl.Series(texts, dtype=pl.String).str.split("\n")
    per_text = lines.list.len().to_numpy().astype(np.int64)  # (splitting "" gives [""]: never 0)
    length = lines.explode().str.len_chars().to_numpy().astype(np.int64)
    first = np.cumsum(per_text) - per_text  # each text's first line
    end = first + per_text
    # before[i]: the characters before line i, a line break counted after every line (texts' last too)
    before = np.zeros(len(length) + 1, dtype=np.int64)
    np.cumsum(length + 1, out=before[1:])
    # By `chunk_document`: texts with a line longer than `size`, and texts of many chunks (two
    # chunks in a row hold more than `size` characters, so a text has at most 2 x its size / `size`)
    walked = np.add.reduceat((length > size).astype(np.int64), first) > 0
    walked |= before[end] - before[first] > ROUNDS * size
    text = np.flatnonzero(~walked)
    line = first[text]
    found_text, found_start, found_end = [], [], []
    while len(text):
        # The chunk from `line` takes every further line while its characters stay within `size`
        # (a line is at most `size`, so it takes at least one).
        stop = np.minimum(np.searchsorted(before, before[line] + size + 1, side="right") - 1, end[text])
        found_text.append(text)
        found_start.append(line)
        found_end.append(stop)
        more = stop < end[text]
        text, line = text[more], stop[more]
    many = np.zeros(len(texts), dtype=np.int64)  # each text's chunks
    out_texts: list[str] = []
    joiners: list[str] = []
    if found_text:
        owner, start, stop = (np.concatenate(found) for found in (found_text, found_start, found_end))
        order = np.argsort(start)  # lines are numbered across texts, text by text: in text order
        owner, start, stop = owner[order], start[order], stop[order]
        offset = (before[start] - before[first[owner]]).tolist()  # in its text
        chars = (before[stop] - before[start] - 1).tolist()
        newline = (stop < end[owner]).tolist()  # a line break follows every chunk but its text's last
        owner = owner.tolist()
        out_texts = [texts[n][at : at + count] for n, at, count in zip(owner, offset, chars, strict=True)]
        joiners = ["\n" if joined else "" for joined in newline]
        many += np.bincount(owner, minlength=len(texts))
    if not walked.any():
        return out_texts, joiners, many.tolist()
    # The walked texts' chunks go in among the others', text by text
    merged_texts: list[str] = []
    merged_joiners: list[str] = []
    taken = 0
    for n, walk in enumerate(walked.tolist()):
        if walk:
            chunks = chunk_document(texts[n], size)
            merged_texts += [chunk.text for chunk in chunks]
            merged_joiners += [chunk.joiner for chunk in chunks]
            many[n] = len(chunks)
        else:
            count = int(many[n])
            merged_texts += out_texts[taken : taken + count]
            merged_joiners += joiners[taken : taken + count]
            taken += count
    return merged_texts, merged_joiners, many.tolist()
