"""Keys of byte strings (a text's pieces, an index's terms): two 64-bit numbers each, found for many
strings at once with numpy. A string of at most 8 bytes is its own key (its bytes and its length), so
no two such strings share one; a longer one has two 64-bit hashes of its bytes. Used to look pieces up
in the index build's memo (`pieces`) and terms up in a BM25 index (`bm25.Bm25.term_ids`), where a dict
of Python strings cost about 150 bytes a term.
"""

from __future__ import annotations

import numpy as np
import polars as pl

_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LONG = np.uint64(1 << 63)
MIX = np.uint64(0x9E3779B97F4A7C15)


def piece_keys(data: bytes, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit keys for each piece `data[start:end]` (8 bytes must follow the last): a piece of at
    most 8 bytes is itself (its bytes as a little-endian number, and its length), so no two such
    pieces can be taken for one; a longer piece has two 64-bit hashes of its bytes (the second with
    its top bit set, so never a short piece's length). (Two of the longer pieces whose 128 bits
    agree would be taken for one: natural text does not do that, and a corpus crafted to would
    mislead only its own index: the token counts of its pieces, which plan samples that are
    measured anyway, and the statistics of its terms.)"""
    length = end - start
    # Eight bytes from each piece's start: a view that steps one byte at a time (8 zero bytes follow)
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    first = words[start]
    first &= _BYTE_MASKS.take(np.minimum(length, 8))
    long = np.flatnonzero(length > 8)
    one, two = _hashes(words, start[long], length[long])
    second = length.view(np.uint64)  # (lengths are never negative)
    first[long], second[long] = one, two | _LONG
    return first, second


def _hashes(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit hashes of each piece of more than 8 bytes, 8 bytes a round (each round takes the
    pieces still longer)."""
    one = length.astype(np.uint64) * MIX
    two = ~one
    live = np.arange(len(start))
    done = 0
    while len(live):
        left = length[live] - done
        word = words[start[live] + done] & _BYTE_MASKS[np.minimum(left, 8)]
        one[live] = mixed(one[live] ^ word, 0)
        two[live] = mixed(two[live] + word, 1)
        done += 8
        live = live[left > 8]
    return one, two


def mixed(value: np.ndarray, seed: int | np.uint64) -> np.ndarray:
    """A 64-bit finalizer (splitmix64's, on a seeded value): every input bit moves every output bit."""
    value = value + np.uint64(seed) * MIX
    value ^= value >> np.uint64(30)
    value *= np.uint64(0xBF58476D1CE4E5B9)
    value ^= value >> np.uint64(27)
    value *= np.uint64(0x94D049BB133111EB)
    value ^= value >> np.uint64(31)
    return value


def keys_of(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The keys (`piece_keys`) of each of `texts`, from their UTF-8 bytes."""
    encoded = [text.encode("utf-8") for text in texts]
    length = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    end = np.cumsum(length)
    return piece_keys(b"".join([*encoded, bytes(8)]), end - length, end)


def series_keys(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """`keys_of` for a polars series of strings, without making each one a Python string (a batch's
    distinct words in the index build: tens of thousands at once)."""
    length = texts.str.len_bytes().to_numpy().astype(np.int64)
    end = np.cumsum(length)
    return piece_keys(texts.str.join("").item().encode("utf-8") + bytes(8), end - length, end)
