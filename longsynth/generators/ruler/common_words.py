"""RULER's common words extraction (`cwe`): a numbered list of words in which `num_cw` words appear
`freq_cw` times each and every other word `freq_ucw` times; the answer is the common words.

As in RULER, the list's length is the free variable: as many other words as the length holds, each
at its full count, shuffled. RULER lowers the frequencies for short contexts, not long ones: below
4096 tokens it uses 6 and 1 (its defaults are 30 and 3), and a smaller solved example (10 common
words x 3 and 10 others x 1, against 10 x 10 and 30 x 3); we do the same. The list is one line,
numbered in reading order ("1. apple 2. quiet ..."); the fitter numbers it (the shared `Labeler`).
"""

from __future__ import annotations

import collections
import functools
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from ...fitting import Labeler, label_line
from ...seeding import permutation
from ...tokenizers import get_tokenizer
from ..base import Cell, Sample
from .words import common_word_vocabulary, fit_word_list, real_words, shuffled, top_words

if TYPE_CHECKING:
    from .generator import RulerGenerator

SHORT = 4096  # below this target RULER uses the short-context frequencies and example
LIST_LABEL = "{n}."
GAP_CLOSERS = 64  # extra words (once each) after the shuffled list, for the fitter to close the last gap


def frequencies(options: Any, target: int) -> tuple[int, int]:
    return (options.short_freq_cw, options.short_freq_ucw) if target < SHORT else (options.freq_cw, options.freq_ucw)


@functools.lru_cache(maxsize=8)
def word_tokens(tokenizer_name: str, size: int) -> tuple[tuple[str, ...], np.ndarray]:
    """The vocabulary (at least `size` words) and each word's tokens inside the list, counted once."""
    words = common_word_vocabulary(size)
    return words, np.asarray(get_tokenizer(tokenizer_name).count_many([" " + w for w in words]), dtype=np.int64)


def vocabulary_size(length: int, options: Any) -> int:
    """Words enough for a list of `length` tokens, each entry being at least two tokens and each other
    word coming as often as a list of that length repeats it; never fewer than the real words. (Sized
    by the smaller of the two frequencies, a 32K list made and counted 8,000 made-up words it could
    not reach, half a megabyte a process.)"""
    _, other_times = frequencies(options, length)
    return max(len(real_words()), length // (2 * other_times) + options.num_cw)


def numbered(words: list[str]) -> str:
    return " ".join(f"{LIST_LABEL.format(n=n)} {w}" for n, w in enumerate(words, 1))


def read_list(line: str) -> list[str] | None:
    """The words of a numbered list line ("1. apple 2. quiet ..."), or None when it is not one, with
    numbers 1, 2, 3, ... in order."""
    parts = line.split(" ")
    numbers, words = parts[0::2], parts[1::2]
    if not words or len(numbers) != len(words):
        return None
    # no part holds a space, so equal joins mean equal parts
    if " ".join(numbers) != label_line(LIST_LABEL, len(numbers)):
        return None
    return words


def most_common(words: list[str], count: int) -> tuple[list[str] | None, collections.Counter]:
    """The `count` most frequent words in order of first appearance, or None when the count-th and
    the next are tied (the answer would not be determined)."""
    top, counts = top_words(words, count)
    if top is None:
        return None, counts
    wanted, first = set(top), {}
    for w in words:
        if w in wanted and w not in first:
            first[w] = len(first)
    return sorted(top, key=first.__getitem__), counts


def _example(rng: random.Random, vocabulary: tuple[str, ...], options: Any, short: bool) -> list[str]:
    others, common_times, other_times = (10, 3, 1) if short else (30, 10, 3)
    chosen = rng.sample(vocabulary, options.num_cw + others)
    words = chosen[: options.num_cw] * common_times + chosen[options.num_cw :] * other_times
    rng.shuffle(words)
    return words


def sample(generator: RulerGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    tokenizer = generator.tokenizer
    # the most any of the spec's lengths needs (a shorter list repeats its words less: it may need more)
    most = max(vocabulary_size(length, options) for length in generator.spec.lengths)
    vocabulary, tokens = word_tokens(tokenizer.name, most)
    # Draw from the words a list of this length may need: the same words whatever the spec's longest length.
    vocabulary = vocabulary[: vocabulary_size(cell.target_length, options)]
    common_times, other_times = frequencies(options, cell.target_length)
    variables = {"num_cw": options.num_cw}
    question = generator.templates.render("cwe_question.j2", **variables)
    answer_prefix = generator.templates.render("cwe_answer_prefix.j2", **variables)
    examples = []
    for _ in range(generator.shots(cell.task, options)):
        words = _example(rng, vocabulary, options, cell.target_length < SHORT)
        answer, _ = most_common(words, options.num_cw)
        examples.append(
            {"context": numbered(words), "question": question, "answer": answer_prefix + " " + ", ".join(answer or [])}
        )
    wrapped, room = generator.room("cwe_prompt.j2", {"question": question, "examples": examples}, cell, answer_prefix)
    room -= budget_adjust

    # Choose the common words, then as many other words (each `other_times`) as the room holds.
    labeler = Labeler(tokenizer, LIST_LABEL)
    upper = min(len(vocabulary) - options.num_cw, max(0, room) // (2 * other_times) + GAP_CLOSERS)
    # Real words first, in a random order; made-up ones only after them, for lists that need more.
    real = len(real_words())
    picked = np.concatenate([permutation(rng, real), real + permutation(rng, len(vocabulary) - real)])
    picked = picked[: options.num_cw + upper]
    common, others = picked[: options.num_cw], picked[options.num_cw :]
    fixed_entries = options.num_cw * common_times
    other_cumulative = np.concatenate([[0], np.cumsum(tokens[others])]) * other_times
    entries = fixed_entries + other_times * np.arange(len(others) + 1)
    labels = np.concatenate([[0], np.cumsum(labeler.token_array(int(entries[-1]) + 1)[1:])])
    total = labels[entries] + common_times * int(tokens[common].sum()) + other_cumulative
    kept = max(0, min(int(np.searchsorted(total, room, side="right")) - 1, len(others) - GAP_CLOSERS))
    units = np.concatenate([np.repeat(common, common_times), np.repeat(others[:kept], other_times)])
    # The extra words come once each, never common: they only close the gap.
    units = np.concatenate([shuffled(rng, units), np.asarray(others[kept : kept + GAP_CLOSERS], dtype=np.int64)])
    fitted = fit_word_list(generator, wrapped, cell, budget_adjust, vocabulary, tokens, units, labeler)
    words = read_list(fitted.text[fitted.context_start : fitted.context_end]) or []
    answer, counts = most_common(words, options.num_cw)
    expected = sorted(vocabulary[i] for i in common)
    if answer is None or sorted(answer) != expected:  # the cut at the end of the list tipped a count
        answer = []
    others_most = max((c for w, c in counts.items() if w not in expected), default=0)
    metadata = {
        "params": {"num_cw": options.num_cw, "freq_cw": common_times, "freq_ucw": other_times},
        "list_words": len(words),
        "distinct_words": len(counts),
        "common_counts": [counts[w] for w in (answer or expected)],
        "most_other_count": others_most,
        "shots": len(examples),
    }
    return Sample(fitted, question, answer or expected, answer_prefix, metadata, item_key="words")
