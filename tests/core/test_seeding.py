from __future__ import annotations

import random
from collections import Counter
from itertools import permutations

import numpy as np

from longsynth.seeding import permutation, permuted


def test_permutation_is_a_seeded_order_of_every_index():
    for size in (0, 1, 2, 17, 20_000):
        order = permutation(random.Random(7), size)
        assert sorted(order.tolist()) == list(range(size))
        assert np.array_equal(order, permutation(random.Random(7), size))  # same seed, same order
    assert not np.array_equal(permutation(random.Random(7), 1000), permutation(random.Random(8), 1000))


def test_the_key_order_is_a_stable_sort_of_the_keys():
    """`stable_key_order` is numpy's stable argsort: on random keys, on keys that share their top
    bits, and on repeated keys (kept in index order)."""
    from longsynth.seeding import _random_words, stable_key_order

    rng = random.Random(11)
    for size in (1, 2, 100, 30_000):
        keys = _random_words(rng, size, np.uint64)
        crowded = keys & np.uint64(0x0000_FFFF_FFFF_FFFF) | np.uint64(7 << 48)  # one top-16 bucket
        repeated = keys[_random_words(rng, size, np.uint64) % np.uint64(max(1, size // 10))]
        for case in (keys, crowded, repeated):
            assert np.array_equal(stable_key_order(case), np.argsort(case, kind="stable"))


def test_permutation_is_uniform():
    """All 24 orders of four items come up about equally often (chi-square against uniform, 24,000 draws;
    the 0.1% critical value for 23 degrees of freedom is 49.7)."""
    rng = random.Random(1)
    counts = Counter(tuple(permutation(rng, 4).tolist()) for _ in range(24_000))
    assert set(counts) == set(permutations(range(4)))
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 49.7, chi2


def test_permutation_draws_from_the_stream_it_is_given():
    """Two draws from one Random differ, and what follows them in the stream is the same whoever drew:
    a sample stays a function of its own seed."""
    rng = random.Random(3)
    first, second = permutation(rng, 50), permutation(rng, 50)
    assert not np.array_equal(first, second)
    other = random.Random(3)
    other.getrandbits(64 * 50)
    other.getrandbits(64 * 50)
    assert rng.random() == other.random()


def test_random_below_are_uniform_and_in_range():
    """26 letters from 260,000 draws: each within 5% of 10,000 (no modulo bias: 256 % 26 = 22 values
    would each be a tenth too likely), all below the bound, and the same draws from the same seed."""
    from longsynth.seeding import random_below

    drawn = random_below(random.Random(2), 260_000, 26)
    assert len(drawn) == 260_000 and drawn.max() < 26
    counts = np.bincount(drawn, minlength=26)
    assert counts.min() > 9_500 and counts.max() < 10_500, counts
    assert np.array_equal(drawn[:1000], random_below(random.Random(2), 1000, 26))


def test_a_tie_between_keys_still_gives_one_order_everywhere(monkeypatch):
    """Equal random keys are ordered by a stable sort (the draw is forced here to all-equal keys)."""
    rng = random.Random(0)
    monkeypatch.setattr(rng, "getrandbits", lambda bits: 0)
    assert permutation(rng, 5).tolist() == [0, 1, 2, 3, 4]


def test_permuted_entries_are_a_seeded_order_of_every_index():
    """Entry by entry (what nextlong's sources and concat_random's documents read), a permutation:
    every index once, the same for a key, another for another key, and about uniform."""
    for size in (1, 2, 3, 7, 1000, 4097):
        order = [permuted(n, size, key=11) for n in range(size)]
        assert sorted(order) == list(range(size))
        assert order == [permuted(n, size, key=11) for n in range(size)]
    assert [permuted(n, 1000, 1) for n in range(20)] != [permuted(n, 1000, 2) for n in range(20)]
    firsts = Counter(permuted(0, 4, key) for key in range(4000))
    assert set(firsts) == {0, 1, 2, 3} and min(firsts.values()) > 850
