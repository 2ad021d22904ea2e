"""`text.patterns.bounded`: the same matches as the plain look-behind form, on texts made to sit
values of each shape next to every kind of neighbour."""

from __future__ import annotations

import random
import re

import pytest

from longsynth.generators.needle.options import PATTERNS
from longsynth.text.patterns import bounded

ASCII_BOUNDARY = "[0-9A-Za-z_-]"


def _value(rng: random.Random, kind: str) -> str:
    hexdigits = "0123456789abcdef"
    if kind == "uuid":
        return "-".join("".join(rng.choice(hexdigits) for _ in range(n)) for n in (8, 4, 4, 4, 12))
    if kind == "word":
        return "".join(rng.choice("abcz") for _ in range(rng.randint(1, 4))) + "-" + "xy"[: rng.randint(1, 2)]
    return "".join(rng.choice("0123456789") for _ in range(int(kind)))


@pytest.mark.parametrize(
    ("pattern", "boundary", "kind"),
    [
        (r"\d{7}", r"\d", "7"),
        (r"\d{1}", r"\d", "1"),
        (PATTERNS["numbers"], ASCII_BOUNDARY, "7"),
        (PATTERNS["uuids"], ASCII_BOUNDARY, "uuid"),
        (PATTERNS["words"], ASCII_BOUNDARY, "word"),
    ],
)
def test_bounded_matches_what_the_plain_look_behind_matches(pattern, boundary, kind):
    plain, fast = re.compile(rf"(?<!{boundary}){pattern}(?!{boundary})"), re.compile(bounded(pattern, boundary))
    rng = random.Random(7)
    neighbours = list("0123456789abcdefxyzAZ_- .\n中是") + ["", "", "-1", "a-"]
    found = 0
    for _ in range(3000):
        pieces = []
        for _ in range(rng.randint(1, 6)):
            pieces += [rng.choice(neighbours), _value(rng, kind) if rng.random() < 0.6 else rng.choice(neighbours)]
        text = "".join(pieces)
        assert fast.findall(text) == plain.findall(text), text
        found += len(plain.findall(text))
    assert found > 300  # values stood alone often enough to be found


def test_bounded_puts_the_look_behind_after_a_counted_first_class():
    assert bounded(r"\d{7}", r"\d") == r"\d(?<!\d\d)\d{6}(?!\d)"
    assert bounded(r"[a-z]+-[a-z]+", "[a-z]") == r"(?<![a-z])[a-z]+-[a-z]+(?![a-z])"  # no count: as before
