"""The needle family's options and the key/value types they choose between."""

from __future__ import annotations

from dataclasses import dataclass

from ...text.language import CODES, IDEOGRAPHS
from ..options import SET, option

# How each key/value type reads in the text (the oracle's patterns) and is named in questions.
PATTERNS = {
    "words": r"[a-z]+-[a-z]+",
    "numbers": r"\d{7}",
    "uuids": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
}
# Chinese word keys and values ("古老灯塔"); numbers and UUIDs read the same in both languages.
PATTERNS_ZH = {**PATTERNS, "words": rf"[{IDEOGRAPHS}]{{2,12}}"}
KIND = {"words": ("word", "words"), "numbers": ("number", "numbers"), "uuids": ("UUID", "UUIDs")}
HAYSTACKS = ("noise", "needle", "prose", "corpus")
REPORTED = ("haystack", "key_type", "value_type", "num_keys", "num_values", "num_queries")  # in row metadata
# (and `language`, where it is not English)  # in row metadata


def patterns(language: str) -> dict[str, str]:
    """How each key/value type reads in a text of that language."""
    return PATTERNS_ZH if language == "zh" else PATTERNS


@dataclass(frozen=True)
class NeedleOptions:
    haystack: str = option("noise", "haystack kind", choices=HAYSTACKS)
    key_type: str = option("words", "type of needle keys", choices=tuple(PATTERNS))
    value_type: str = option("numbers", "type of needle values", choices=tuple(PATTERNS))
    num_keys: int = option(1, "distinct keys with needles in a sample", minimum=1, maximum=100_000)
    num_values: int = option(1, "values (needles) per key", minimum=1, maximum=100_000)
    num_queries: int = option(1, "keys asked about (<= num_keys)", minimum=1, maximum=100_000)
    language: str = option(
        "en", "language of the haystack, needles, question and answer prefix (zh: Chinese)", choices=CODES
    )
    corpus: str = option(
        "", "haystack=corpus: .txt/.jsonl/.parquet path, folder, or hf:<dataset>", needs=("haystack", "corpus")
    )
    corpus_text_field: str = option("text", "text column of the corpus", needs=("corpus", SET))
    corpus_config: str = option("", "Hugging Face dataset config", needs=("corpus", SET))
    corpus_split: str = option("train", "Hugging Face dataset split", needs=("corpus", SET))
