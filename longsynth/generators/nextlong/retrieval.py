"""A chunk-level retrieval index over a corpus, built once and cached on disk (NExtLong).

Building it reads the corpus (streamed, on a thread of its own), cuts every
document into meta-chunks, counts each chunk's tokens once, and indexes the
chunks with BM25 (`bm25.py`) or, optionally, dense embeddings (wordllama's
static model, shipped in its wheel, or a local sentence-transformers folder;
searched exactly with numpy, or, for large indexes, through faiss's IVF index). The index is
saved under the cache folder, keyed by corpus, chunking, retriever and
tokenizer, so later builds load it instead of rebuilding; a load checks every
file against the digest its build recorded.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import logging
import operator
import os
import re
import shutil
import sys
import threading
import zlib
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ...cache import cache_dir
from ...cores import available_cores, process_pool
from ...errors import CacheError, CorpusError, SpecError
from ...files import input_files, read_parquet_file, sha256_file, write_folder_atomically
from ...inputs import read_text
from ...read_ahead import WriteBehind, ordered_map, read_ahead
from ...terminal import printable
from ...text.sources import iter_corpus_documents
from ...tokenizers import MAX_TOKENIZER_BYTES, O200K_PATTERN, Tokenizer, get_tokenizer, holds_blank_run
from .bm25 import BATCH, BATCH_CHARS, POSTINGS_PER_TERM, ArrayFile, Bm25, terms_of, top_k
from .chunking import chunk_document, chunk_texts
from .pieces import PieceTable
from .synthetic_corpus import VERSION as SYNTHETIC_VERSION
from .synthetic_corpus import synthetic_corpus, synthetic_documents
from .zipf_corpus import VERSION as ZIPF_VERSION
from .zipf_corpus import zipf_corpus, zipf_documents

WORDLLAMA = "wordllama"  # the default dense encoder: a static embedding model shipped inside its wheel
# 5: BM25 impact-pruned (each term's best chunks), shards; 6: long lines cut at any blank or CJK full stop,
# each Chinese or Japanese character a BM25 word, documents with a 100,000-blank run left out; 7: BM25's terms
# looked up by their keys (no vocabulary.json), frequencies as int32
INDEX_FORMAT = 7
UNIT_END = "\n"  # a chunk is a unit "chunk\n" in a training sample


BUILDS = "builds.log"  # one line per index this cache built (key, corpus, retriever)


def cache_root() -> Path:
    return cache_dir("index")


@dataclass(frozen=True)
class IndexSpec:
    corpus: str
    text_field: str = "text"
    id_field: str = "id"
    config: str | None = None
    split: str = "train"
    chunk_size: int = 2048
    chunk_tokens: int = 0  # a token budget per meta-chunk instead of chunk_size characters
    retriever: str = "bm25"
    encoder: str = WORDLLAMA  # retriever=dense: wordllama or a local sentence-transformers folder
    tokenizer: str = "cl100k_base"
    shards: int = 1  # the index is built as this many independent parts (in parallel on Ray) and searched across all

    def shard_folder(self, shard: int) -> Path:
        """Where part `shard` is cached: the key's folder for a one-part index, else one folder per part,
        each a whole index of its documents, built and checked on its own."""
        key = self.key()
        return cache_root() / (key if self.shards == 1 else f"{key}-part{shard + 1}of{self.shards}")

    def corpus_identity(self) -> dict[str, Any]:
        """What identifies the corpus's content: files with size and mtime, or a dataset name."""
        if is_builtin(self.corpus):
            version = ZIPF_VERSION if self.corpus.startswith("builtin-zipf:") else SYNTHETIC_VERSION
            return {"source": self.corpus, "generator": version}
        if self.corpus.startswith("hf:"):
            return {"source": self.corpus}
        path = Path(self.corpus)
        if not path.exists():
            raise CorpusError(
                f"corpus {self.corpus!r} does not exist; give a .txt, .jsonl or .parquet file, "
                "a folder, hf:<dataset> or builtin:<documents>"
            )
        return {"files": [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in input_files(path)]}

    def key(self) -> str:
        payload = {**self.__dict__, "identity": self.corpus_identity(), "format": INDEX_FORMAT}
        if self.retriever == "dense":
            payload["encoder_identity"] = encoder_identity(self.encoder)
            payload["dense_format"] = DENSE_FORMAT
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


MAX_BUILTIN_DOCUMENTS = 1_000_000  # the built-in corpus's size limit (an index of it takes about 10 minutes)


def is_builtin(corpus: str) -> bool:
    """A built-in corpus: `builtin:<documents>` (topical, a few hundred words) or `builtin-zipf:<documents>`
    (a 65,536-word Zipf vocabulary with topics)."""
    return corpus.startswith(("builtin:", "builtin-zipf:"))


def builtin_size(corpus: str) -> int:
    """The document count of a built-in corpus, checked against its limit."""
    kind, _, text = corpus.partition(":")
    if not (text.isdigit() and len(text) <= 12 and int(text) >= 1):
        raise SpecError(f"corpus {corpus!r}: use {kind}:<number of documents>, e.g. {kind}:2000")
    if int(text) > MAX_BUILTIN_DOCUMENTS:
        raise SpecError(
            f"corpus {corpus!r}: the built-in corpus holds at most {MAX_BUILTIN_DOCUMENTS:,} documents; "
            "for more, point corpus at your own files"
        )
    return int(text)


def corpus_documents(corpus: str, text_field: str = "text", id_field: str = "id", config=None, split="train"):
    """(doc_id, text) of every document of a corpus, built-in or read from files or the Hub."""
    if corpus.startswith("builtin:"):
        yield from synthetic_corpus(builtin_size(corpus))
    elif corpus.startswith("builtin-zipf:"):
        yield from zipf_corpus(builtin_size(corpus))
    else:
        yield from iter_corpus_documents(corpus, text_field, id_field, config, split)


def _documents(spec: IndexSpec, shard: int = 0):
    """The documents of part `shard`: a contiguous range of a built-in corpus (made directly, not
    skipped over), every `shards`-th document of any other (its size is not known before reading it)."""
    if spec.shards == 1:
        yield from corpus_documents(spec.corpus, spec.text_field, spec.id_field, spec.config, spec.split)
    elif is_builtin(spec.corpus):
        size = builtin_size(spec.corpus)
        lo, hi = shard * size // spec.shards, (shard + 1) * size // spec.shards
        make = zipf_documents if spec.corpus.startswith("builtin-zipf:") else synthetic_documents
        for start in range(lo, hi, 1024):
            yield from make(start, min(1024, hi - start))
    else:
        documents = corpus_documents(spec.corpus, spec.text_field, spec.id_field, spec.config, spec.split)
        for n, document in enumerate(documents):
            if n % spec.shards == shard:
                yield document


EXACT_SEARCH_LIMIT = 50_000  # up to this many vectors, numpy's exact search; beyond, faiss's IVF index
# A dense index's own format (in its key beside INDEX_FORMAT, so BM25 indexes are not rebuilt for it):
# 2: beyond EXACT_SEARCH_LIMIT, an IVF index built with the vectors (before: an exact one made at each load)
DENSE_FORMAT = 2


def encoder_identity(encoder: str) -> dict[str, Any]:
    """What identifies an encoder's vectors, for the index cache key: its name and version, or a
    local model folder with its files' sizes and times."""
    if encoder == WORDLLAMA:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return {"encoder": WORDLLAMA, "version": version("wordllama")}
        except PackageNotFoundError:
            return {"encoder": WORDLLAMA, "version": None}
    path = Path(encoder)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    return {"encoder": str(path.resolve()), "files": [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]}


@contextlib.contextmanager
def _logging_left_alone() -> Iterator[None]:
    """Undo what an import does to the root logger: wordllama's import sets it to INFO with a handler
    on stderr, after which every library's INFO lines (faiss's "Loading faiss.") reached a build's
    stderr, which holds nothing but a failure's one line."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def load_encoder(encoder: str):
    """The dense retriever's encoder: texts -> unit vectors (float32). `wordllama` loads the model
    its wheel ships, with downloads off (offline, about 0.1 s); anything else must be a local
    sentence-transformers folder. No model is ever fetched from a hub."""
    if encoder == WORDLLAMA:
        try:
            with _logging_left_alone():
                import wordllama
                from wordllama import WordLlama
        except ImportError:
            raise SpecError("retriever=dense needs the dense extra: pip install 'longsynth[dense]'") from None
        model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

        def embed(texts):
            return np.asarray(model.embed(list(texts), norm=True), dtype=np.float32)

        # Its tokenizer (Rust) and pooling (numpy) let go of the GIL, and a text's vector depends only
        # on the batch it is embedded in: batches may be embedded on several threads at once.
        embed.concurrent = True
        return embed
    if not encoder or not Path(encoder).is_dir():
        raise SpecError(f"encoder {encoder!r} is not wordllama or a local model folder; no model is fetched from a hub")
    check_model_folder(Path(encoder))
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SpecError(
            "encoder=<folder> needs sentence-transformers: pip install 'longsynth[sentence-transformers]'"
        ) from None
    model = SentenceTransformer(encoder, device="cpu", trust_remote_code=False, model_kwargs={"use_safetensors": True})
    return lambda texts: np.asarray(model.encode(texts, normalize_embeddings=True), dtype=np.float32)


PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")  # formats whose loading runs code
CLASS_KEYS = ("type", "types", "activation_function", "tokenizer_class")  # config keys naming a class to import
LIBRARIES = ("sentence_transformers.", "torch.nn.")  # where a class a model folder names may come from
# The regular expressions a model folder's tokenizer.json may split or rewrite text with: those of
# published tokenizers (GPT-2's, Llama 3's, which is cl100k's, Qwen2's, o200k's, and the collapse of
# repeated spaces sentencepiece models add). The tokenizers library runs them in this process, on
# every text, with a backtracking engine; a crafted one can stall the build for hours.
KNOWN_TOKENIZER_PATTERNS = frozenset(
    {
        " {2,}",
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+""",
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+""",
        O200K_PATTERN,
    }
)


def check_model_folder(folder: Path) -> None:
    """Refuse a model folder that could run code when loaded. A spec, and the folder it names, may be
    someone else's, and sentence-transformers (3.x to 5.x) runs a local folder's code without being
    asked to trust it: a module class named in modules.json is loaded from the folder's own .py
    files, a class named in a module's config.json (a Dense module's activation) is imported and
    called, and pickled weights run whatever they name when unpickled. So the folder may hold no
    .py file, name no class outside sentence_transformers and torch.nn, and hold pickled weights only
    beside .safetensors ones (a model saved by older versions keeps both; the transformer is loaded
    with safetensors only, and each module reads its model.safetensors when there is one). Its
    tokenizer.json may split or rewrite text only with regular expressions of published tokenizers
    (`KNOWN_TOKENIZER_PATTERNS`): the library loads it in this process, out of reach of the tokenizer
    helper's deadline."""
    files = input_files(folder)
    code = [f for f in files if f.suffix == ".py"]
    if code:
        raise SpecError(
            f"encoder folder {str(folder)!r} holds {code[0].relative_to(folder)}, code that loading the model "
            "would run; give a model folder without .py files"
        )
    safe = {f.parent for f in files if f.suffix == ".safetensors"}
    if not safe:
        raise SpecError(f"encoder folder {str(folder)!r} holds no .safetensors weights")
    pickled = [f for f in files if f.suffix.lower() in PICKLED and f.parent not in safe]
    if pickled:
        raise SpecError(
            f"encoder folder {str(folder)!r} holds {pickled[0].relative_to(folder)}, a pickle with no "
            ".safetensors weights beside it, and loading a pickle runs code; give a model folder whose weights "
            "are .safetensors files"
        )
    for file in files:
        if file.name == "tokenizer.json":
            _check_tokenizer_patterns(folder, file)
        if file.suffix != ".json" or file.name.startswith(("tokenizer", "vocab", "special_tokens")):
            continue
        for named in _named_classes(_model_json(folder, file, "a model configuration file")):
            if not named.startswith(LIBRARIES):
                raise SpecError(
                    f"encoder folder {str(folder)!r}: {file.relative_to(folder)} names {named!r}, a class outside "
                    "sentence_transformers and torch.nn, which loading would import and run"
                )


def _check_tokenizer_patterns(folder: Path, file: Path) -> None:
    """Refuse a tokenizer.json that splits or rewrites text with a regular expression no published
    tokenizer uses (its normalizer, pre-tokenizer or decoder, at any depth)."""
    for _, value in _walk(_model_json(folder, file, "a tokenizer file", MAX_TOKENIZER_BYTES)):
        if isinstance(value, dict):
            pattern = value.get("Regex")
            if pattern is not None and (not isinstance(pattern, str) or pattern not in KNOWN_TOKENIZER_PATTERNS):
                shown = printable(str(pattern)[:80])
                raise SpecError(
                    f"encoder folder {str(folder)!r}: {file.relative_to(folder)} splits or rewrites text with the "
                    f"regular expression {shown!r}, which no published tokenizer uses; the tokenizers library "
                    "runs it on every text in this process, where a crafted one can stall the build for hours "
                    "(allowed: the expressions of GPT-2's, Llama 3's, Qwen2's and o200k's tokenizers, and ' {2,}')"
                )


def _model_json(folder: Path, file: Path, what: str, limit: int | None = None) -> Any:
    """A model folder's JSON file, parsed: one error line when it is not JSON, or is nested deeper
    than Python's parser goes (a RecursionError, which ended a build in a traceback)."""
    try:
        return json.loads(read_text(file, what) if limit is None else read_text(file, what, limit))
    except (ValueError, RecursionError):
        raise SpecError(f"encoder folder {str(folder)!r}: {file.relative_to(folder)} is not JSON") from None


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    """Every value of a parsed JSON document, in order, with the key it sits under (a list's items
    under the list's key; a Router's "types" maps route names to classes, so everything inside it
    under "types"). A loop, not recursion: the file is someone else's, nested as deep as it likes."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        key, value = stack.pop()
        yield key, value
        if isinstance(value, dict):
            stack.extend(reversed([(key if key == "types" else str(k), v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(key, v) for v in value]))


def _named_classes(config: Any) -> Iterator[str]:
    """Every dotted name a model configuration gives under one of CLASS_KEYS (at any depth)."""
    for key, value in _walk(config):
        if isinstance(value, str) and key in CLASS_KEYS and "." in value:
            yield value


class _Dense:
    """Chunk vectors (unit length; a dot product is a cosine similarity) and their search: exact with
    numpy up to `EXACT_SEARCH_LIMIT` chunks, beyond that through faiss's inverted-file index (IVF), built
    once with the vectors and cached beside them (see `write_ivf`)."""

    def __init__(self, vectors: np.ndarray, encoder, ivf=None):
        self.vectors = vectors
        self.encoder = encoder
        self.ivf = ivf

    @classmethod
    def write(cls, batches, model: str, folder: Path) -> None:
        """Vectors of every chunk of `batches`, embedded 256 at a time and saved in `folder` as they
        come (a 100,000-document corpus has 232 MB of them; memory holds a group of 256 per thread),
        then, for more than `EXACT_SEARCH_LIMIT` chunks, their IVF index; `load` reads them."""
        encoder = load_encoder(model)
        folder.mkdir(parents=True, exist_ok=True)
        raw = folder / "vectors.raw"
        rows, width = 0, 1
        large = False

        def groups():
            for texts in batches:
                for start in range(0, len(texts), 256):
                    yield texts[start : start + 256]

        # The same groups of 256, in order, on every core the encoder may share (wordllama: 8,192
        # chunks in 3.6 s on two threads against 5.5 s on one, the same bytes), one group each ahead.
        workers = available_cores() if getattr(encoder, "concurrent", False) else 1
        with open(raw, "wb") as sink:
            for vectors in ordered_map(encoder, groups(), workers):
                vectors = np.ascontiguousarray(vectors, dtype=np.float32)
                sink.write(vectors.tobytes())
                rows, width = rows + len(vectors), vectors.shape[1]
                if rows > EXACT_SEARCH_LIMIT and not large:  # without faiss, said now, not after the corpus
                    _faiss()
                    large = True
        with open(folder / "vectors.npy", "wb") as out, open(raw, "rb") as vectors:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
            np.lib.format.write_array_header_1_0(out, {**header, "shape": (rows, width)})
            shutil.copyfileobj(vectors, out, 1 << 20)
        raw.unlink()
        if rows > EXACT_SEARCH_LIMIT:
            del encoder  # (its tables, about 50 MiB: a search loads its own)
            return_freed_memory()  # (the chunks' texts, embedded and gone) before k-means takes its sample
            write_ivf(folder / "vectors.npy", folder / IVF_FILE)

    @classmethod
    def load(cls, folder: Path, model: str) -> _Dense:
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        ivf = None
        if len(vectors) > EXACT_SEARCH_LIMIT:
            faiss = _faiss()
            # mapped, not read: the lists hold every vector again (codes and ids: 599 MB at a million documents)
            ivf = faiss.read_index(str(folder / IVF_FILE), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            # (a file of another index, rehashed in meta.json, would answer with other chunks: rebuilt)
            if not hasattr(ivf, "nprobe") or ivf.ntotal != len(vectors) or ivf.d != vectors.shape[1]:
                raise ValueError(f"{folder / IVF_FILE} is not the IVF index of these {len(vectors)} vectors")
            ivf.nprobe = min(PROBED_LISTS, ivf.nlist)
        return cls(vectors, load_encoder(model), ivf)

    @functools.cached_property
    def _rows(self) -> ArrayFile:
        """The vectors' file, read a row at a time where a search re-scores its best (`ArrayFile`)."""
        return ArrayFile(Path(self.vectors.filename))

    def search_many(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, the k nearest (chunk ids, cosine similarities), best first, ties to the lower id."""
        vectors = self.encoder(queries)
        k = min(k, len(self.vectors))
        if self.ivf is not None:
            # The IVF's k + 16 best by its 8-bit codes, scored again exactly from the vectors and ranked
            # as the exact search ranks (ties to the lower id): the scores a row records are exact.
            _, found = self.ivf.search(np.ascontiguousarray(vectors, dtype=np.float32), k + 16)
            results = []
            for query, ids in zip(vectors, found, strict=True):
                ids = np.sort(ids[(ids >= 0) & (ids < len(self.vectors))]).astype(np.int64)  # (in file order)
                results.append(top_k(self._rows.take(ids) @ query, ids, k))
            return results
        all_scores = vectors @ self.vectors.T
        chunk_ids = np.arange(len(self.vectors), dtype=np.int64)
        return [top_k(row, chunk_ids, k) for row in all_scores]


IVF_FILE = "ivf.faiss"
LIST_VECTORS = 256  # vectors per IVF list, on average, up to MAX_LISTS lists
# (beyond 4,096 x 256 = 1M chunks, lists grow: a query reads 24 lists of 560 at a million documents;
# more lists would need more training vectors, 40 a list, in memory at once)
MAX_LISTS = 4096
PROBED_LISTS = 24  # lists a query reads (faiss's nprobe): see docs/families/nextlong.md for its recall
TRAINING_PER_LIST = 40  # vectors per list k-means is trained on (faiss asks for at least 39)
IVF_SEED = 20241204  # k-means's seed: the same vectors give the same index


def _faiss():
    try:
        import faiss
    except ImportError:
        raise SpecError(
            f"a dense index of more than {EXACT_SEARCH_LIMIT:,} chunks needs faiss: pip install 'longsynth[dense]'"
        ) from None
    return faiss


def return_freed_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing).

    Texts longer than a few hundred bytes live on the C heap, not in Python's own arenas, and the
    pages of those freed stay in the process's resident memory: after embedding 100,000 documents'
    chunks, 104 of its 461 MiB. Called before the IVF is trained, the largest step of a dense
    index's build."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the memory stays as it is
        pass


def write_ivf(vectors_file: Path, path: Path) -> None:
    """faiss's inverted-file index of the vectors in `vectors_file` (a float32 .npy; inner product),
    written to `path`.

    The chunks are grouped into lists of about LIST_VECTORS by spherical k-means (their cosine
    similarity to the list's centroid), trained on an evenly spaced sample with a fixed seed. Each
    list holds its vectors as 8-bit codes (a quarter of their float32 bytes: 581 MB, not 2.3 GB, at
    a million documents). A search scores the centroids, then the codes of the PROBED_LISTS nearest
    lists, and its best are scored again exactly (`_Dense.search_many`). So a query reads 6,000 to
    14,000 codes whatever the corpus's size, where the exact search read every vector (2.3 million
    at a million built-in documents), and may miss a near chunk whose list it did not read
    (measured: see `bench/nextlong_dense.py`). The vectors are read from the file a block at a time,
    not mapped: a mapped file's pages count in the build's memory once read (3.2 GB at 2.3 million
    vectors, against 1.0). The lists are written to the file as they are filled, never held
    (`_write_filled`)."""
    faiss = _faiss()
    vectors = ArrayFile(vectors_file)
    if len(vectors.shape) != 2 or vectors.dtype != np.float32:
        raise ValueError(f"{vectors_file} is not a float32 matrix")
    rows, width = vectors.shape
    lists = max(1, min(MAX_LISTS, round(rows / LIST_VECTORS)))
    quantizer = faiss.IndexFlatIP(width)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, width, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = IVF_SEED
    index.cp.spherical = True
    # k-means's sample: every step-th vector, up to TRAINING_PER_LIST a list, filled in place block by
    # block (a list of the blocks' slices, then joined, held the sample twice: 168 MB more at 4,096 lists)
    step = max(1, rows // (lists * TRAINING_PER_LIST))
    sample = np.empty((min(-(-rows // step), lists * TRAINING_PER_LIST), width), dtype=np.float32)
    for start in range(0, min(rows, len(sample) * step), VECTOR_BLOCK):
        taken = vectors.read(start, min(rows, start + VECTOR_BLOCK))[-start % step :: step]
        first = -(-start // step)
        taken = taken[: len(sample) - first]
        sample[first : first + len(taken)] = taken
    chosen = _train_lists(index, sample)
    del sample
    _train_codes(index, vectors.take(chosen * step))
    # Each vector's list (the quantizer's own assignment, which `add` would make).
    blocks = [(start, min(rows, start + ADD_BLOCK)) for start in range(0, rows, ADD_BLOCK)]
    assigned = np.concatenate([index.quantizer.assign(vectors.read(*block), 1).ravel() for block in blocks])
    _write_filled(index, vectors, np.ascontiguousarray(assigned, dtype=np.int64), path)


def _train_lists(index, sample: np.ndarray) -> np.ndarray:
    """The first half of faiss's `IndexIVF.train`: k-means on `sample` (`train_q1`). Returns the rows
    of the sample the second half (`_train_codes`) trains the 8-bit codes on: at most
    `train_encoder_num_vectors` of them, drawn as faiss draws them (`rand_perm`, seed 1234).

    faiss's own `train` holds the sample and two more copies of that subset (it, and its residuals)
    while it trains the codes: with 4,096 lists, 168 MB and twice 100 MB, the largest step of a
    dense index's build once the lists are written as they fill (`_write_filled`). Split in two,
    the caller lets the sample go and reads the subset again from the vectors' file, and the
    residuals are computed in place: 100 MB. The trained index is the same bytes (tested)."""
    faiss = _faiss()
    count = len(sample)
    index.train_q1(count, faiss.swig_ptr(sample), False, index.metric_type)
    most = index.train_encoder_num_vectors()
    if not 0 < most < count:
        return np.arange(count, dtype=np.int64)
    order = np.empty(count, dtype=np.int32)
    faiss.rand_perm(faiss.swig_ptr(order), count, 1234)  # (fvecs_maybe_subsample's draw)
    return order[:most].astype(np.int64)


def _train_codes(index, subset: np.ndarray) -> None:
    """The second half of faiss's `IndexIVF.train`: the 8-bit quantizer trained on the residuals of
    `subset` (each vector less its list's centroid, as faiss computes them; in place)."""
    faiss = _faiss()
    subset = np.require(subset, dtype=np.float32, requirements=("C", "W"))
    lists = np.ascontiguousarray(index.quantizer.assign(subset, 1).ravel(), dtype=np.int64)
    centroids = index.quantizer.reconstruct_n(0, index.nlist)
    for start in range(0, len(subset), ADD_BLOCK):
        subset[start : start + ADD_BLOCK] -= centroids[lists[start : start + ADD_BLOCK]]
    index.train_encoder(len(subset), faiss.swig_ptr(subset), faiss.swig_ptr(lists))
    index.is_trained = True


def _write_filled(index, vectors: ArrayFile, assigned: np.ndarray, path: Path) -> None:
    """Write `index` (trained, its lists empty) as faiss's `write_index` writes it once every vector
    is added to its list `assigned[n]` in order, without holding the lists.

    faiss writes an IVF's lists last: "ilar", the number of lists and the code size, the lists'
    sizes ("full": every size; "sprs", when at most half of them hold anything: (list, size) pairs),
    then each list's codes followed by its ids. Everything before them is what faiss writes for the
    trained index with its lists empty, its `ntotal` set (checked: that serialization must end in
    the empty lists' 32 bytes, or this stops). So each list's place in the file is known from the
    sizes, and every block of vectors is encoded (`encode_vectors`, what `add` stores) and written
    straight to the places of its lists: 2.3 million vectors' index peaked at 709 MiB when faiss
    held the lists (581 MB of codes, 18 MB of ids) and wrote them. The file is the same bytes as
    faiss's own (tested against `add` and `write_index`), and `load` maps it as before."""
    faiss = _faiss()
    lists, code_size, rows = index.nlist, index.code_size, len(assigned)
    sizes = np.bincount(assigned, minlength=lists)  # (int64)
    index.ntotal = rows
    try:
        head = bytes(faiss.serialize_index(index))
    finally:
        index.ntotal = 0
    sizes_of = [b"ilar", np.array([lists, code_size], np.uint64).tobytes()]
    empty = b"".join(sizes_of) + b"sprs" + np.zeros(1, np.uint64).tobytes()
    if not head.endswith(empty):  # (a faiss whose format this does not know: never a wrong file)
        raise RuntimeError("this faiss writes IVF indexes in a layout longsynth does not know; please report it")
    filled = np.flatnonzero(sizes)
    if len(filled) > lists // 2:
        sizes_of += [b"full", np.array([lists], np.uint64).tobytes(), sizes.astype(np.uint64).tobytes()]
    else:
        pairs = np.stack([filled, sizes[filled]], axis=1).ravel().astype(np.uint64)
        sizes_of += [b"sprs", np.array([len(pairs)], np.uint64).tobytes(), pairs.tobytes()]
    head = head[: -len(empty)] + b"".join(sizes_of)
    list_bytes = sizes * (code_size + 8)  # codes, then ids
    list_start = len(head) + np.concatenate([[0], np.cumsum(list_bytes)[:-1]]).astype(np.int64)
    written = np.zeros(lists, dtype=np.int64)  # entries of each list in the file so far
    with open(path, "wb") as out:
        out.write(head)
        out.truncate(len(head) + int(list_bytes.sum()))
        fd = out.fileno()
        for start in range(0, rows, WRITE_BLOCK):
            stop = min(rows, start + WRITE_BLOCK)
            block = np.ascontiguousarray(vectors.read(start, stop), dtype=np.float32)
            chosen = assigned[start:stop]
            codes = np.empty((stop - start, code_size), dtype=np.uint8)
            index.encode_vectors(len(block), faiss.swig_ptr(block), faiss.swig_ptr(chosen), faiss.swig_ptr(codes))
            del block
            # The block's entries list by list, in vector order within each (as `add` appends them).
            order = np.argsort(chosen, kind="stable")
            codes, ids, chosen = codes[order], (order + start).astype(np.int64), chosen[order]
            bounds = np.flatnonzero(np.diff(chosen)) + 1
            for first, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(chosen)], strict=True):
                number = int(chosen[first])
                place, size = int(list_start[number]), int(sizes[number])
                done = int(written[number])
                os.pwrite(fd, codes[first:end].data, place + done * code_size)
                os.pwrite(fd, ids[first:end].data, place + size * code_size + done * 8)
                written[number] = done + end - first


VECTOR_BLOCK = 1 << 16  # vectors read at once for the training sample (64 MB of 256 dimensions)
ADD_BLOCK = 1 << 14  # vectors assigned to their lists at once (16 MB)
WRITE_BLOCK = 1 << 16  # vectors encoded and written at once (64 MB, and 16 MB of codes twice)


@dataclass
class ChunkIndex:
    spec: IndexSpec
    doc_ids: Sequence[str]  # a polars Series
    doc_first_chunk: np.ndarray  # len(docs) + 1: chunks of doc d are [first[d], first[d + 1])
    chunk_texts: Sequence[str]
    chunk_joiners: Sequence[str]
    chunk_doc: np.ndarray
    chunk_tokens: np.ndarray  # tokens of chunk + "\n", each counted once
    chars_per_token: float
    retriever: Any
    built: bool = False  # True when this process built it (False: loaded from the cache)
    # documents left out for holding BLANK_RUN_LIMIT whitespace characters in a row (see `_build`)
    skipped_blank_runs: int = 0

    @functools.cached_property
    def doc_tokens(self) -> np.ndarray:
        """Each document's tokens (its chunks' counts summed; computed once: 15 ms at 1M documents)."""
        return (
            np.add.reduceat(self.chunk_tokens, self.doc_first_chunk[:-1])
            if len(self.chunk_tokens)
            else np.zeros(0, np.int64)
        )

    @functools.cached_property
    def mean_chunk_chars(self) -> float:
        """Mean characters of the first 5,000 chunks (sizes the candidate count; computed once)."""
        return max(1.0, float(np.mean([len(t) for t in self.chunk_texts[:5000]])))

    def keywords(self, doc: int, count: int) -> list[str]:
        """A document's `count` most telling words, as Quest draws its queries: by term frequency in
        the document times rarity in the corpus (BM25's idf when the index has one), ties by word."""
        counted = Counter(terms_of([self.chunk_texts[c] for c in self.chunks_of(doc)])[1])
        terms, times = list(counted), np.fromiter(counted.values(), dtype=np.float64, count=len(counted))
        weight = times * self.retriever.idf(terms) if hasattr(self.retriever, "idf") else times
        order = sorted(range(len(terms)), key=lambda n: (-weight[n], terms[n]))
        return [terms[n] for n in order[:count]] or [self.chunk_texts[self.chunks_of(doc)[0]]]

    def doc_ids_of(self, chunks: Sequence[int]) -> list[str]:
        """The id of each chunk's document, in one gather (an item lookup per chunk in the polars
        column of a million ids cost about 2 us each, with its wrapper)."""
        return self.doc_ids.gather(self.chunk_doc[np.asarray(chunks, dtype=np.int64)]).to_list()

    def chunks_of(self, doc: int) -> range:
        return range(int(self.doc_first_chunk[doc]), int(self.doc_first_chunk[doc + 1]))

    def document(self, doc: int) -> str:
        return "".join(self.chunk_texts[c] + self.chunk_joiners[c] for c in self.chunks_of(doc))

    def search_many(self, queries: list[str], fetch: int) -> list[list[tuple[int, int, float]]]:
        """For each query, up to `fetch` (chunk id, rank, score) most similar to it, best first (rank 1)."""
        return [
            [(int(c), rank, float(score)) for rank, (c, score) in enumerate(zip(ids, scores, strict=True), 1)]
            for ids, scores in self.retriever.search_many(queries, fetch)
        ]

    def search(self, query: str, k: int, exclude) -> list[tuple[int, int, float]]:
        """Up to k (chunk id, rank, score) most similar to `query`, skipping chunks `exclude(chunk)`
        rejects (their ranks are kept: rank r is the r-th best chunk of the whole index)."""
        fetch = k + 16
        while True:
            (found,) = self.search_many([query], fetch)
            kept = [hit for hit in found if not exclude(hit[0])]
            if len(kept) >= k or len(found) < fetch or fetch >= len(self.chunk_texts):
                return kept[:k]
            fetch *= 4


class TextColumn(Sequence):
    """Chunk texts kept on disk: one file of their UTF-8 bytes (`texts.bin`) and each one's byte offset
    (`offsets.npy`, the only part in memory). A text is read when asked for, with one `pread`, so a
    process holds the texts its samples use, never the corpus (347 MB for 100,000 documents). A
    memory map did not do that: the kernel maps 64 KB around each page read, so random reads mapped
    most of the file (531 MB of resident pages at 200 samples).

    The texts read last (up to `RECENT_CHARS` characters) are kept: a sample's chunks are asked for
    again when its row is checked, and a source's chunks four times (its queries, its text, its
    check, its document rebuilt). Fifty 32K samples of the topical corpus asked for 8,108 texts of
    2,737 chunks, and now read 2,673 from the file."""

    RECENT_CHARS = 4_000_000

    def __init__(self, folder: Path):
        self._folder = folder
        self._offsets = np.load(folder / "offsets.npy")
        self._checksums = np.load(folder / "checksums.npy")  # each text's CRC-32, checked at each read
        self._fd = os.open(folder / "texts.bin", os.O_RDONLY)
        if os.fstat(self._fd).st_size != int(self._offsets[-1]) or len(self._checksums) != len(self):
            raise ValueError(f"{folder / 'texts.bin'} does not match its offsets")
        self._recent: OrderedDict[int, str] = OrderedDict()
        self._recent_chars = 0
        self._lock = threading.Lock()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __reduce__(self):  # another process opens the file itself
        return TextColumn, (self._folder,)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[n] for n in range(*item.indices(len(self)))]
        n = operator.index(item)
        if n < 0:
            n += len(self)
        if not 0 <= n < len(self):
            raise IndexError(f"chunk {item} out of range")
        with self._lock:
            text = self._recent.get(n)
            if text is not None:
                self._recent.move_to_end(n)
                return text
        text = self._read(n)
        with self._lock:
            if n not in self._recent:
                self._recent[n] = text
                self._recent_chars += len(text)
                while self._recent_chars > self.RECENT_CHARS and len(self._recent) > 1:
                    self._recent_chars -= len(self._recent.popitem(last=False)[1])
        return text

    def _read(self, n: int) -> str:
        """Chunk n's text from the file, checked against its checksum."""
        start, end = int(self._offsets[n]), int(self._offsets[n + 1])
        data = os.pread(self._fd, end - start, start)
        if zlib.crc32(data) != int(self._checksums[n]):
            shutil.rmtree(self._folder, ignore_errors=True)  # the next build makes it anew
            raise CorpusError(
                f"the cached corpus index {self._folder} is damaged (chunk {n} does not match its checksum); "
                "it was removed: run the build again to rebuild it"
            )
        return data.decode("utf-8")

    def __eq__(self, other) -> bool:
        if not isinstance(other, TextColumn) or len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None


def build_index(spec: IndexSpec, tokenizer: Tokenizer, run_many=None) -> ChunkIndex:
    """Load the cached index for `spec`, or build and cache it, then load it (with progress on a terminal).

    The build streams: documents are chunked, counted and indexed `BATCH` chunks (at most
    `BATCH_CHARS` characters) at a time, and each batch's texts go to disk at once, so memory never
    holds the corpus. An index of several parts (`spec.shards`) builds the missing ones with
    `run_many(build_part, [(spec, part), ...])` when given (Ray tasks, each on its own node and
    core), else one after the other here."""
    loaded = {part: _cached(spec.shard_folder(part), spec) for part in range(spec.shards)}
    missing = [part for part, index in loaded.items() if index is None]
    if spec.retriever not in ("bm25", "dense"):
        raise SpecError(f"unknown retriever {spec.retriever!r}; use bm25 or dense")
    if len(missing) > 1 and run_many is None:
        run_many = _local_processes(len(missing))
    if len(missing) > 1 and run_many is not None:
        run_many(build_part, [(spec, part) for part in missing])
    else:
        for part in missing:
            build_part(spec, part, tokenizer)
    for part in missing:  # their digests were computed from these bytes a moment ago
        loaded[part] = _load(spec.shard_folder(part), spec, verify=False)
    if missing:
        remove_superseded(spec)
    parts = [loaded[part] for part in range(spec.shards)]
    index = parts[0] if len(parts) == 1 else _combine(spec, parts)
    index.built = bool(missing)
    return index


_ENTRY_NAME = re.compile(r"[0-9a-f]{24}(-part[0-9]+of[0-9]+)?")
MAX_META_BYTES = 1 << 20  # an index's meta.json holds its spec, counts and a few dozen digests


def remove_superseded(spec: IndexSpec) -> list[Path]:
    """Remove the cached indexes of `spec` that an older longsynth built in an older index format,
    which this one never reads, and return their folders. A million documents' index takes 4.2 GB;
    after an upgrade, the next build of the same corpus writes a new one under a new key, and the old
    one would stay for good.

    Only what is surely ours and surely dead goes: a folder directly under the index cache, named as
    an index key is, not a link, whose meta.json records the same spec (corpus, fields, chunking,
    retriever, encoder, tokenizer, parts) and a format older than `INDEX_FORMAT` (entries before
    format 7 record none), or, for a dense index, older than `DENSE_FORMAT` (before 2: none).
    Entries of other corpora, of this format, and folders still being written
    (temporary names) are left alone. Each removal is a line in the cache's builds.log, and one line
    on stderr says what was freed."""
    root = cache_root()
    wanted = json.loads(json.dumps(spec.__dict__, default=str))
    removed, freed = [], 0
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return removed
    for folder in entries:
        if not _ENTRY_NAME.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        meta_path = folder / "meta.json"
        try:
            if meta_path.is_symlink() or meta_path.stat().st_size > MAX_META_BYTES:
                continue
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or meta.get("spec") != wanted:
            continue
        built_in, dense_in = meta.get("format", 0), meta.get("dense_format", 1)
        if type(built_in) is not int or type(dense_in) is not int:
            continue
        if built_in >= INDEX_FORMAT and (spec.retriever != "dense" or dense_in >= DENSE_FORMAT):
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
            freed += size
            with open(root / BUILDS, "a", encoding="utf-8") as log:
                log.write(f"removed {folder.name} (index format {built_in or 'before 7'}, {size} bytes)\n")
    if removed:
        print(
            f"longsynth: removed {len(removed)} index folder(s) of {printable(repr(spec.corpus))} that an older "
            f"longsynth built ({freed / 1e9:.2f} GB freed in {root})",
            file=sys.stderr,
        )
    return removed


def _local_processes(parts: int):
    """Run parts in processes of this machine, one per core (at most one per part)."""

    def run_many(fn, args: list[tuple]) -> list:
        workers = max(1, min(parts, available_cores()))
        if workers == 1:
            return [fn(*a) for a in args]
        with process_pool(workers) as pool:  # a killed build takes its part builders with it
            return list(pool.map(fn, *zip(*args, strict=True)))

    return run_many


def _cached(folder: Path, spec: IndexSpec) -> ChunkIndex | None:
    """The cached part in `folder`, or None (a damaged entry, or one that lost files, is removed)."""
    if (folder / "meta.json").exists():
        try:
            return _load(folder, spec)
        except Exception:  # a damaged cache entry is rebuilt
            shutil.rmtree(folder, ignore_errors=True)
    elif folder.exists():  # entries appear whole: one without its meta.json lost files since
        shutil.rmtree(folder, ignore_errors=True)
    return None


def build_part(spec: IndexSpec, part: int, tokenizer: Tokenizer | None = None) -> Path:
    """Build and cache part `part` of the index (the whole index when it has one part); returns its folder."""
    tokenizer = tokenizer or get_tokenizer(spec.tokenizer)
    folder = spec.shard_folder(part)
    try:
        write_folder_atomically(folder, lambda tmp: _build(tmp, spec, tokenizer, part))
    except OSError as exc:  # a full or failing disk under the cache
        raise CacheError(
            f"cannot write the corpus index to cache folder {str(cache_root())!r} "
            f"({exc.strerror or f'{exc}: the disk is probably full'}); "
            "free some space there or point LONGSYNTH_CACHE at another folder"
        ) from None
    with open(cache_root() / BUILDS, "a", encoding="utf-8") as log:  # which indexes this cache built
        log.write(f"{folder.name} {spec.corpus} {spec.retriever} pid={os.getpid()}\n")
    return folder


class PartTexts(Sequence):
    """The chunk texts of several parts as one sequence (chunk ids count on from part to part)."""

    def __init__(self, parts: list[Sequence], bases: np.ndarray):
        self._parts = parts
        self._bases = bases  # len(parts) + 1: part p holds chunks [bases[p], bases[p + 1])

    def __len__(self) -> int:
        return int(self._bases[-1])

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[n] for n in range(*item.indices(len(self)))]
        n = operator.index(item)
        n = n + len(self) if n < 0 else n
        if not 0 <= n < len(self):
            raise IndexError(f"chunk {item} out of range")
        part = int(np.searchsorted(self._bases, n, side="right")) - 1
        return self._parts[part][n - int(self._bases[part])]


class PartRetriever:
    """Searches every part and merges their top k (ties by chunk id, as within a part). Each part
    scores with its own statistics (idf, mean length), as a sharded search engine does, so the result
    depends on the number of parts, never on where or in which order they were built."""

    def __init__(self, parts: list[Any], bases: np.ndarray):
        self.parts = parts
        self.bases = bases
        for part in parts:  # the parts share one budget for the postings rows they keep
            if isinstance(part, Bm25):
                part.ROW_CACHE_BYTES = Bm25.ROW_CACHE_BYTES // len(parts)

    def search_many(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        found = [part.search_many(queries, k) for part in self.parts]
        merged = []
        for q in range(len(queries)):
            ids = np.concatenate([found[p][q][0] + self.bases[p] for p in range(len(self.parts))])
            scores = np.concatenate([found[p][q][1] for p in range(len(self.parts))])
            merged.append(top_k(scores, ids, k))
        return merged

    def idf(self, terms: list[str]) -> np.ndarray:
        if not all(hasattr(part, "document_frequency") for part in self.parts):
            return np.ones(len(terms))
        held = np.sum([part.document_frequency(terms) for part in self.parts], axis=0)
        chunks = float(self.bases[-1])
        return np.where(held > 0, np.log(1.0 + (chunks - held + 0.5) / (held + 0.5)), 0.0)


def _check_unique_ids(doc_ids: pl.Series, spec: IndexSpec, where: str) -> None:
    """A sample names its source and every negative's document by id, and its check that no negative
    comes from the source compares ids: two documents with one id would make every sample of them fail
    that check, with a message about negatives instead of the corpus."""
    repeated = doc_ids.is_duplicated()
    if repeated.any():
        first = int(repeated.arg_true()[0])
        again = int((doc_ids == doc_ids[first]).arg_true()[1])
        raise CorpusError(
            f"corpus {spec.corpus!r} gives id {doc_ids[first]!r} to more than one document (documents "
            f"{first + 1:,} and {again + 1:,} of {where}); ids must be unique: set corpus_id_field to a "
            "field of unique ids, or to one the records lack, to name each document by its place in its file"
        )


def _combine(spec: IndexSpec, parts: list[ChunkIndex]) -> ChunkIndex:
    """One index over its parts, part after part: chunk and document ids count on across them."""
    _check_unique_ids(pl.concat([p.doc_ids for p in parts]), spec, "the corpus")
    bases = np.cumsum([0] + [len(p.chunk_texts) for p in parts]).astype(np.int64)
    doc_bases = np.cumsum([0] + [len(p.doc_ids) for p in parts]).astype(np.int64)
    tokens = [int(p.chunk_tokens.sum()) for p in parts]
    chars = sum(p.chars_per_token * t for p, t in zip(parts, tokens, strict=True))
    return ChunkIndex(
        spec,
        pl.concat([p.doc_ids for p in parts]),
        np.concatenate([p.doc_first_chunk[:-1] + bases[n] for n, p in enumerate(parts)] + [bases[-1:]]),
        PartTexts([p.chunk_texts for p in parts], bases),
        pl.concat([p.chunk_joiners for p in parts]),
        np.concatenate([p.chunk_doc + doc_bases[n] for n, p in enumerate(parts)]),
        np.concatenate([p.chunk_tokens for p in parts]),
        chars / max(1, sum(tokens)),
        PartRetriever([p.retriever for p in parts], bases),
        skipped_blank_runs=sum(p.skipped_blank_runs for p in parts),
    )


RUN_DOCUMENTS = 256  # documents chunked at once (`chunk_texts`)


def _runs_of_documents(documents) -> Iterator[list[tuple[str, str]]]:
    """`documents` in lists of up to RUN_DOCUMENTS, fewer once they hold BATCH_CHARS characters."""
    run: list[tuple[str, str]] = []
    chars = 0
    for document in documents:
        run.append(document)
        chars += len(document[1])
        if len(run) >= RUN_DOCUMENTS or chars >= BATCH_CHARS:
            yield run
            run, chars = [], 0
    if run:
        yield run


def _build(tmp: Path, spec: IndexSpec, tokenizer: Tokenizer, part: int = 0) -> None:
    from tqdm import tqdm

    # Per document, kept as arrays and polars strings, not Python objects (a million documents' ids
    # and first chunks as Python strings and ints held about 100 MB)
    doc_ids: list[pl.Series] = []
    first = [np.zeros(1, dtype=np.int64)]
    joiners: list[str] = []
    owners: list[np.ndarray] = []  # each batch's chunks' document numbers
    counts: list[np.ndarray] = []
    totals = {"chars": 0, "chunks": 0, "docs": 0, "blank_runs": 0}
    sizes: list[np.ndarray] = []  # each chunk's UTF-8 bytes
    checksums: list[np.ndarray] = []  # and their CRC-32

    # BM25 counts each chunk's tokens from its pieces while it finds the chunk's words (`PieceTable`),
    # where the tokenizer's pre-tokenizer allows (tiktoken's cl100k and o200k); else they are counted here.
    pieces = None
    if spec.retriever == "bm25" and getattr(tokenizer, "counts_by_pieces", False):
        pieces = PieceTable(tokenizer, suffix=UNIT_END)

    def flush(texts: list[str]):
        if pieces is None:
            counts.append(np.asarray(tokenizer.count_many([t + UNIT_END for t in texts]), dtype=np.int64))
        encoded = [t.encode("utf-8") for t in texts]
        sizes.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        checksums.append(np.fromiter(map(zlib.crc32, encoded), dtype=np.uint32, count=len(encoded)))
        writer.put(sink.write, b"".join(encoded))
        return texts if pieces is None else pieces.split(texts, encoded)  # (on the reading thread)

    def batches():
        texts: list[str] = []
        batch_owners: list[np.ndarray] = []
        batch_chars = 0
        label = "indexing corpus" if spec.shards == 1 else f"indexing corpus part {part + 1}/{spec.shards}"
        documents = tqdm(_documents(spec, part), desc=label, unit=" docs", disable=None, file=sys.stderr)
        for run in _runs_of_documents(documents):
            run = [(doc_id, text) for doc_id, text in run if text and not text.isspace()]
            # A document with a blank run tiktoken cannot take (a scraped page's padding) is left out,
            # and counted: no sample could hold it, and its chunks, cut inside the run or not, could
            # stop the build (a chunk of a million blanks) or only make failed draws.
            kept = [(doc_id, text) for doc_id, text in run if not holds_blank_run(text)]
            totals["blank_runs"] += len(run) - len(kept)
            run = kept
            if not run:
                continue
            if spec.chunk_tokens:
                chunked = [chunk_document(text, spec.chunk_tokens, tokenizer.count) for _, text in run]
                run_texts = [chunk.text for chunks in chunked for chunk in chunks]
                run_joiners = [chunk.joiner for chunks in chunked for chunk in chunks]
                many = [len(chunks) for chunks in chunked]
            else:
                run_texts, run_joiners, many = chunk_texts([text for _, text in run], spec.chunk_size)
            doc = totals["docs"]
            totals["docs"] += len(run)
            doc_ids.append(pl.Series([doc_id for doc_id, _ in run], dtype=pl.String))
            first.append(totals["chunks"] + np.cumsum(many, dtype=np.int64))
            totals["chunks"] += len(run_texts)
            totals["chars"] += sum(len(text) for _, text in run)
            joiners.extend(run_joiners)
            run_owners = np.repeat(np.arange(doc, doc + len(run), dtype=np.int64), many)
            # A batch ends with the chunk that brings it to BATCH chunks or BATCH_CHARS characters (so it
            # may end inside a document: one .txt file can be 512 MiB).
            ends = np.cumsum(np.fromiter(map(len, run_texts), dtype=np.int64, count=len(run_texts)))
            taken = 0
            while taken < len(run_texts):
                held = ends[taken - 1] if taken else 0
                by_chars = int(np.searchsorted(ends, held + BATCH_CHARS - batch_chars, side="left"))
                last = min(by_chars, taken + BATCH - len(texts) - 1)  # the chunk that ends the batch
                upto = min(last + 1, len(run_texts))
                texts += run_texts[taken:upto]
                batch_owners.append(run_owners[taken:upto])
                batch_chars += int(ends[upto - 1] - held)
                taken = upto
                if last < len(run_texts):
                    owners.append(np.concatenate(batch_owners))
                    batch_owners.clear()
                    yield flush(texts)
                    texts, batch_chars = [], 0
        if texts:
            owners.append(np.concatenate(batch_owners))
            yield flush(texts)

    # Documents are read and chunked on a thread of their own while this one indexes earlier batches;
    # closing the reader stops it if indexing fails.
    with (
        open(tmp / "texts.bin", "wb") as sink,
        WriteBehind(name="longsynth-texts") as writer,
        contextlib.closing(read_ahead(batches())) as chunked,
    ):
        terms = None
        if spec.retriever == "bm25":
            postings = -(-POSTINGS_PER_TERM // spec.shards)
            terms = Bm25.write(chunked, tmp / "retriever", postings_per_term=postings, terms=pieces)
        else:
            _Dense.write(chunked, spec.encoder, tmp / "retriever")
    where = f"part {part + 1} of {spec.shards} of corpus" if spec.shards > 1 else "corpus"
    if not totals["chunks"]:
        if spec.shards > 1:
            raise CorpusError(
                f"{where} {spec.corpus!r} holds no text; use fewer index_shards than the corpus has documents"
            )
        raise CorpusError(f"corpus {spec.corpus!r} holds no text")
    if terms == 0:  # every sample would be dropped for want of negatives, and the build would say nothing
        raise CorpusError(
            f"{where} {spec.corpus!r} holds no word BM25 can search (only punctuation, one-letter words "
            "and English stop words), so no negative can be retrieved; use a corpus of prose"
        )
    ids = pl.concat(doc_ids, rechunk=True) if doc_ids else pl.Series([], dtype=pl.String)
    _check_unique_ids(ids, spec, f"part {part + 1}" if spec.shards > 1 else "the corpus")
    tokens = np.concatenate(pieces.counts if pieces is not None else counts)
    np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64))
    np.save(tmp / "checksums.npy", np.concatenate(checksums))
    pl.DataFrame({"joiner": joiners, "doc": np.concatenate(owners), "tokens": tokens}).write_parquet(
        tmp / "chunks.parquet"
    )
    pl.DataFrame({"doc_id": ids, "first": np.concatenate(first)[:-1]}).write_parquet(tmp / "docs.parquet")
    meta = {
        "spec": spec.__dict__,
        "chars_per_token": totals["chars"] / max(1, int(tokens.sum())),
        "format": INDEX_FORMAT,
        **({"dense_format": DENSE_FORMAT} if spec.retriever == "dense" else {}),
        "chunks": len(tokens),
        "skipped_blank_runs": totals["blank_runs"],
        "sha256": {name: sha256_file(tmp / name) for name in _checked_files(tmp)},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))


def _checked_files(folder: Path) -> list[str]:
    """The index files whose sha256 a load checks: all but the texts (each checked as it is read)."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.name not in ("meta.json", "texts.bin")]
    return sorted(str(p.relative_to(folder)) for p in files)


def _count(meta: dict[str, Any], name: str) -> int:
    """A count meta.json records (the file is not among the hashed ones: an edited value raises, and
    the entry is rebuilt; so is one written before the count was recorded, which may hold documents
    that are now left out)."""
    value = meta[name]
    if type(value) is not int or value < 0:
        raise ValueError(f"meta.json's {name} is not a count: {value!r}")
    return value


def _load(folder: Path, spec: IndexSpec, verify: bool = True) -> ChunkIndex:
    """The index in `folder`, after checking every file against the sha256 its build recorded (about
    0.1 s per 100,000 documents): a damaged or edited entry raises, and is rebuilt."""
    meta = json.loads((folder / "meta.json").read_text())
    if verify and (
        _checked_files(folder) != sorted(meta["sha256"])
        or any(sha256_file(folder / name) != digest for name, digest in meta["sha256"].items())
    ):
        raise ValueError(f"{folder}: a file does not match its recorded sha256")
    chunks = read_parquet_file(folder / "chunks.parquet")
    docs = read_parquet_file(folder / "docs.parquet")
    first = np.append(docs["first"].to_numpy(), len(chunks)).astype(np.int64)
    if spec.retriever == "bm25":
        retriever = Bm25.load(folder / "retriever")
    else:
        retriever = _Dense.load(folder / "retriever", spec.encoder)
    return ChunkIndex(
        spec,
        docs["doc_id"],  # polars columns, not lists: a million documents' ids as Python strings were 80 MB
        first,
        TextColumn(folder),
        chunks["joiner"],
        chunks["doc"].to_numpy().astype(np.int64),
        chunks["tokens"].to_numpy().astype(np.int64),
        float(meta["chars_per_token"]),
        retriever,
        False,
        _count(meta, "skipped_blank_runs"),
    )
