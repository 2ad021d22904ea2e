"""The nextlong family's options."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import When, option
from .chunking import MIN_CHUNK

FILE_CORPUS = When("a file, folder or hf:<dataset>", lambda value: not value.startswith(("builtin:", "builtin-zipf:")))
HUB_CORPUS = When("hf:<dataset>", lambda value: value.startswith("hf:"))


@dataclass(frozen=True)
class NextLongOptions:
    corpus: str = option(
        "builtin:2000",
        "builtin:<documents> (topical, a few hundred words), builtin-zipf:<documents> (a 65,536-word Zipf "
        "vocabulary), a .jsonl/.parquet/.txt file or folder, or hf:<dataset>",
    )
    corpus_text_field: str = option("text", "text field of corpus records", needs=("corpus", FILE_CORPUS))
    corpus_id_field: str = option("id", "id field of corpus records", needs=("corpus", FILE_CORPUS))
    corpus_config: str = option("", "Hugging Face dataset config", needs=("corpus", HUB_CORPUS))
    corpus_split: str = option("train", "Hugging Face dataset split", needs=("corpus", HUB_CORPUS))
    chunk_size: int = option(
        2048, "meta-chunk size in characters", minimum=MIN_CHUNK, maximum=1_000_000, needs=("chunk_tokens", 0)
    )
    chunk_tokens: int = option(
        0,
        f"meta-chunk size in tokens instead (0: use chunk_size; else at least {MIN_CHUNK})",
        minimum=0,
        maximum=1_000_000,
    )
    retriever: str = option("bm25", "negative retriever", choices=("bm25", "dense"))
    encoder: str = option(
        "wordllama",
        "retriever=dense: wordllama (shipped with the dense extra) or a local sentence-transformers folder",
        needs=("retriever", "dense"),
    )
    index_shards: int = option(
        1,
        "parts the corpus index is built in (in parallel, one per Ray task) and searched across; each part "
        "scores with its own statistics, so the rows depend on this number",
        minimum=1,
        maximum=256,
    )
    placement: str = option("head", "meta-chunk position among its negatives", choices=("head", "tail", "random"))
    overgeneration: float = option(
        1.5, "negatives retrieved per meta-chunk, as a factor over the need", minimum=1.0, maximum=100.0
    )
    input_ids: bool = option(False, "also write the token ids of `text`")
    doc_boundaries: bool = option(
        False, "also write the token offset where each chunk (a document's piece) starts, for document masking"
    )
    position_ids: bool = option(False, "also write position ids that restart at each chunk")
