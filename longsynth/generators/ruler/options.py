"""The ruler family's options: the needle family's (for the eight NIAH tasks, and the haystack of
`vt`) plus those of variable tracking, word extraction and QA, with RULER's defaults."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..needle.generator import TASKS as NIAH_TASKS
from ..needle.options import NeedleOptions
from ..options import SET, option


def _only_for(name: str, tasks: tuple[str, ...]) -> Any:
    """The needle family's option `name`, counting only for `tasks` here: `--set num_keys=4` (or
    `language=zh`) with cwe alone was accepted and ignored."""
    meta = next(f for f in fields(NeedleOptions) if f.name == name)
    kept = {k: meta.metadata[k] for k in ("choices", "minimum", "maximum", "above", "needs")}
    return option(meta.default, meta.metadata["help"], tasks=tasks, **kept)


NIAH = tuple(NIAH_TASKS)


@dataclass(frozen=True)
class RulerOptions(NeedleOptions):
    # The needle family's options, for the NIAH tasks; vt also takes its haystack (noise or prose).
    haystack: str = _only_for("haystack", (*NIAH, "vt"))
    key_type: str = _only_for("key_type", NIAH)
    value_type: str = _only_for("value_type", NIAH)
    num_keys: int = _only_for("num_keys", NIAH)
    num_values: int = _only_for("num_values", NIAH)
    num_queries: int = _only_for("num_queries", NIAH)
    language: str = _only_for("language", NIAH)
    corpus: str = _only_for("corpus", NIAH)

    shots: int = option(
        -1, "solved examples before the question (-1: RULER's, 1 for vt and cwe, 0 otherwise)", minimum=-1, maximum=5
    )
    num_chains: int = option(
        1, "vt: chains of assignments in the text (one is asked about)", minimum=1, maximum=50, tasks=("vt",)
    )
    num_hops: int = option(
        4, "vt: assignments that pass the value along each chain", minimum=1, maximum=100, tasks=("vt",)
    )
    num_cw: int = option(10, "cwe: common words, the answer", minimum=1, maximum=100, tasks=("cwe",))
    freq_cw: int = option(
        30, "cwe: times each common word appears (at 4096 tokens and longer)", minimum=2, maximum=1000, tasks=("cwe",)
    )
    freq_ucw: int = option(
        3, "cwe: times each other word appears (at 4096 tokens and longer)", minimum=1, maximum=100, tasks=("cwe",)
    )
    short_freq_cw: int = option(
        6, "cwe: times each common word appears below 4096 tokens", minimum=2, maximum=1000, tasks=("cwe",)
    )
    short_freq_ucw: int = option(
        1, "cwe: times each other word appears below 4096 tokens", minimum=1, maximum=100, tasks=("cwe",)
    )
    alpha: float = option(
        2.0, "fwe: exponent of the Zipf distribution of coded words", above=1.0, maximum=10.0, tasks=("fwe",)
    )
    coded_wordlen: int = option(6, "fwe: letters of a coded word", minimum=3, maximum=20, tasks=("fwe",))
    vocab_size: int = option(
        0,
        "fwe: coded words to draw from (0: RULER's, (length - reserve) // 50)",
        minimum=0,
        maximum=200_000,
        tasks=("fwe",),
    )
    qa_data: str = option(
        "",
        "qa_1/qa_2: .jsonl/.parquet path or hf:<dataset> in SQuAD/HotpotQA shape (empty: built-in)",
        tasks=("qa_1", "qa_2"),
    )
    qa_config: str = option("", "qa_1/qa_2: Hugging Face dataset config", needs=("qa_data", SET))
    qa_split: str = option("validation", "qa_1/qa_2: Hugging Face dataset split", needs=("qa_data", SET))
