"""Word lists for RULER's aggregation tasks.

`cwe` lists real English words: the noun, adjective and verb lists of the `wonderwords` package, as
RULER draws them (read from the installed package, never copied), lower-case letters only, without
its profanity list, sorted so nothing depends on file order: 8,034 words. A 128K list uses about
8,000 of them (each other word three times). RULER switches to a larger English list when its words
run out; ours continue with pronounceable made-up words (consonant-vowel syllables), drawn only after
every real word, which happens for lists beyond about 130K tokens.

`fwe` uses coded words: random strings of lower-case letters, drawn per sample.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections import Counter

import numpy as np

from ...seeding import permutation, random_below
from ...text.vocabulary import profanity, wonderwords_list

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


@functools.lru_cache(maxsize=1)
def real_words() -> tuple[str, ...]:
    found: set[str] = set()
    for name in ("nounlist.txt", "adjectivelist.txt", "verblist.txt"):
        found.update(wonderwords_list(name, profanity()))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=4)
def common_word_vocabulary(size: int) -> tuple[str, ...]:
    """At least `size` distinct words: the real ones, then made-up three-syllable words."""
    words = list(real_words())
    if size > len(words):
        taken = set(words)
        syllables = [c + v for c in _CONSONANTS for v in _VOWELS]
        for parts in itertools.product(syllables, repeat=3):
            word = "".join(parts)
            if word not in taken:
                words.append(word)
                if len(words) >= size:
                    break
    return tuple(words)


def coded_words(rng: random.Random, count: int, letters: int) -> list[str]:
    """`count` distinct random strings of `letters` lower-case letters, in the order drawn."""
    if count > 26**letters // 2:
        raise ValueError(f"{count} coded words of {letters} letters asked for; use longer words")
    out: dict[str, None] = {}
    while len(out) < count:
        wanted = count - len(out) + 16
        codes = (random_below(rng, wanted * letters, 26) + ord("a")).reshape(wanted, letters)
        for word in codes.view(f"S{letters}").ravel().tolist():
            out.setdefault(word.decode(), None)
    return list(out)[:count]


def shuffled(rng: random.Random, items: np.ndarray) -> np.ndarray:
    """`items` in a random order drawn from `rng` (a word list holds tens of thousands of entries, too
    many to shuffle in Python per sample: see `seeding.permutation`)."""
    return items[permutation(rng, len(items))]


def fit_word_list(generator, wrapped, cell, budget_adjust: int, vocabulary, tokens: np.ndarray, units, labeler=None):
    """Fit a word list (vocabulary indices `units`, in order) as the context of `wrapped`: every
    word a whole unit, the last gap closed with the list's trailing gap-closers (cwe and fwe)."""
    return generator.fit_wrapped(
        wrapped,
        cell.task,
        cell.target_length,
        budget_adjust,
        filler_texts=np.asarray(vocabulary, dtype=object)[units].tolist(),
        filler_tokens=tokens[units],
        inserts=[],
        labeler=labeler,
        whole_units_only=True,
    )


def top_words(words: list[str] | Counter, count: int, ignore: str | None = None) -> tuple[list[str] | None, Counter]:
    """The `count` most frequent words (most frequent first; equal counts in order of first
    appearance) and every word's count, or None for the words when the count-th is tied with the
    next (the answer would not be determined): how the cwe and fwe oracles count a list. `words` may
    be counted already (`word_counts`)."""
    counts = Counter(words)
    if ignore is not None:
        counts.pop(ignore, None)
    ranked = counts.most_common()
    if len(ranked) < count or (len(ranked) > count and ranked[count - 1][1] == ranked[count][1]):
        return None, counts
    return [w for w, _ in ranked[:count]], counts


_KEY_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)  # a word's first k bytes


def word_counts(text: str) -> Counter:
    """`Counter(text.split())`: each word's count, in order of first appearance. A list of short
    ASCII words separated by single spaces (fwe's coded words, at most 8 letters) is counted in
    numpy: each word's bytes as one 64-bit key, the keys counted by one sort. A
    32K list of 13,000 words costs 0.5 instead of 1.9 ms, a third of what the fwe oracle took per
    sample. Any other text (longer words, other whitespace, runs of spaces) is split and counted."""
    n = len(text)
    if not n or not text.isascii() or text[0] == " " or text[-1] == " " or "  " in text:
        return Counter(text.split())
    raw = text.encode("ascii")
    codes = np.frombuffer(raw, dtype=np.uint8)
    if (codes < 32).any():  # tabs, line breaks and other separators str.split knows: split as it does
        return Counter(text.split())
    spaces = np.flatnonzero(codes == 32)
    starts = np.concatenate(([0], spaces + 1))
    ends = np.concatenate((spaces, [n]))
    lengths = ends - starts
    if lengths.max() > 8:
        return Counter(text.split())
    # Eight bytes from each word's start (the text padded so the last word has them), cut to the word:
    # no word holds a zero byte (none below 32), so words of different lengths get different keys.
    window = np.ndarray((n,), dtype="<u8", buffer=raw + bytes(8), strides=(1,))
    keys = window[starts] & _KEY_MASKS[lengths]
    _, firsts, counts = np.unique(keys, return_index=True, return_counts=True)  # first: first occurrence
    order = np.argsort(firsts)
    firsts, counts = firsts[order], counts[order]
    words = [text[s:e] for s, e in zip(starts[firsts].tolist(), ends[firsts].tolist(), strict=True)]
    return Counter(dict(zip(words, counts.tolist(), strict=True)))
