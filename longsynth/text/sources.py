"""Haystack sources: repeated noise, generated prose, and user corpora.

Each source becomes a `UnitPool` once per process (cached by source and
tokenizer) and every sample of a build draws a contiguous run from it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import cached_json, code_key
from ..errors import CorpusError, SpecError
from ..files import input_files
from ..network import hub_offline_by_choice, hub_unreachable
from ..tokenizers import get_tokenizer
from . import prose as prose_module
from . import prose_zh as prose_zh_module
from .prose import prose_stream
from .prose_zh import prose_stream_zh
from .units import UnitPool, iter_sentences, normalize

# Short filler sentences in the spirit of RULER's noise haystack (our wording).
NOISE_SENTENCES = [
    "The river keeps running to the sea.",
    "The hills stay green all year.",
    "The wind moves through the tall grass.",
    "Here the road goes on and on.",
    "Nothing much changes from day to day.",
]


# The same in Chinese (our wording); each ends with "。", as every Chinese unit does.
NOISE_SENTENCES_ZH = [
    "河水一直向大海流去。",
    "山坡一年四季都是绿的。",
    "风吹过高高的草丛。",
    "这条路一直向前延伸。",
    "日子一天天过去，没有什么变化。",
]
NOISE = {"en": NOISE_SENTENCES, "zh": NOISE_SENTENCES_ZH}
PROSE = {"en": prose_stream, "zh": prose_stream_zh}


@functools.lru_cache(maxsize=4)
def noise_pool(tokenizer_name: str, min_tokens: int, language: str = "en") -> UnitPool:
    """Noise sentences repeated in order until the pool holds `min_tokens`."""
    tokenizer = get_tokenizer(tokenizer_name)
    sentences = NOISE[language]
    base = UnitPool.from_texts(sentences, tokenizer, language)
    repeats = min_tokens // max(1, base.total_tokens) + 2
    return UnitPool(sentences * repeats, np.tile(base.tokens, repeats))


@functools.lru_cache(maxsize=4)
def prose_pool(tokenizer_name: str, min_tokens: int, language: str = "en") -> UnitPool:
    """Generated prose holding at least `min_tokens`; deterministic for a given size.

    Made and counted once per machine, then read from the cache: drawing and counting the sentences
    of a 32K build's pool took 0.13 s of every build (a fifth of one encode of 100 samples). The
    key holds the sha256 of the code that writes the prose (this module and the two prose modules)
    and the Python version (`random`'s draws), so changed code never reads an old pool."""
    code = code_key(sys.modules[__name__], prose_module, prose_zh_module)
    key = {"language": language, "min_tokens": min_tokens, "tokenizer": tokenizer_name, "code": code}
    return cached_json("prose-pool", key, lambda: _make_prose_pool(tokenizer_name, min_tokens, language), _pool)


def _pool(data: dict[str, list]) -> UnitPool:
    texts, tokens = data["texts"], data["tokens"]
    if len(tokens) != len(texts) or not all(isinstance(t, str) for t in texts):
        raise ValueError("a damaged prose pool")
    return UnitPool(list(texts), np.asarray(tokens, dtype=np.int64))


def _make_prose_pool(tokenizer_name: str, min_tokens: int, language: str) -> dict[str, list]:
    tokenizer = get_tokenizer(tokenizer_name)
    # Grow in fixed steps (4,096 sentences, then twice as many, ...) so that the text is a prefix-stable
    # function of the size asked for; each step reads on from the last and counts only what it added.
    stream = PROSE[language](seed=0)
    texts, counts, step = [], [], 4096
    while True:
        added = list(itertools.islice(stream, step))
        texts += added
        counts.append(UnitPool.from_texts(added, tokenizer, language).tokens)
        if sum(int(c.sum()) for c in counts) >= min_tokens:
            return {"texts": texts, "tokens": np.concatenate(counts).tolist()}
        step = len(texts)


# --------------------------------------------------------------------------- user corpora


def check_corpus(corpus: str) -> None:
    """Fail now, with one line, if a local corpus does not exist (a Hub corpus is checked when read)."""
    if not corpus.startswith("hf:") and not Path(corpus).exists():
        raise CorpusError(
            f"corpus {corpus!r} does not exist; give a .txt, .jsonl or .parquet file, a folder, or hf:<dataset>"
        )


def iter_corpus_documents(
    corpus: str,
    text_field: str = "text",
    id_field: str | None = None,
    config: str | None = None,
    split: str = "train",
) -> Iterator[tuple[str, str]]:
    """Yield (doc_id, text) from a local .txt/.jsonl/.parquet file or folder, or `hf:<dataset>` (streamed)."""
    for default_id, where, record in iter_records(corpus, config, split, text_files=True):
        if isinstance(record, str):  # a .txt file is one document
            yield default_id, record
        else:
            yield _record(record, text_field, id_field, default_id, where)


def iter_records(
    corpus: str, config: str | None = None, split: str = "train", text_files: bool = False
) -> Iterator[tuple[str, str, Any]]:
    """Yield (default id, where, record) from a .jsonl/.parquet file or folder (and .txt files, as
    one string each, with `text_files`), or `hf:<dataset>` (streamed): the records of a user's data."""
    if corpus.startswith("hf:"):
        yield from _iter_hub(corpus[3:], config, split)
        return
    path = Path(corpus)
    if not path.exists():
        raise CorpusError(
            f"corpus {corpus!r} does not exist; give a .txt, .jsonl or .parquet file, a folder, or hf:<dataset>"
        )
    if not path.is_dir() and not path.is_file():
        raise CorpusError(f"corpus {corpus!r} is not a regular file or a folder (a pipe or a device is never read)")
    # A folder's files, not what its links point to: a corpus reads nothing outside what it names.
    files = input_files(path)
    kinds = (".txt", ".jsonl", ".parquet") if text_files else (".jsonl", ".parquet")
    files = [f for f in files if f.suffix in kinds]
    if not files:
        raise CorpusError(f"corpus {corpus!r} holds no {', '.join(kinds)} files")
    for file in files:
        yield from _iter_file(file)


MAX_DOCUMENT_BYTES = 512 * 1024 * 1024  # a .txt document or a .jsonl record, at most (a book is a few MB)


def _iter_file(file: Path) -> Iterator[tuple[str, str, Any]]:
    try:
        if file.suffix == ".txt":
            if file.stat().st_size > MAX_DOCUMENT_BYTES:
                raise CorpusError(
                    f"corpus file {file} holds {file.stat().st_size:,} bytes, and a .txt file is one document "
                    f"of at most {MAX_DOCUMENT_BYTES:,}; split it into several files, or lines of a .jsonl file"
                )
            yield file.stem, str(file), file.read_text(encoding="utf-8")
        elif file.suffix == ".jsonl":
            with file.open(encoding="utf-8") as handle:
                for line_no, line in enumerate(iter(lambda: handle.readline(MAX_DOCUMENT_BYTES + 1), ""), 1):
                    if len(line) > MAX_DOCUMENT_BYTES:  # (characters: at least as many bytes)
                        raise CorpusError(
                            f"corpus file {file} line {line_no} holds more than {MAX_DOCUMENT_BYTES:,} characters; "
                            "at most that a record: split the document into several records"
                        )
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise CorpusError(
                            f"corpus file {file} line {line_no}: not valid JSON ({exc.msg}, column {exc.colno})"
                        ) from None
                    if "\\ud" in line or "\\uD" in line:  # an escaped surrogate: only JSON can make one
                        _check_unicode(record, f"corpus file {file} line {line_no}")
                    yield f"{file.stem}:{line_no}", f"{file}:{line_no}", record
        else:
            import pyarrow.parquet as pq

            # Streamed a batch at a time: a 350 MB corpus read whole took 1.8 GB as Python objects;
            # read this way, about 200 MB (the reader buffers its pages instead of whole row groups).
            with pq.ParquetFile(file, buffer_size=1 << 20, pre_buffer=False) as parquet:
                n = 0
                for batch in parquet.iter_batches(batch_size=1024):
                    for record in batch.to_pylist():
                        yield f"{file.stem}:{n}", f"{file} row {n}", record
                        n += 1
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus file {file} is unreadable: {exc}") from None
    except Exception as exc:  # pyarrow raises its own types for broken files
        if isinstance(exc, CorpusError):
            raise
        raise CorpusError(f"corpus file {file} is unreadable: {type(exc).__name__}: {exc}") from exc


def _record(record: dict, text_field: str, id_field: str | None, default_id: str, where: str) -> tuple[str, str]:
    if not isinstance(record, dict) or text_field not in record:
        raise CorpusError(f"{where} has no field {text_field!r}; set corpus_text_field to the text column")
    doc_id = default_id
    if id_field and id_field in record:
        value = record[id_field]
        # A list, an object, true or null read as an id would be Python's spelling of it ("[7, 'x']")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise CorpusError(
                f"{where}: field {id_field!r} holds {_kind_of(value)}, "
                "not an id (text or a number); set corpus_id_field to a field of ids, or to one the records "
                "lack, to name each document by its place in its file"
            )
        if isinstance(value, float) and not math.isfinite(value):  # NaN, or 1e400 read as inf
            raise CorpusError(
                f"{where}: field {id_field!r} holds {value}, a number that names no document (NaN, or one too "
                "large for a float); write the ids as text"
            )
        doc_id = str(value)
    text = record[text_field]
    if text is not None and not isinstance(text, str):  # a list or a number read as text would be its repr
        raise CorpusError(
            f"{where}: field {text_field!r} holds {_kind_of(text)}, not text; set corpus_text_field to a text column"
        )
    return doc_id, text or ""


def _kind_of(value: Any) -> str:
    """What a record's field holds, in the words of the file it came from (JSON's and Parquet's, not
    Python's: "a number", not "a int"), for an error that names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes (a binary column)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


def _check_unicode(value: Any, where: str) -> None:
    """Refuse a JSON record holding text no tokenizer or file can hold: `\\ud800`-style escapes
    decode to lone surrogates, which are not Unicode text."""
    if isinstance(value, dict):
        for item in value.values():
            _check_unicode(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_unicode(item, where)
    elif isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CorpusError(
                f"{where}: not valid Unicode (a lone surrogate, {value[exc.start]!r}, at character {exc.start}); "
                "fix or drop that record"
            ) from None


def _iter_hub(name: str, config: str | None, split: str) -> Iterator[tuple[str, str, Any]]:
    if not Path(name).exists() and not hub_offline_by_choice():
        reason = hub_unreachable()  # fail in seconds rather than after half a minute of retries
        if reason:
            raise CorpusError(f"Hugging Face dataset {name!r} cannot be fetched: {reason}; give a local path")
    try:
        import datasets  # heavy, and needed only for hf: corpora

        stream = datasets.load_dataset(name, config, split=split, streaming=True)
    except Exception as exc:
        raise CorpusError(f"Hugging Face dataset {name!r} could not be opened ({type(exc).__name__}: {exc})") from None
    for n, record in enumerate(stream):
        yield f"{name}:{n}", f"{name} row {n}", record


def corpus_identity(corpus: str) -> str:
    """What identifies a corpus's content, for in-process caches: a Hub name, or the absolute paths of
    its files with their sizes and modification times."""
    if corpus.startswith("hf:"):
        return corpus
    path = Path(corpus).resolve()
    return json.dumps([(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in input_files(path)])


WHOLE_DOCUMENT_CHARS = 4_000_000  # a corpus document longer than this is split and counted as far as needed
UNIT_BATCH = 4096  # units such a document is split and counted by at a time


@functools.lru_cache(maxsize=4)
def corpus_pool(
    tokenizer_name: str,
    min_tokens: int,
    corpus: str,
    text_field: str = "text",
    config: str | None = None,
    split: str = "train",
    identity: str = "",
    language: str = "en",
) -> UnitPool:
    """Sentence units of a user corpus, read (streamed) until `min_tokens` are held; cached per
    process under the corpus's `identity` too (see `corpus_identity`). A Chinese corpus is cut into
    sentences at 。！？ and joined with nothing, as the built-in Chinese prose."""
    tokenizer = get_tokenizer(tokenizer_name)
    texts: list[str] = []
    counts: list[int] = []
    held = 0
    for _doc_id, text in iter_corpus_documents(corpus, text_field, None, config, split):
        # A document is split and counted whole, as far as `WHOLE_DOCUMENT_CHARS`; a longer one a
        # batch of units at a time, only as far as the pool needs (a 280 MB document took 40 s and
        # 5 GB for a 4K haystack). Units are counted one by one, so the pool is the same either way
        # up to where it stops.
        units = iter_sentences(text, language=language)
        batch = UNIT_BATCH if len(text) > WHOLE_DOCUMENT_CHARS else None
        while held < min_tokens:
            taken = list(itertools.islice(units, batch))
            if not taken:
                break
            pool = UnitPool.from_texts(taken, tokenizer, language)
            texts.extend(pool.texts)
            counts.extend(int(c) for c in pool.tokens)
            held += pool.total_tokens
        if held >= min_tokens:
            break
    if held < min_tokens:
        raise CorpusError(
            f"corpus {corpus!r} holds {held} tokens but a sample needs {min_tokens}; "
            "add text or ask for shorter --lengths"
        )
    return UnitPool(texts, np.asarray(counts, dtype=np.int64))


# --------------------------------------------------------------------------- a sample's haystack


def prose_reach(target: int) -> int:
    """How far into the prose stream a sample of `target` tokens may start its haystack: a function of
    its own length only, so a row never depends on the other lengths of its spec."""
    return 2 * target + 4096


def spare_tokens(target: int) -> int:
    """Haystack drawn beyond the target, from which the fitter picks whole units to close the gap."""
    return max(256, target // 16)


def corpus_reach(target: int) -> int:
    """The same for a user corpus (read only as far as the longest length needs)."""
    return target + spare_tokens(target) + 256


@dataclass(frozen=True)
class Haystack:
    """Where a sample's filler sentences come from: `kind` is noise, prose or corpus; a corpus is
    named with its field, Hub config and split, and its `identity` (see `corpus_identity`)."""

    kind: str
    corpus: str = ""
    text_field: str = "text"
    config: str | None = None
    split: str = "train"
    identity: str = ""
    language: str = "en"  # a key of `language.LANGUAGES`: how units are written, split and joined


def checked_corpus(task: str, options: Any) -> str | None:
    """Check a family's haystack options (`haystack`, `corpus`) for one task; the corpus's identity
    (see `corpus_identity`) when the haystack is a corpus, else None. The needle and babilong families
    share these options and this check."""
    if options.haystack == "corpus" and not options.corpus:
        raise SpecError(f"{task}: haystack=corpus needs --set corpus=PATH (a file, folder or hf:<dataset>)")
    if options.corpus and options.haystack != "corpus":
        raise SpecError(
            f"{task}: corpus is set but the haystack is {options.haystack!r}; add --set haystack=corpus "
            "to build the haystack from it"
        )
    if options.haystack != "corpus":
        return None
    check_corpus(options.corpus)
    return corpus_identity(options.corpus)


def haystack_of(options: Any, identities: dict[str, str], language: str = "en") -> Haystack:
    """The haystack a family's options name: a built-in kind, or the corpus with its field, config,
    split and identity (from `checked_corpus`)."""
    if options.haystack != "corpus":
        return Haystack(options.haystack, language=language)
    return Haystack(
        "corpus",
        options.corpus,
        options.corpus_text_field,
        options.corpus_config or None,
        options.corpus_split,
        identities[options.corpus],
        language,
    )


def haystack_run(
    haystack: Haystack, tokenizer_name: str, target: int, max_length: int, rng: random.Random
) -> tuple[list[str], np.ndarray]:
    """Filler units (texts, token counts as joined) enough for `target` tokens, and some more: the
    fitter closes the last gap with whole units that still fit, never a cut sentence. The pools are
    sized for the spec's `max_length` once per process; where a sample starts depends on its own
    target only."""
    held = target + spare_tokens(target)
    if haystack.kind == "noise":
        pool = noise_pool(tokenizer_name, max_length + spare_tokens(max_length) + 64, haystack.language)
        start = rng.randrange(len(NOISE[haystack.language]))
    elif haystack.kind == "prose":
        pool = prose_pool(tokenizer_name, prose_reach(max_length), haystack.language)
        start = rng.randrange(pool.latest_start(held, within=prose_reach(target)) + 1)
    else:
        pool = corpus_pool(
            tokenizer_name,
            corpus_reach(max_length),
            haystack.corpus,
            haystack.text_field,
            haystack.config,
            haystack.split,
            haystack.identity,
            haystack.language,
        )
        start = rng.randrange(pool.latest_start(held, within=corpus_reach(target)) + 1)
    return pool.run(start, held)


__all__ = [
    "NOISE_SENTENCES",
    "NOISE_SENTENCES_ZH",
    "Haystack",
    "corpus_pool",
    "haystack_run",
    "iter_corpus_documents",
    "noise_pool",
    "normalize",
    "prose_pool",
]
