"""Counting a template filled many times by its parts (`text.units.count_filled`): every count is the
filled text's own, and anything the rule cannot vouch for is refused (then the texts are counted)."""

from __future__ import annotations

import random

import pytest

from longsynth.generators.needle.generator import draw_many_tokens
from longsynth.generators.needle.oracle import KEY, VALUE
from longsynth.text.units import count_filled
from longsynth.tokenizers import TiktokenTokenizer

NEEDLE = f"One of the special magic numbers for {KEY} is: {VALUE}."


@pytest.fixture(scope="module", params=["cl100k_base", "o200k_base"])
def tokenizer(request):
    return TiktokenTokenizer(request.param)


@pytest.mark.parametrize("key_type, value_type", [("words", "numbers"), ("numbers", "words"), ("words", "words")])
def test_needles_counted_by_parts_equal_their_own_counts(tokenizer, key_type, value_type):
    rng = random.Random(11)
    keys = draw_many_tokens(key_type, rng, 400, set())
    values = draw_many_tokens(value_type, rng, 400, set(keys))
    counts = count_filled(tokenizer, NEEDLE, (KEY, VALUE), (keys, values), "\n")
    texts = [NEEDLE.replace(KEY, k).replace(VALUE, v) + "\n" for k, v in zip(keys, values, strict=True)]
    assert counts == [tokenizer.count(t) for t in texts]


def test_numbers_of_any_length_and_odd_words_keep_their_counts(tokenizer):
    """Digit runs of 1 to 12 digits (cut in threes from the first), leading zeros, and hyphenated
    words with capitals or digits at the join: each count is the text's own, or the batch is refused."""
    rng = random.Random(5)
    shape = f"Code {KEY} opens door {VALUE}."
    for digits in range(1, 13):
        values = ["".join(rng.choices("0123456789", k=digits)) for _ in range(200)]
        keys = [
            rng.choice(["alpha", "Beta", "x9", "QQ", "delta"]) + "-" + rng.choice(["Fox", "b", "y2", "zed"])
            for _ in values
        ]
        counts = count_filled(tokenizer, shape, (KEY, VALUE), (keys, values))
        texts = [shape.replace(KEY, k).replace(VALUE, v) for k, v in zip(keys, values, strict=True)]
        assert counts is not None  # the rule vouches for all of these
        assert counts == [tokenizer.count(t) for t in texts], digits
    mixed = [" 12", " 3456", " 78", " 9"]  # lengths that average to a whole width: not one number length
    assert count_filled(tokenizer, shape, (KEY, VALUE), (["a-b"] * 4, [v.strip() for v in mixed])) is None


@pytest.mark.parametrize(
    "shape, keys, values",
    [
        (f"{KEY}: {VALUE}", ["swift-fox"], ["1234567"]),  # the value meets the line end: no certain cut
        (f"key {KEY}{VALUE}.", ["swift-fox"], ["1234567"]),  # two fills side by side
        (f"for  {KEY} is: {VALUE}.", ["swift-fox"], ["1234567"]),  # two spaces before a fill
        (f"for {KEY} is: {VALUE}.", ["swift-fox-"], ["1234567"]),  # a part that ends in a mark
        (f"for {KEY} is: {VALUE}.", ["swift fox"], ["1234567"]),  # a space inside a fill
        (f"for {KEY} is: {VALUE}.", ["3f2a1b7c-9d1e-4f00-8a2b-0c1d2e3f4a5b"], ["12"]),  # a UUID: counted whole
        (f"for {KEY} is: {VALUE}.", ["swift-fox"], ["１２３"]),  # non-ASCII digits
        (f"for {KEY} is:{VALUE}.", ["swift-fox"], ["swift-fox"]),  # a mark before a letter runs on
    ],
)
def test_joins_and_fills_the_rule_cannot_vouch_for_are_refused(tokenizer, shape, keys, values):
    assert count_filled(tokenizer, shape, (KEY, VALUE), (keys, values), "\n") is None


def test_a_tokenizer_without_the_rule_counts_nothing_by_parts():
    class Plain:
        name = "plain"

        def count(self, text):
            return len(text)

    assert count_filled(Plain(), NEEDLE, (KEY, VALUE), (["swift-fox"], ["1234567"]), "\n") is None


def test_fills_of_different_lengths_are_a_programming_error(tokenizer):
    with pytest.raises(ValueError, match="one list of fills per mark"):
        count_filled(tokenizer, NEEDLE, (KEY, VALUE), (["swift-fox"], ["1", "2"]))


def test_a_vocabulary_learned_ahead_gives_the_same_counts(tokenizer):
    """The needle family counts its key vocabulary's parts in one batch first (`learn_hyphenated`):
    keys of those parts (and of parts never learned) keep their own counts; a batch with a key of
    two hyphens ("x-ray-owl") is refused, so its needles are counted whole."""
    from longsynth.text.units import learn_hyphenated

    learn_hyphenated(tokenizer, ["calm", "x-ray", "Bold9"], ["fox", "lens-cap", "owl"])
    values = ["1234567", "7654321", "1000000", "9999999"]
    plain = ["calm-fox", "calm-owl", "Bold9-fox", "new-word"]
    counts = count_filled(tokenizer, NEEDLE, (KEY, VALUE), (plain, values), "\n")
    expected = [NEEDLE.replace(KEY, k).replace(VALUE, v) + "\n" for k, v in zip(plain, values, strict=True)]
    assert counts == [tokenizer.count(t) for t in expected]
    odd = ["calm-fox", "x-ray-owl", "Bold9-lens-cap", "calm-owl"]
    assert count_filled(tokenizer, NEEDLE, (KEY, VALUE), (odd, values), "\n") is None


def test_keys_drawn_as_word_pairs_are_the_same_words_and_counted_from_their_indices(tokenizer):
    """`draw_word_pairs` draws `draw_many_tokens`'s words from the same random stream, with each
    word's adjective and noun; the counts `hyphenated_counts` gives by index, passed to `count_filled`
    as the key's counts, make every needle's own count. Words or parts with a hyphen get -1 (the
    caller then leaves the batch to `count_filled`'s own split)."""
    from longsynth.generators.needle.generator import draw_word_pairs
    from longsynth.generators.needle.keys import key_words
    from longsynth.text.units import hyphenated_counts

    adjectives, nouns = key_words("en")
    taken = {"calm-fox"}
    words, firsts, seconds = draw_word_pairs(random.Random(4), 600, taken)
    assert words == draw_many_tokens("words", random.Random(4), 600, taken)
    assert words == [f"{adjectives[a]}-{nouns[n]}" for a, n in zip(firsts, seconds, strict=True)]
    word_counts, part_counts = hyphenated_counts(tokenizer, adjectives, nouns)
    spaced = word_counts[firsts] + part_counts[seconds]
    values = draw_many_tokens("numbers", random.Random(5), 600, set())
    counts = count_filled(tokenizer, NEEDLE, (KEY, VALUE), (words, values), "\n", spaced=(spaced, None))
    texts = [NEEDLE.replace(KEY, k).replace(VALUE, v) + "\n" for k, v in zip(words, values, strict=True)]
    assert counts == [tokenizer.count(t) for t in texts]
    # the counts are used only where the fills follow a space: after a digit (a certain cut) they
    # are not, and words there are not counted by parts at all
    glued = f"code 7{KEY} is {VALUE}."
    assert count_filled(tokenizer, glued, (KEY, VALUE), (words, values), "\n", spaced=(spaced, None)) is None
    odd_words, odd_parts = hyphenated_counts(tokenizer, ["calm", "x-ray"], ["fox", "lens-cap"])
    assert odd_words[0] == tokenizer.count(" calm") and odd_words[1] == -1
    assert odd_parts[0] == tokenizer.count("-fox") and odd_parts[1] == -1


@pytest.mark.parametrize("key_type, value_type", [("words", "numbers"), ("words", "words"), ("numbers", "words")])
def test_a_haystack_of_distractor_needles_holds_each_needles_own_count(key_type, value_type):
    """The needle family's haystack of needles (keys and values counted by parts, English words from
    their vocabulary indices): every needle's count is its own text's."""
    from longsynth.pipeline import make_generator
    from longsynth.spec import load_spec

    spec = load_spec(None, tasks="niah_multikey_2", lengths="4k", samples=1, key_type=key_type, value_type=value_type)
    generator = make_generator(spec)
    options = generator.task_options("niah_multikey_2")
    shape = generator._needle_shape("number")
    texts, counts = generator._distractor_needles(options, 3000, random.Random(9), shape, set())
    assert len(texts) > 150
    assert counts.tolist() == [generator.tokenizer.count(t) for t in texts]
