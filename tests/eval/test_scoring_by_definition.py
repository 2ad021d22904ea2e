"""The scoring policy's shortcuts give what its definitions give: the values a reply names, found by
plain search and one sort (every whole-token regex match, minus those inside a longer named value);
a long reply cut to its reserve from a prefix (its first tokens when the whole is encoded); an audit
that reads each row once (the same table as baseline by baseline)."""

from __future__ import annotations

import random
import re

import pytest

from longsynth.scoring import _certain_cut, _value_spans, whole_token, whole_token_spans, within_reply
from longsynth.tokenizers import get_tokenizer


def _by_definition(reply: str, values: list[str]) -> dict[str, list[tuple[int, int]]]:
    text = reply.lower()
    spans = {}
    for value in dict.fromkeys(v.lower() for v in values if v.strip()):
        found = [m.span() for m in re.finditer(whole_token(value), text)]
        if found:
            spans[value] = found
    every = [(s, e, v) for v, found in spans.items() for s, e in found]
    kept = {}
    for value, found in spans.items():
        alone = [
            (start, end)
            for start, end in found
            if not any(s <= start and end <= e and e - s > end - start for s, e, other in every if other != value)
        ]
        if alone:
            kept[value] = alone
    return kept


def test_spans_are_the_definitions_on_random_replies():
    rng = random.Random(5)
    pieces = ["art", "history", "art history", "7", "76", "654", "-", " ", "_", "é", "x1", "古老", "灯塔", ".", "Art"]
    for _ in range(3000):
        reply = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        values = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 6))]
        assert _value_spans(reply, values) == _by_definition(reply, values), (reply, values)


def test_whole_token_spans_skip_matches_inside_longer_words():
    assert whole_token_spans("17654321 7654321 7654321x", "7654321") == [(9, 16)]
    assert whole_token_spans("答案是古老灯塔。", "古老灯塔") == [(3, 7)]
    assert whole_token_spans("aaaa", "aa") == [] and whole_token_spans("aa aa", "aa") == [(0, 2), (3, 5)]
    found = [m.span() for m in re.finditer(whole_token(".."), ".....")]
    assert whole_token_spans(".....", "..") == [(0, 2), (2, 4)] == found  # left to right, none overlapping


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_a_long_reply_is_cut_to_its_reserve_as_a_whole_encode_cuts_it(encoding):
    tokenizer = get_tokenizer(encoding)
    rng = random.Random(11)
    pieces = [" word", "x" * 40, "7" * 25, " ", "  ", "\n", ".", ",", "'s", "é", "灯塔", "-", "AbC", "0x1f"]
    for reserve in (1, 3, 16, 64):
        for _ in range(40):
            reply = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60 * reserve)))
            ids = tokenizer.encode(reply)
            expected = reply if len(ids) <= reserve else tokenizer.decode(ids[:reserve])
            row = {"reserve": reserve, "tokenizer": encoding}
            assert within_reply(row, reply) == expected, (reserve, reply[:80])
            cut = _certain_cut(tokenizer, reply, 32 * reserve)
            if cut is not None:  # the text before a certain cut encodes to the whole's first tokens
                before = tokenizer.encode(reply[:cut])
                assert before == ids[: len(before)] and tokenizer.decode(before) == reply[:cut]
