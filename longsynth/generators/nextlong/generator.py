"""The nextlong family: NExtLong negative document extension, for long-context training data.

A short source document is cut into meta-chunks; each meta-chunk is joined
by hard negatives, the chunks of *other* documents most similar to it, so a
model trained on the result must find the document's long-range
dependencies through distracting text. Two baselines from the paper share
the machinery: `concat_random` (the source document, then random documents)
and `concat_knn` (the source document, then its nearest documents).

Chunk token counts come from the index (each chunk counted once, ever), so a
sample costs one encode: its measurement.
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any

import numpy as np

from ...errors import CorpusError, SampleDropped
from ...fitting import length_tolerance
from ...items import item_spans
from ...seeding import derive_seed
from ...tokenizers import get_tokenizer
from ..base import Cell, Generator, Sample, Task
from ..options import resolve_options
from .options import NextLongOptions
from .oracle import VALIDATORS
from .retrieval import UNIT_END, ChunkIndex, IndexSpec, build_index, builtin_size, cache_root

TASKS = {
    "nextlong": Task("meta-chunks of a short document, each followed by hard negatives"),
    "concat_random": Task("baseline: the document followed by random documents"),
    "concat_knn": Task("baseline: the document followed by its nearest documents"),
}


@functools.lru_cache(maxsize=4)
def _index(spec: IndexSpec, tokenizer_name: str, cache_folder: str, key: str) -> ChunkIndex:
    """One index per process, cache folder and corpus content (`key`: the same relative corpus path in
    another folder, or an edited file, is another index)."""
    return build_index(spec, get_tokenizer(tokenizer_name))


class NextLongGenerator(Generator):
    name = "nextlong"
    split = "train"
    uses_depth = False
    Options = NextLongOptions
    tasks = TASKS
    default_tasks = ["nextlong"]
    paper = "Gao et al., NExtLong: Toward Effective Long-Context Training without Long Documents (arXiv:2501.12766)"
    validators = VALIDATORS
    example = {"tasks": "nextlong,concat_random", "lengths": "1k", "corpus": "builtin:200"}

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        o = self.options
        if o.corpus.startswith("builtin:"):
            builtin_size(o.corpus)  # a bad size fails now, not after minutes of indexing
        self.index_spec = IndexSpec(
            corpus=o.corpus,
            text_field=o.corpus_text_field,
            id_field=o.corpus_id_field,
            config=o.corpus_config or None,
            split=o.corpus_split,
            chunk_size=o.chunk_size,
            chunk_tokens=o.chunk_tokens,
            retriever=o.retriever,
            dense_model=o.dense_model,
            tokenizer=tokenizer.name,
        )
        self._eligible: dict[int, np.ndarray] = {}
        self._index_key = self.index_spec.key()  # reads the corpus files' sizes and times once

    @property
    def index(self) -> ChunkIndex:
        return _index(self.index_spec, self.tokenizer.name, str(cache_root()), self._index_key)

    def eligible(self, target: int) -> np.ndarray:
        """Documents shorter than the target, in a seeded order (distinct sources across samples)."""
        if target not in self._eligible:
            index = self.index
            if int(index.chunk_tokens.sum()) < target:
                raise CorpusError(
                    f"corpus {self.options.corpus!r} holds {int(index.chunk_tokens.sum())} tokens, fewer than one "
                    f"{target}-token sample needs; use a larger corpus or a shorter length"
                )
            docs = np.flatnonzero(index.doc_tokens < target)
            if len(docs) == 0:
                raise CorpusError(f"no document of corpus {self.options.corpus!r} is shorter than {target} tokens")
            order = np.random.default_rng(derive_seed(self.spec.seed, "nextlong-sources", target)).permutation(docs)
            self._eligible[target] = order
        return self._eligible[target]

    def prepare(self) -> None:
        self.index  # noqa: B018  (build or load the cached index once, in the parent process)

    def report(self) -> dict[str, Any]:
        index = self.index
        return {
            "documents": len(index.doc_ids),
            "chunks": len(index.chunk_texts),
            "chars_per_token": round(index.chars_per_token, 4),
            "skipped_long_documents": {str(t): int((index.doc_tokens >= t).sum()) for t in self.spec.lengths},
        }

    # ------------------------------------------------------------------ sampling

    def _negatives(self, meta: list[int], doc: int, need: int, rng: random.Random) -> list[list[int]]:
        """Hard negatives per meta-chunk, each group within an equal share of the token need."""
        index = self.index
        n = len(meta)
        mean_chars = max(1.0, float(np.mean([len(t) for t in index.chunk_texts[: min(5000, len(index.chunk_texts))]])))
        k = max(1, math.ceil(self.options.overgeneration * need * index.chars_per_token / (n * mean_chars)))
        own = set(index.chunks_of(doc))
        used: set[int] = set()
        groups = []
        share = need / n
        for m in meta:
            found = index.search(index.chunk_texts[m], k, lambda c: c in own or c in used)
            group, held = [], 0
            for c in found:
                cost = int(index.chunk_tokens[c])
                if held + cost > share:
                    continue
                group.append(c)
                held += cost
            used.update(group)
            groups.append((group, [c for c in found if c not in group and c not in used]))
        # Spare candidates of the last meta-chunk go after everything: the cut to the exact length falls there.
        spare = [c for c in groups[-1][1] if c not in used]
        return [g for g, _ in groups] + [spare]

    def _sequence(self, task: str, doc: int, target: int, rng: random.Random) -> list[tuple[int, str]]:
        """(chunk id, role) in text order, somewhat longer than the target."""
        index = self.index
        meta = list(index.chunks_of(doc))
        need = max(0, target - int(index.doc_tokens[doc]))
        if task == "nextlong":
            *groups, spare = self._negatives(meta, doc, need, rng)
            sequence: list[tuple[int, str]] = []
            for m, group in zip(meta, groups, strict=True):
                negatives = [(c, "negative") for c in group]
                if self.options.placement == "head":
                    sequence += [(m, "meta")] + negatives
                elif self.options.placement == "tail":
                    sequence += negatives + [(m, "meta")]
                else:
                    at = rng.randint(0, len(negatives))
                    sequence += negatives[:at] + [(m, "meta")] + negatives[at:]
            return sequence + [(c, "negative") for c in spare]
        sequence = [(m, "meta") for m in meta]
        held = int(index.doc_tokens[doc])
        if task == "concat_random":
            others = np.random.default_rng(rng.getrandbits(64)).permutation(len(index.doc_ids))
        else:  # concat_knn: documents in the order their chunks rank for the source document
            query = index.chunk_texts[meta[0]]
            ranked = index.search(query, 256, lambda c: index.chunk_doc[c] == doc)
            others = list(dict.fromkeys(int(index.chunk_doc[c]) for c in ranked))
        for other in others:
            if other == doc:
                continue
            chunks = list(index.chunks_of(int(other)))
            sequence += [(c, "negative") for c in chunks]
            held += int(index.chunk_tokens[chunks].sum())
            if held > target + 64:
                break
        return sequence

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        index = self.index
        sources = self.eligible(cell.target_length)
        doc = int(sources[cell.index % len(sources)])
        sequence = self._sequence(cell.task, doc, cell.target_length, rng)
        ids = [c for c, _ in sequence]
        tolerance = length_tolerance(cell.target_length, self.spec.length_tolerance)
        held = int(index.chunk_tokens[ids].sum()) if ids else 0
        if held < cell.target_length - tolerance:
            raise SampleDropped(f"{cell.id}: the corpus gave {held} tokens for a {cell.target_length}-token sample")
        fitted = self.fit(
            cell.target_length,
            budget_adjust,
            head="",
            tail="",
            filler_texts=[index.chunk_texts[c] + UNIT_END for c in ids],
            filler_tokens=index.chunk_tokens[ids],
            inserts=[],
            separator="",
        )
        chunks, offset = [], 0
        for n, (c, role) in enumerate(sequence[: fitted.filler_units]):
            whole = index.chunk_texts[c]
            partial = n == fitted.filler_units - 1 and fitted.partial_unit
            length = len(fitted.text) - offset if partial else len(whole)
            chunks.append(
                {
                    "doc_id": index.doc_ids[int(index.chunk_doc[c])],
                    "role": role,
                    "char_start": offset,
                    "char_end": offset + length,
                    "chunk": int(c),
                    **({"cut": True} if partial else {}),
                }
            )
            offset += length + (0 if partial else len(UNIT_END))
        metas = [c for c in chunks if c["role"] == "meta"]
        if len(metas) != len(index.chunks_of(doc)):
            raise SampleDropped(f"{cell.id}: only {len(metas)} of the document's meta-chunks fit the length")
        metadata = {
            "task": cell.task,
            "placement": self.options.placement,
            "chunks": chunks,
            "corpus": self.options.corpus,
            "index": self.index_spec.key(),
        }
        return Sample(fitted, metadata=metadata, item_key="items", source_id=index.doc_ids[doc])

    @classmethod
    def writes_input_ids(cls, spec) -> bool:
        return resolve_options(cls.Options, spec.options).input_ids

    @classmethod
    def marked_spans(cls, metadata: dict[str, Any]) -> list[tuple[int, int]]:
        """Training rows place no items: `inspect` marks the source document's meta-chunks."""
        return sorted(item_spans(metadata.get("items", []))) or [
            (c["char_start"], c["char_end"]) for c in metadata["chunks"] if c["role"] == "meta"
        ]
