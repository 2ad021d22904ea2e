"""RULER's frequent words extraction (`fwe`): coded words drawn from a Zipf distribution; the answer
is the three most frequent, the most frequent of all being "..." (noise the prompt says to ignore).

As in RULER: the vocabulary holds (length - reserve) // 50 coded words of six letters, word k of it
appears floor(N * k^-alpha / zeta(alpha)) times with alpha 2, and N is as large as the length
allows. The counts are fixed by rank, so the third and fourth words are never tied at the lengths
RULER uses; the oracle counts the words in the text and refuses a tie for third place anyway.
"""

from __future__ import annotations

import collections
import functools
import math
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import BudgetError
from ..base import Cell, Sample
from .words import coded_words, fit_word_list, shuffled, top_words

if TYPE_CHECKING:
    from .generator import RulerGenerator

NOISE = "..."
ANSWERS = 3
GAP_CLOSERS = 64  # extra noise words after the shuffled list, for the fitter to close the last gap


@functools.lru_cache(maxsize=16)
def zeta(alpha: float) -> float:
    """Riemann zeta for alpha > 1: a partial sum and its Euler-Maclaurin tail (error below 1e-12)."""
    terms = 10_000
    head = math.fsum(k**-alpha for k in range(1, terms))
    return head + terms ** (1 - alpha) / (alpha - 1) + 0.5 * terms**-alpha


@functools.lru_cache(maxsize=16)
def _rank_powers(size: int, alpha: float) -> np.ndarray:
    powers = np.arange(1, size + 1, dtype=np.float64) ** -alpha
    powers.flags.writeable = False
    return powers


def zipf_counts(total: int, size: int, alpha: float) -> np.ndarray:
    """How often word k (1-based rank) appears among `total` words: floor(total * k^-alpha / zeta).
    The powers are worked out once per vocabulary (a sample's search for the total calls this 17 times)."""
    return np.floor(total * _rank_powers(size, alpha) / zeta(alpha)).astype(np.int64)


def vocabulary_size(options: Any, target: int, reserve: int) -> int:
    return options.vocab_size or max(ANSWERS + 2, (target - reserve) // 50)


def most_frequent(words: list[str] | collections.Counter) -> tuple[list[str] | None, collections.Counter]:
    """The three most frequent words other than the noise, most frequent first, or None when the
    third is tied with the fourth. `words` may be counted already (`words.word_counts`)."""
    return top_words(words, ANSWERS, ignore=NOISE)


def sample(generator: RulerGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    tokenizer = generator.tokenizer
    size = vocabulary_size(options, cell.target_length, generator.reserve_for(cell.task))
    vocabulary = [NOISE, *coded_words(rng, size - 1, options.coded_wordlen)]
    tokens = np.asarray(tokenizer.count_many([" " + w for w in vocabulary]), dtype=np.int64)
    question = generator.templates.render("fwe_question.j2", count=ANSWERS)
    answer_prefix = generator.templates.render("fwe_answer_prefix.j2", count=ANSWERS)
    wrapped, room = generator.room("fwe_prompt.j2", {"question": question, "noise": NOISE}, cell, answer_prefix)
    room -= budget_adjust

    # The largest N whose words fit: tokens grow with N, so a binary search over N.
    low, high = 1, max(2, room * 2)
    while low < high:
        middle = (low + high + 1) // 2
        if int(zipf_counts(middle, size, options.alpha) @ tokens) <= room:
            low = middle
        else:
            high = middle - 1
    counts = zipf_counts(low, size, options.alpha)
    units = np.repeat(np.arange(size), counts)
    units = np.concatenate([shuffled(rng, units), np.zeros(GAP_CLOSERS, dtype=np.int64)])
    fitted = fit_word_list(generator, wrapped, cell, budget_adjust, vocabulary, tokens, units)
    # The answer by rank, from the words the text holds: the list's first `filler_units` units, each
    # one word (the fit takes whole units only), counted in one pass over the unit array where eight
    # scans of the text took 0.5 ms a 32K sample. Words past rank 5 are drawn far less often (rank 6 a
    # third as often as rank 3), so the oracle's full count of the text agrees; it refuses any tie.
    if fitted.partial_unit:  # (never with whole units; the text would hold a word the units do not)
        raise BudgetError("the fitted word list ends inside a word")
    placed = np.bincount(units[: fitted.filler_units], minlength=size)
    counts = {w: int(placed[n]) for n, w in enumerate(vocabulary[1 : ANSWERS + 3], start=1)}
    top = sorted(counts, key=lambda w: -counts[w])
    answer = top[:ANSWERS]
    metadata = {
        "params": {"alpha": options.alpha, "vocab_size": size, "coded_wordlen": options.coded_wordlen},
        "total_words": int(fitted.filler_units),
        "noise_count": int(placed[0]),
        "answer_counts": [counts[w] for w in answer],
        "fourth_count": counts[top[ANSWERS]],
    }
    return Sample(fitted, question, answer, answer_prefix, metadata, item_key="words")
