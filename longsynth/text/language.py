"""The languages a haystack can be written in, and how each joins its sentence units.

English units are joined with a space and counted space-led (" The ..."), so a joined context counts
as the sum of its units under tiktoken (see `units`). Chinese has no spaces between sentences: units
are joined with nothing, and each ends with "。". Tokenizers merge across that junction (o200k has
tokens such as "。他" and "。但"), so a Chinese unit is counted as it follows the "。" of the unit
before it: count("。" + unit) - count("。"). That holds where a unit's last 。 follows a character (a 。 after
another mark, as in 」。, is one pre-token with it and not the next unit's lead): the built-in units
and needles end that way. Every unit then counts as it will in the context; the
fitter measures the context's first unit and its two ends on their own, and the sample's one encode
has the last word, as for every language.
"""

from __future__ import annotations

from dataclasses import dataclass

CJK_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation: 。、「」
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms: ，：？！（）
)
IDEOGRAPHS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # a regex character-class body


@dataclass(frozen=True)
class Language:
    code: str
    separator: str  # between units in a context
    lead: str  # what a unit is counted after (its count excludes the lead's own tokens)
    sentence_end: str  # what every built-in unit ends with


LANGUAGES = {"en": Language("en", " ", "", "."), "zh": Language("zh", "", "。", "。")}
CODES = tuple(LANGUAGES)


def language(code: str) -> Language:
    return LANGUAGES[code]


def is_cjk(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in CJK_RANGES)


def cjk_share(text: str) -> float:
    """The share of the text's characters (whitespace aside) that are CJK ideographs or CJK punctuation."""
    chars = [c for c in text if not c.isspace()]
    return sum(map(is_cjk, chars)) / max(1, len(chars))
