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
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import csr_matrix

QUERY_TERMS = 24
K1, B = 1.5, 0.75
TOKEN = r"\b\w\w+\b"
BATCH = 5_000  # chunks tokenized at once (bounds the memory of their exploded tokens)


@functools.lru_cache(maxsize=1)
def stop_words() -> tuple[str, ...]:
    from bm25s.stopwords import STOPWORDS_EN  # bm25s's list, read from the installed package

    return tuple(sorted(STOPWORDS_EN))


def tokens(texts: list[str]) -> pl.DataFrame:
    """(row, term) of every kept token of `texts`, in order."""
    frame = pl.DataFrame({"row": np.arange(len(texts), dtype=np.int32), "term": pl.Series(texts, dtype=pl.String)})
    frame = frame.with_columns(pl.col("term").str.to_lowercase().str.extract_all(TOKEN)).explode("term")
    return frame.filter(pl.col("term").is_not_null() & ~pl.col("term").is_in(list(stop_words())))


def _mapped(path: Path, dtype, size: int) -> np.ndarray:
    """A new .npy file of `size` values, memory-mapped for writing, with its disk space reserved
    first: a write through a mapping of a sparse file on a full disk kills the process (SIGBUS),
    where reserving the space fails with an error that can be reported."""
    from numpy.lib.format import open_memmap

    array = open_memmap(path, mode="w+", dtype=dtype, shape=(size,))
    with open(path, "r+b") as handle:
        length = os.fstat(handle.fileno()).st_size
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(handle.fileno(), 0, length)
        else:  # no fallocate (macOS): write the zeros
            for start in range(0, length, 1 << 20):
                handle.write(bytes(min(1 << 20, length - start)))
    return array


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (ids, scores), best first; ties go to the lower id, whatever order they came in
    (a partition alone would pick among the chunks tied with the k-th by their position)."""
    if len(scores) > k:
        kth = np.partition(-scores, k - 1)[k - 1]  # minus the k-th best score
        keep = np.flatnonzero(-scores <= kth)  # the k best and every chunk tied with the k-th
        scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


class Bm25:
    def __init__(self, matrix: csr_matrix, vocabulary: dict[str, int]):
        self.matrix = matrix  # terms x chunks
        self.vocabulary = vocabulary
        self.postings = np.diff(matrix.indptr)

    @classmethod
    def write(cls, batches: Iterable[list[str]], folder: Path) -> None:
        """Index every chunk of `batches` (chunk ids count on across batches) into `folder` (`load` reads it).

        Two passes, so memory holds one batch, never the corpus's postings (13 million for 100,000
        documents): the first tokenizes each batch and writes its (chunk, term, count) triples to a
        scratch file, counting each term's chunks and each chunk's tokens; the second, once idf and
        the mean length are known, scores each batch's triples and writes them straight to their
        places in the memory-mapped matrix (each term's chunks in order, as one sparse row)."""
        folder.mkdir(parents=True, exist_ok=True)
        scratch = folder / "postings"
        scratch.mkdir()
        vocabulary = pl.DataFrame(schema={"term": pl.String, "id": pl.Int32})
        frequency = np.zeros(0, dtype=np.int64)  # chunks holding each term
        lengths, parts = [], []
        offset = 0
        for batch in batches:
            found = tokens(batch)
            new = found.select("term").unique(maintain_order=True).join(vocabulary, on="term", how="anti")
            new = new.with_columns(
                pl.int_range(len(vocabulary), len(vocabulary) + len(new), dtype=pl.Int32).alias("id")
            )
            vocabulary = pl.concat([vocabulary, new])
            counted = found.join(vocabulary, on="term").group_by(["id", "row"]).len().sort(["id", "row"])
            triples = np.stack(
                [counted["row"].to_numpy() + offset, counted["id"].to_numpy(), counted["len"].to_numpy()]
            ).astype(np.int32)
            np.save(scratch / f"{len(parts)}.npy", triples)
            parts.append(scratch / f"{len(parts)}.npy")
            frequency = np.pad(frequency, (0, len(vocabulary) - len(frequency)))
            frequency += np.bincount(triples[1], minlength=len(vocabulary))
            lengths.append(np.bincount(found["row"].to_numpy(), minlength=len(batch)))
            offset += len(batch)
            del found, counted, triples
        length = np.concatenate(lengths).astype(np.float32) if lengths else np.zeros(0, np.float32)
        idf = np.log(1.0 + (offset - frequency.astype(np.float32) + 0.5) / (frequency.astype(np.float32) + 0.5))
        idf = idf.astype(np.float32)
        mean = max(1e-9, float(length.mean())) if len(length) else 1.0
        norm = (K1 * (1.0 - B + B * length / mean)).astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(frequency)]).astype(np.int64)
        size = int(indptr[-1])
        if size:  # the matrix is filled on disk (an empty one cannot be mapped)
            data = _mapped(folder / "data.npy", np.float32, size)
            indices = _mapped(folder / "indices.npy", np.int32, size)
        else:
            data, indices = np.zeros(0, np.float32), np.zeros(0, np.int32)
        free = indptr[:-1].copy()  # each term's next free place
        for part in parts:
            row, term, count = np.load(part)  # sorted by term, then chunk
            first = np.searchsorted(term, term, side="left")
            place = free[term] + np.arange(len(term)) - first
            score = count.astype(np.float32)
            score *= (K1 + 1.0) / (score + norm[row])  # the score, term by term
            score *= idf[term]
            data[place], indices[place] = score, row
            free += np.bincount(term, minlength=len(free))
            part.unlink()
        scratch.rmdir()
        if size:
            data.flush()
            indices.flush()
        else:
            np.save(folder / "data.npy", data)
            np.save(folder / "indices.npy", indices)
        del data, indices
        np.save(folder / "indptr.npy", indptr)
        meta = {"chunks": offset, "terms": vocabulary["term"].to_list()}
        (folder / "vocabulary.json").write_text(json.dumps(meta))

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
