"""BM25 over a corpus's chunks, built with polars and scipy and searched in batches.

Tokens are what bm25s makes of a text (lower case, runs of two or more word characters, minus its
English stop words), found by polars' regex engine over a whole batch of chunks at once. Scores are
BM25's (k1 1.5, b 0.75, Lucene's idf). The index is a sparse (terms x chunks) matrix of each
term's score in each chunk, saved as three arrays and memory-mapped when loaded, so a worker reads
only the pages its searches touch.

A search multiplies a sparse (queries x terms) matrix by the index, so every posting of a batch of
queries is read once, in C. Each query keeps its `QUERY_TERMS` rarest terms (highest idf): common
terms have the longest postings and the least say in the ranking (in the built-in corpus one whole
meta-chunk would read 6.6 million postings).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csr_matrix

QUERY_TERMS = 24
K1, B = 1.5, 0.75
TOKEN = r"\b\w\w+\b"
BATCH = 20_000  # chunks tokenized at once (bounds the memory of the exploded tokens)


@functools.lru_cache(maxsize=1)
def stop_words() -> tuple[str, ...]:
    from bm25s.stopwords import STOPWORDS_EN  # bm25s's list, read from the installed package

    return tuple(sorted(STOPWORDS_EN))


def tokens(texts: list[str]) -> pl.DataFrame:
    """(row, term) of every kept token of `texts`, in order."""
    frame = pl.DataFrame({"row": np.arange(len(texts), dtype=np.int32), "term": pl.Series(texts, dtype=pl.String)})
    frame = frame.with_columns(pl.col("term").str.to_lowercase().str.extract_all(TOKEN)).explode("term")
    return frame.filter(pl.col("term").is_not_null() & ~pl.col("term").is_in(list(stop_words())))


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (ids, scores), best first; ties go to the lower id (deterministic)."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


class Bm25:
    def __init__(self, matrix: csr_matrix, vocabulary: dict[str, int]):
        self.matrix = matrix  # terms x chunks
        self.vocabulary = vocabulary
        self.postings = np.diff(matrix.indptr)

    @classmethod
    def build(cls, batches: Iterable[list[str]]) -> Bm25:
        """The index of every chunk of `batches` (chunk ids count on across batches)."""
        vocabulary = pl.DataFrame(schema={"term": pl.String, "id": pl.Int32})
        rows, terms, counts, lengths = [], [], [], []
        offset = 0
        for batch in batches:
            found = tokens(batch)
            new = found.select("term").unique(maintain_order=True).join(vocabulary, on="term", how="anti")
            new = new.with_columns(
                pl.int_range(len(vocabulary), len(vocabulary) + len(new), dtype=pl.Int32).alias("id")
            )
            vocabulary = pl.concat([vocabulary, new])
            counted = found.join(vocabulary, on="term").group_by(["row", "id"]).len()
            rows.append(counted["row"].to_numpy().astype(np.int32) + offset)
            terms.append(counted["id"].to_numpy().astype(np.int32))
            counts.append(counted["len"].to_numpy().astype(np.float32))
            lengths.append(np.bincount(found["row"].to_numpy(), minlength=len(batch)))
            offset += len(batch)
        del found, counted  # the last batch's tokens
        row, term, tf = np.concatenate(rows), np.concatenate(terms), np.concatenate(counts)
        del rows, terms, counts  # each array once, not twice (a 100K-document corpus has 13M postings)
        length = np.concatenate(lengths).astype(np.float32)
        frequency = np.bincount(term, minlength=len(vocabulary)).astype(np.float32)
        idf = np.log(1.0 + (offset - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = (K1 * (1.0 - B + B * length / max(1e-9, float(length.mean())))).astype(np.float32)
        tf *= (K1 + 1.0) / (tf + norm[row])  # in place: the score, term by term
        tf *= idf[term]
        matrix = coo_matrix((tf, (term, row)), shape=(len(vocabulary), offset)).tocsr()
        del row, term, tf
        ids = dict(zip(vocabulary["term"].to_list(), vocabulary["id"].to_list(), strict=True))
        return cls(matrix, ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("data", "indices", "indptr"):
            np.save(folder / f"{name}.npy", getattr(self.matrix, name))
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        (folder / "vocabulary.json").write_text(json.dumps({"chunks": self.matrix.shape[1], "terms": terms}))

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        meta = json.loads((folder / "vocabulary.json").read_text())
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("data", "indices", "indptr")]
        matrix = csr_matrix(tuple(arrays), shape=(len(meta["terms"]), meta["chunks"]), copy=False)
        return cls(matrix, {t: n for n, t in enumerate(meta["terms"])})

    def search_many(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, up to k (chunk ids, scores) with a positive score, best first."""
        found = tokens(queries)
        vocabulary = self.vocabulary
        ids = np.fromiter((vocabulary.get(t, -1) for t in found["term"].to_list()), dtype=np.int64, count=len(found))
        known = ids >= 0
        size = self.matrix.shape[0]
        pairs, times = np.unique(found["row"].to_numpy()[known] * size + ids[known], return_counts=True)
        query_rows, query_terms = pairs // size, pairs % size
        order = np.lexsort((query_terms, self.postings[query_terms], query_rows))  # each query's rarest first
        query_rows, query_terms, times = query_rows[order], query_terms[order], times[order]
        rank = np.arange(len(query_rows)) - np.searchsorted(query_rows, query_rows, side="left")
        kept = rank < QUERY_TERMS
        query_rows, query_terms, times = query_rows[kept], query_terms[kept], times[kept]
        query = csr_matrix(
            (times.astype(np.float32), (query_rows, query_terms)), shape=(len(queries), self.matrix.shape[0])
        )
        scored = query @ self.matrix
        results = []
        for n in range(len(queries)):
            start, end = scored.indptr[n], scored.indptr[n + 1]
            scores, chunk_ids = scored.data[start:end], scored.indices[start:end].astype(np.int64)
            positive = scores > 0
            results.append(top_k(scores[positive], chunk_ids[positive], k))
        return results
