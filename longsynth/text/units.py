"""Token-counted units: the pieces the fitter packs.

A unit is a sentence (or a bio, a row, a chunk) with whitespace folded to
single spaces. Units are joined with one space, and each unit's count is the
count of " " + text: for tiktoken's pre-tokenizers a space-led unit never
merges with its neighbours, so the count of a joined context is the sum of
its units. Each unit is tokenized once per process, in a batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..tokenizers import Tokenizer
from .language import LANGUAGES

SEPARATOR = " "
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
# A Chinese sentence ends at 。！？ (and a closing quote right after); no space follows it.
_SENTENCE_END_ZH = re.compile(r"(?<=[。！？])(?![”」』）])|(?<=[。！？][”」』）])")


def normalize(text: str) -> str:
    """Fold all whitespace (newlines included) to single spaces and trim."""
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str, max_chars: int = 1000, language: str = "en") -> list[str]:
    """Split text into sentence units; over-long sentences are split at word boundaries (Chinese ones
    after a comma, else between characters)."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = normalize(paragraph)
        if not paragraph:
            continue
        if language == "zh":
            for sentence in _SENTENCE_END_ZH.split(paragraph):
                units.extend(_wrap_zh(sentence.strip(), max_chars))
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            units.extend(_wrap(sentence, max_chars))
    return [u for u in units if u]


def _wrap_zh(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        cut = sentence.rfind("，", 0, max_chars) + 1 or max_chars
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    return pieces + [sentence]


def _wrap(sentence: str, max_chars: int) -> list[str]:
    sentence = sentence.strip()
    if len(sentence) <= max_chars:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


@dataclass
class UnitPool:
    """Units with their token counts (space-led) and prefix sums for O(log n) fitting."""

    texts: list[str]
    tokens: np.ndarray
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cumulative = np.concatenate([[0], np.cumsum(self.tokens, dtype=np.int64)])

    @classmethod
    def from_texts(cls, texts: list[str], tokenizer: Tokenizer, language: str = "en") -> UnitPool:
        joining = LANGUAGES[language]
        counts = count_units(texts, tokenizer, joining.separator, joining.lead)
        return cls(texts, np.asarray(counts, dtype=np.int64))

    @property
    def total_tokens(self) -> int:
        return int(self.cumulative[-1])

    def run(self, start: int, min_tokens: int) -> tuple[list[str], np.ndarray]:
        """Contiguous units from `start` holding at least `min_tokens` (or all that remain)."""
        end = int(np.searchsorted(self.cumulative, self.cumulative[start] + min_tokens, side="left"))
        end = min(max(end, start) + 1, len(self.texts))
        return self.texts[start:end], self.tokens[start:end]

    def latest_start(self, min_tokens: int, within: int | None = None) -> int:
        """The last start index from which a run still holds `min_tokens` (0 if none does), among the
        units of the pool's first `within` tokens. Pools grow as prefixes of one stream, so a sample
        that draws its start below `latest_start(target, within=f(target))` draws the same haystack
        whatever pool size the other lengths of its spec asked for."""
        end = self.total_tokens if within is None else min(within, self.total_tokens)
        idx = int(np.searchsorted(self.cumulative, end - min_tokens, side="right")) - 1
        return max(0, idx)


def count_units(texts: list[str], tokenizer: Tokenizer, separator: str = SEPARATOR, lead: str = "") -> list[int]:
    """Token counts of units as they appear inside a context joined with `separator` (space-led by
    default; units that end in a newline are joined with nothing), each counted after `lead`, the end
    of the unit before it, where units merge with it ("。" for Chinese: see `language`)."""
    if not lead:
        return tokenizer.count_many([separator + t for t in texts])
    own = tokenizer.count(lead)
    return [n - own for n in tokenizer.count_many([lead + separator + t for t in texts])]
