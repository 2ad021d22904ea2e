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
import operator
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import CorpusError, SampleDropped, SpecError
from ...fitting import length_tolerance
from ...items import item_spans
from ...metadata_json import decode_metadata
from ...seeding import derive_seed, permuted
from ...tokenizers import BLANK_RUN_LIMIT, get_tokenizer, holds_blank_run
from ..base import Cell, Generator, Sample, Task
from ..options import resolve_options
from .chunking import MIN_CHUNK
from .options import NextLongOptions
from .oracle import VALIDATORS
from .retrieval import UNIT_END, ChunkIndex, IndexSpec, build_index, builtin_size, cache_root, is_builtin

SCORE_BINS = np.logspace(-3, 4, 701)  # retrieval scores (BM25's or cosine), in 2.3%-wide bins


def score_quantile(histogram: np.ndarray, q: float) -> float:
    """The q-quantile of scores kept as a histogram over SCORE_BINS (a bin's geometric middle)."""
    cumulative = np.cumsum(histogram)
    k = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(np.sqrt(SCORE_BINS[k] * SCORE_BINS[k + 1]))


class UnitTexts(Sequence):
    """The chunks `ids` as a sample's units ("chunk" + UNIT_END), each read from the index the first time
    the fitter or the caller asks for it: a sample's spare candidates past its length are never read
    (a 32K sample read all its candidates, then the ones it kept again: 215 reads, now 93)."""

    def __init__(self, texts: Sequence[str], ids: list[int]):
        self._texts = texts
        self._ids = ids
        self._read: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def chunk(self, n: int) -> str:
        """The text of the n-th chunk, without its unit end."""
        if n not in self._read:
            self._read[n] = self._texts[self._ids[n]]
        return self._read[n]

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self[n] for n in range(*item.indices(len(self)))]
        n = operator.index(item)
        if not -len(self) <= n < len(self):
            raise IndexError(f"unit {item} out of range")
        return self.chunk(n % len(self)) + UNIT_END


def chunk_token_starts(chunks: list[dict[str, Any]], measurement) -> np.ndarray:
    """Token offset of each chunk's first token (tokens ending at or before its first character
    come before it)."""
    return measurement.tokens_before_many([c["char_start"] for c in chunks]).astype(np.int64)


def positions_from(starts: np.ndarray, length: int) -> np.ndarray:
    """0, 1, 2, ... restarting at every start offset."""
    positions = np.arange(length, dtype=np.int64)
    segment = np.searchsorted(starts, positions, side="right") - 1
    return positions - starts[np.maximum(segment, 0)]


Hit = tuple[int, int, float]  # (chunk id, rank in the index for its query, retrieval score)
# Who picks a task's negatives: None for the index's retriever (bm25 or dense).
RETRIEVED_BY = {"nextlong": None, "concat_knn": None, "concat_quest": None, "concat_random": "random"}
KEYWORDS = 5  # Quest: the source's candidate keywords, one drawn per sample
WIDEN = (1, 2, 4, 8, 16, 32)  # nextlong: candidates per meta-chunk, as multiples of k, tried in turn (see `sample`)
# A sample whose documents run out before its length searches on (see `_sequence`): concat_knn deeper in
# its ranking, concat_quest with more of the source's keywords, in their order.
KNN_DEPTHS = (256, 1024, 4096)
RUN_ON_KEYWORDS = 16

TASKS = {
    "nextlong": Task("meta-chunks of a short document, each followed by hard negatives"),
    "concat_random": Task("baseline: the document followed by random documents"),
    "concat_knn": Task("baseline: the document followed by its nearest documents"),
    "concat_quest": Task("baseline (Quest): documents retrieved by a keyword of the source, grouped"),
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
        if 0 < o.chunk_tokens < MIN_CHUNK:  # (the option's range cannot say "0, or from 16 on")
            raise SpecError(
                f"chunk_tokens must be 0 (chunks of chunk_size characters) or at least {MIN_CHUNK}, "
                f"got {o.chunk_tokens}"
            )
        if is_builtin(o.corpus):
            size = builtin_size(o.corpus)  # a bad size fails now, not after minutes of indexing
            if o.index_shards > size:
                raise SpecError(f"index_shards={o.index_shards} is more parts than corpus {o.corpus!r} has documents")
        self.index_spec = IndexSpec(
            corpus=o.corpus,
            text_field=o.corpus_text_field,
            id_field=o.corpus_id_field,
            config=o.corpus_config or None,
            split=o.corpus_split,
            chunk_size=o.chunk_size,
            chunk_tokens=o.chunk_tokens,
            retriever=o.retriever,
            encoder=o.encoder,
            tokenizer=tokenizer.name,
            shards=o.index_shards,
        )
        self._eligible: dict[int, np.ndarray] = {}  # target length -> documents shorter than it
        self._prepared: ChunkIndex | None = None  # the index `prepare` built on Ray
        self._index_key = self.index_spec.key()  # reads the corpus files' sizes and times once

    @property
    def index(self) -> ChunkIndex:
        if self._prepared is not None:
            return self._prepared
        return _index(self.index_spec, self.tokenizer.name, str(cache_root()), self._index_key)

    def eligible(self, target: int) -> np.ndarray:
        """Documents shorter than the target, in corpus order (`source` draws from them)."""
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
            self._eligible[target] = docs
        return self._eligible[target]

    def source(self, cell: Cell) -> int:
        """The cell's source document: entry `cell.index` of a seeded order of the eligible documents
        (distinct sources across samples), worked out for that entry alone (`seeding.permuted`), so a
        build's cost does not grow with the corpus (a permutation of a million documents took 20 ms)."""
        docs = self.eligible(cell.target_length)
        key = derive_seed(self.spec.seed, "nextlong-sources", cell.target_length)
        return int(docs[permuted(cell.index % len(docs), len(docs), key)])

    def prepare(self, run_many=None) -> None:
        """Build or load the cached index once, in the parent process; its parts in parallel where
        `run_many` runs them (Ray)."""
        if run_many is not None:  # kept, so `index` does not load and check it a second time
            self._prepared = build_index(self.index_spec, self.tokenizer, run_many)
        self.index  # noqa: B018

    def shared_folders(self) -> dict[str, Path]:
        folders = [self.index_spec.shard_folder(part) for part in range(self.index_spec.shards)]
        return {str(f.relative_to(cache_root().parent)): f for f in folders if f.exists()}

    def report(self) -> dict[str, Any]:
        index = self.index
        return {
            "documents": len(index.doc_ids),
            "chunks": len(index.chunk_texts),
            "chars_per_token": round(index.chars_per_token, 4),
            "skipped_long_documents": {str(t): int((index.doc_tokens >= t).sum()) for t in self.spec.lengths},
            "skipped_blank_run_documents": index.skipped_blank_runs,
        }

    # ------------------------------------------------------------------ sampling

    def _negatives(self, meta: list[int], doc: int, need: int, rng: random.Random, widen: int = 1) -> list[list[Hit]]:
        """Hard negatives per meta-chunk, each group within an equal share of the token need, as
        (chunk, rank, score) hits; the last list holds spare candidates. All the meta-chunks are
        searched in one batch; a meta-chunk whose candidates were taken by earlier ones searches again.
        `widen` multiplies how many candidates each meta-chunk takes (see `sample`)."""
        index = self.index
        n = len(meta)
        chunks_per_meta = self.options.overgeneration * need * index.chars_per_token / (n * index.mean_chunk_chars)
        k = max(1, math.ceil(chunks_per_meta)) * widen
        own = set(index.chunks_of(doc))
        used: set[int] = set()
        groups = []
        share = need / n
        fetch = 2 * k + 16
        batch = index.search_many([index.chunk_texts[m] for m in meta], fetch)
        for m, found in zip(meta, batch, strict=True):
            kept = [hit for hit in found if hit[0] not in own and hit[0] not in used]
            if len(kept) < k and len(found) == fetch:
                kept = index.search(index.chunk_texts[m], k, lambda c: c in own or c in used)
            kept = kept[:k]
            group, held = [], 0
            for hit in kept:
                cost = int(index.chunk_tokens[hit[0]])
                if held + cost > share:
                    continue
                group.append(hit)
                held += cost
            used.update(c for c, _, _ in group)
            groups.append((group, [hit for hit in kept if hit[0] not in used]))
        # Spare candidates of the last meta-chunk go after everything: the cut to the exact length falls there.
        spare = [hit for hit in groups[-1][1] if hit[0] not in used]
        return [g for g, _ in groups] + [spare]

    def _sequence(
        self, task: str, doc: int, target: int, rng: random.Random, facts: dict[str, Any], widen: int = 1
    ) -> list[tuple[int, str, Hit | None]]:
        """(chunk id, role, its retrieval hit or None) in text order, somewhat longer than the target;
        what was drawn on the way (Quest's keyword) goes into `facts`."""
        index = self.index
        meta = list(index.chunks_of(doc))
        need = max(0, target - int(index.doc_tokens[doc]))
        if task == "nextlong":
            *groups, spare = self._negatives(meta, doc, need, rng, widen)
            sequence: list[tuple[int, str, Hit | None]] = []
            for m, group in zip(meta, groups, strict=True):
                negatives = [(hit[0], "negative", hit) for hit in group]
                if self.options.placement == "head":
                    sequence += [(m, "meta", None)] + negatives
                elif self.options.placement == "tail":
                    sequence += negatives + [(m, "meta", None)]
                else:
                    at = rng.randint(0, len(negatives))
                    sequence += negatives[:at] + [(m, "meta", None)] + negatives[at:]
            return sequence + [(hit[0], "negative", hit) for hit in spare]
        sequence = [(m, "meta", None) for m in meta]
        held = int(index.doc_tokens[doc])
        if task == "concat_random":
            count, key = len(index.doc_ids), rng.getrandbits(64)  # documents in a seeded order, each worked
            others = ((permuted(n, count, key), None) for n in range(count))  # out as it is read (a few dozen)
        else:  # documents in the order their chunks rank for the source document (knn) or its keyword (quest)
            searches = [(index.chunk_texts[meta[0]], depth) for depth in KNN_DEPTHS]
            if task == "concat_quest":
                ranked = index.keywords(doc, RUN_ON_KEYWORDS)  # (its first KEYWORDS are `keywords(doc, KEYWORDS)`)
                facts["keyword"] = rng.choice(ranked[:KEYWORDS])
                # When the keyword's documents cannot fill the sample (a rare word in a small corpus),
                # the source's other keywords, in their order, add theirs (recorded as
                # `further_keywords`) rather than the sample being dropped.
                more = [k for k in ranked if k != facts["keyword"]]
                searches = [(k, KNN_DEPTHS[0]) for k in [facts["keyword"], *more]]
            best: dict[int, Hit] = {}
            found = held
            short = target - length_tolerance(target, self.spec.length_tolerance)  # below this, `sample` drops
            for n, (query, depth) in enumerate(searches):
                if n and found >= short:
                    break
                if n and task == "concat_quest":
                    facts.setdefault("further_keywords", []).append(query)
                for hit in index.search(query, depth, lambda c: index.chunk_doc[c] == doc):
                    other = int(index.chunk_doc[hit[0]])
                    if other not in best:
                        best[other] = hit
                        found += int(index.doc_tokens[other])
            others = list(best.items())
        for other, hit in others:
            if other == doc or self._holds_blank_run(other):  # (no sample could hold it: see `sample`)
                continue
            chunks = list(index.chunks_of(other))
            sequence += [(c, "negative", hit) for c in chunks]
            held += int(index.chunk_tokens[chunks].sum())
            if held > target + 64:
                break
        return sequence

    def _holds_blank_run(self, doc: int) -> bool:
        """Whether a document's chunks, as a sample's units, hold BLANK_RUN_LIMIT whitespace characters
        in a row: tiktoken cannot take such a text (`tokenizers.holds_blank_run`), so no row holds it."""
        index = self.index
        return holds_blank_run("".join(index.chunk_texts[c] + UNIT_END for c in index.chunks_of(doc)))

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        index = self.index
        doc = self.source(cell)
        # A document holding a blank run that long (a scraped page's padding) is not in the index; one
        # whose chunks, each closed by its line break, make one (a run of 99,999 cut between two) makes
        # no sample: it is dropped (counted), as a sample the corpus cannot fill is; such a document
        # appended to another's sample is skipped (`_sequence`). A run made where two documents meet
        # is a failed draw.
        if self._holds_blank_run(doc):
            raise SampleDropped(
                f"{cell.id}: its source document {index.doc_ids_of([index.chunks_of(doc)[0]])[0]!r} holds "
                f"{BLANK_RUN_LIMIT:,} or more whitespace characters in a row, more than tiktoken can take"
            )
        tolerance = length_tolerance(cell.target_length, self.spec.length_tolerance)
        drawn = rng.getstate()
        # A meta-chunk's best hits can be much shorter than the corpus's mean chunk (BM25 favours short
        # chunks), so its k candidates may not fill its share: then the same draw is made again with
        # more candidates (`WIDEN`: 2 to 32 times k) before the sample is dropped (on the Zipf corpus,
        # 5 to 20% of 8K and 32K samples were dropped so). A sample that filled keeps its text.
        for widen in WIDEN if cell.task == "nextlong" else (1,):
            rng.setstate(drawn)
            facts: dict[str, Any] = {}
            sequence = self._sequence(cell.task, doc, cell.target_length, rng, facts, widen)
            ids = [c for c, _, _ in sequence]
            held = int(index.chunk_tokens[ids].sum()) if ids else 0
            if held >= cell.target_length - tolerance:
                break
        units = UnitTexts(index.chunk_texts, ids)
        if held < cell.target_length - tolerance:
            raise SampleDropped(f"{cell.id}: the corpus gave {held} tokens for a {cell.target_length}-token sample")
        fitted = self.fit(
            cell.target_length,
            budget_adjust,
            head="",
            tail="",
            filler_texts=units,
            filler_tokens=index.chunk_tokens[ids],
            inserts=[],
            separator="",
        )
        chunks, offset = [], 0
        retriever = RETRIEVED_BY[cell.task] or self.options.retriever
        owners = index.doc_ids_of(ids[: fitted.filler_units])
        for n, (c, role, hit) in enumerate(sequence[: fitted.filler_units]):
            whole = units.chunk(n)
            partial = n == fitted.filler_units - 1 and fitted.partial_unit
            length = len(fitted.text) - offset if partial else len(whole)
            record = {
                "doc_id": owners[n],
                "role": role,
                "char_start": offset,
                "char_end": offset + length,
                "chunk": int(c),
                **({"cut": True} if partial else {}),
            }
            if role == "negative":  # how hard it is: who found it, at which rank, with which score
                record["retriever"] = retriever
                if hit is not None:
                    record["rank"], record["score"] = hit[1], round(hit[2], 4)
            chunks.append(record)
            offset += length + (0 if partial else len(UNIT_END))
        metas = [c for c in chunks if c["role"] == "meta"]
        if len(metas) != len(index.chunks_of(doc)):
            raise SampleDropped(f"{cell.id}: only {len(metas)} of the document's meta-chunks fit the length")
        metadata = {
            "task": cell.task,
            **facts,
            "placement": self.options.placement,
            "chunks": chunks,
            "corpus": self.options.corpus,
            "index": self.index_spec.key(),
        }
        return Sample(fitted, metadata=metadata, item_key="items", source_id=index.doc_ids[doc])

    def shard_stats(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """How hard the shard's negatives are: a histogram of their retrieval scores (log-spaced bins)
        and how many came from ranks 1 to 10."""
        scores, ranks = [], []
        for row in rows:
            for chunk in decode_metadata(row["metadata"])["chunks"]:
                if "score" in chunk:
                    scores.append(chunk["score"])
                    ranks.append(chunk["rank"])
        if not scores:
            return {}
        histogram = np.histogram(np.clip(scores, SCORE_BINS[0], SCORE_BINS[-1]), bins=SCORE_BINS)[0]
        top10 = int(np.sum(np.asarray(ranks) <= 10))
        return {"task": rows[0]["task"], "negatives": len(scores), "top10": top10, "scores": histogram.tolist()}

    def card_notes(self, stats: list[dict[str, Any]]) -> list[str]:
        """Per task, the distribution of its negatives' retrieval scores and the share from ranks 1-10."""
        notes = []
        for task in self.spec.tasks:
            shards = [s for s in stats if s.get("task") == task and s.get("negatives")]
            if not shards:
                continue
            total = sum(s["negatives"] for s in shards)
            histogram = np.sum([s["scores"] for s in shards], axis=0)
            p10, median, p90 = (score_quantile(histogram, q) for q in (0.1, 0.5, 0.9))
            top10 = sum(s["top10"] for s in shards) / total
            what = "negative chunks" if task == "nextlong" else "chunks of retrieved documents"
            notes.append(
                f"`{task}` ({self.options.retriever}): {total:,} {what}; retrieval score median {median:.3g} "
                f"(10th percentile {p10:.3g}, 90th {p90:.3g}, read from 2.3%-wide bins); {100 * top10:.1f}% "
                "from ranks 1 to 10 of their search. Every row records each one's retriever, rank and score "
                "in `metadata.chunks`."
            )
        return notes

    @classmethod
    def token_columns(cls, spec) -> tuple[str, ...]:
        options = resolve_options(cls.Options, spec.options)
        return tuple(name for name in ("input_ids", "doc_boundaries", "position_ids") if getattr(options, name))

    def token_layout(self, metadata: dict[str, Any], measurement) -> dict[str, list[int]]:
        """Where each chunk starts in the text's tokens, and positions restarting there (the layout
        document-masked attention needs, as ProLong trains). A chunk starts at the first token that
        begins at or after its first character."""
        starts = chunk_token_starts(metadata["chunks"], measurement)
        return {"doc_boundaries": starts.tolist(), "position_ids": positions_from(starts, measurement.length).tolist()}

    @classmethod
    def marked_spans(cls, metadata: dict[str, Any]) -> list[tuple[int, int]]:
        """Training rows place no items: `inspect` marks the source document's meta-chunks."""
        return sorted(item_spans(metadata.get("items", []))) or [
            (c["char_start"], c["char_end"]) for c in metadata["chunks"] if c["role"] == "meta"
        ]
