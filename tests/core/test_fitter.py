"""Property tests of the shared fitter, measured with the real tokenizer."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longsynth.errors import BudgetError, CorpusError
from longsynth.fitting import Insert, fit_prompt, length_tolerance
from longsynth.text.units import UnitPool
from longsynth.tokenizers import measure
from longsynth.validators.depth import depth_allowance, measured_depth

WORDS = "river stone bright seven quiet harbour maple lantern copper drift signal meadow".split()


def _units(rng: random.Random, count: int, max_words: int) -> list[str]:
    units = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, max_words))]
        punct = rng.choice([".", "!", "?", ",", ";", ""])
        units.append((" ".join(words) + punct).capitalize())
    return units


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    max_words=st.integers(1, 60),
    target=st.integers(200, 6000),
    depths=st.lists(st.floats(0, 100), min_size=0, max_size=4),
)
def test_fit_is_never_over_and_never_short(tokenizer, seed, max_words, target, depths):
    rng = random.Random(seed)
    pool = UnitPool.from_texts(_units(rng, target + 50, max_words), tokenizer)
    inserts = [Insert(f"The code for item {n} is {rng.randrange(10**6, 10**7)}.", d) for n, d in enumerate(depths)]
    tolerance = length_tolerance(target)
    fitted = fit_prompt(
        head="Read this:\n\n",
        tail="\n\nWhat is the code?",
        filler_texts=pool.texts,
        filler_tokens=pool.tokens,
        inserts=inserts,
        target=target,
        tolerance=tolerance,
        tokenizer=tokenizer,
    )
    m = measure(tokenizer, fitted.text)
    assert len(tokenizer.encode(fitted.text)) == m.length
    assert target - tolerance <= m.length <= target
    assert m.length == fitted.predicted_length  # the prediction is exact for space-led units
    span = (fitted.context_start, fitted.context_end)
    for placed in fitted.placed:
        assert fitted.text[placed.char_start : placed.char_end] == placed.insert.text
        _, depth = measured_depth(m, span, (placed.char_start, placed.char_end))
        assert (
            abs(depth - placed.insert.depth)
            <= depth_allowance(m, span, (placed.char_start, placed.char_end), placed.neighbours, placed.cluster) + 1e-9
        )


def test_depth_accuracy_over_a_grid(tokenizer):
    rng = random.Random(1)
    pool = UnitPool.from_texts(_units(rng, 4000, 12), tokenizer)
    for depth in np.linspace(0, 100, 21):
        fitted = fit_prompt(
            head="",
            tail="",
            filler_texts=pool.texts,
            filler_tokens=pool.tokens,
            inserts=[Insert("The needle is here.", float(depth))],
            target=8192,
            tolerance=16,
            tokenizer=tokenizer,
        )
        m = measure(tokenizer, fitted.text)
        placed = fitted.placed[0]
        _, measured = measured_depth(m, (0, len(fitted.text)), (placed.char_start, placed.char_end))
        # units are at most ~20 tokens: 1 point of 8K is 82 tokens, so within one point
        assert abs(measured - depth) <= 1.0


def test_budget_that_cannot_be_met_fails_with_numbers(tokenizer):
    with pytest.raises(BudgetError, match=r"need \d+ tokens but the target is 20"):
        fit_prompt(
            head="A fairly long instruction that takes some tokens. " * 3,
            tail="",
            filler_texts=["x."],
            filler_tokens=np.array([2]),
            inserts=[],
            target=20,
            tolerance=16,
            tokenizer=tokenizer,
        )


def test_haystack_too_small_fails(tokenizer):
    pool = UnitPool.from_texts(["One short line."] * 3, tokenizer)
    with pytest.raises(CorpusError, match="haystack holds"):
        fit_prompt(
            head="",
            tail="",
            filler_texts=pool.texts,
            filler_tokens=pool.tokens,
            inserts=[],
            target=4096,
            tolerance=16,
            tokenizer=tokenizer,
        )


def test_partial_unit_cuts_only_at_word_boundaries(tokenizer):
    long_unit = " ".join(f"word{n}" for n in range(400)) + "."
    pool = UnitPool.from_texts([long_unit] * 3, tokenizer)
    fitted = fit_prompt(
        head="",
        tail="",
        filler_texts=pool.texts,
        filler_tokens=pool.tokens,
        inserts=[],
        target=int(pool.tokens[0]) + 50,
        tolerance=4,
        tokenizer=tokenizer,
    )
    assert fitted.partial_unit
    last = fitted.text.split(". ")[-1]
    assert all(w.startswith("word") and w[4:].isdigit() for w in last.split(" "))


def test_a_unit_with_no_word_boundary_is_cut_between_characters(tokenizer):
    """A unit with no space or hyphen to cut at (a base64 blob, a corpus's line of digits) could not
    be cut at all: the fill stopped short of it, every draw of a sample that reached one missed its
    length, and the build stopped. It is cut between characters instead, the prefix counted; a unit
    with words is still cut only between them, and only a gap wider than the tolerance reaches the
    character cut (a short gap before a long word stays a gap)."""
    import base64

    from longsynth.fitting import _character_prefix

    blob = base64.b64encode(random.Random(3).randbytes(60_000)).decode()
    prose = " ".join(f"word{n}" for n in range(300)) + "."
    pool = UnitPool.from_texts([prose, blob], tokenizer)
    target = int(pool.tokens[0]) + 500
    fitted = fit_prompt(
        head="", tail="", filler_texts=pool.texts, filler_tokens=pool.tokens, inserts=[], target=target,
        tolerance=16, tokenizer=tokenizer,
    )  # fmt: skip
    assert fitted.partial_unit and blob.startswith(fitted.text.split(". ", 1)[1])
    assert target - 16 <= measure(tokenizer, fitted.text).length <= target
    for limit in (1, 7, 64, 333):  # the longest prefix that fits: one more character does not
        cut, count = _character_prefix(tokenizer, blob, limit)
        assert count == tokenizer.count(" " + cut) <= limit < tokenizer.count(" " + blob[: len(cut) + 1])
    # a gap within the tolerance before a long word: no cut inside the word
    pool = UnitPool.from_texts([prose, "x" * 400 + " tail"], tokenizer)
    fitted = fit_prompt(
        head="", tail="", filler_texts=pool.texts, filler_tokens=pool.tokens, inserts=[],
        target=int(pool.tokens[0]) + 10, tolerance=16, tokenizer=tokenizer,
    )  # fmt: skip
    assert not fitted.partial_unit and "x" not in fitted.text


def test_whole_units_close_a_gap_with_a_two_for_one_swap():
    """Rows of similar sizes (30 tokens) can leave a 26-token gap that no later row fits and no
    single swap closes; swapping one row for two closes it within the tolerance."""
    from longsynth.fitting import _fill_whole_units

    filler_tokens = np.array([30, 30, 30, 27, 28, 33, 31], dtype=np.int64)
    filler_texts = [f"unit {n}" for n in range(len(filler_tokens))]
    texts, tokens, gap = _fill_whole_units(
        filler_texts, filler_tokens, 3, filler_texts[:3], filler_tokens[:3].copy(), 26, 16
    )
    assert 0 <= gap <= 16
    assert int(tokens.sum()) + gap == 90 + 26  # the budget is unchanged: only the units moved
    assert len(texts) == len(set(texts)) == 4  # one row out, two in, none twice
