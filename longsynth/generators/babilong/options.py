"""The babilong family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import SET, option

HAYSTACKS = ("prose", "noise", "corpus")


@dataclass(frozen=True)
class BabilongOptions:
    haystack: str = option(
        "prose", "text the facts hide in: built-in prose, repeated noise, or a corpus of your own", choices=HAYSTACKS
    )
    facts: int = option(
        0,
        "facts in a story, at least (it runs on until it answers a question; 0: the task's default, near bAbI's: "
        "qa1 10, qa2 16, qa3 20 (at most 80), qa4 2 (exactly; at most 11), qa5 14)",
        minimum=0,
        maximum=500,
    )
    spread: float = option(
        30.0,
        "depth points between the first and the last supporting fact: the cell's depth places that window, "
        "from [0, spread] at depth 0 to [100 - spread, 100] at depth 100",
        minimum=0.0,
        maximum=100.0,
    )
    corpus: str = option(
        "", "haystack=corpus: .txt/.jsonl/.parquet path, folder, or hf:<dataset>", needs=("haystack", "corpus")
    )
    corpus_text_field: str = option("text", "text column of the corpus", needs=("corpus", SET))
    corpus_config: str = option("", "Hugging Face dataset config", needs=("corpus", SET))
    corpus_split: str = option("train", "Hugging Face dataset split", needs=("corpus", SET))
