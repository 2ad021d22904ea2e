"""How much an impact-pruned BM25 index loses against the exact one, and what it saves.

Builds the BM25 index of the built-in corpus once exactly (every posting kept) and once per pruning
level (`--keep`: postings kept per term), searches the same meta-chunks in each (top `--k`, the
query's own document left out), and prints per level: the mean time per search, the share of the
exact top-k found, the exact BM25 score of what was found over the exact top-k's (1.00: as good), and
the mean cosine similarity (wordllama, if installed) of a meta-chunk to what each index found, beside
random chunks'.
Run: python bench/nextlong_hardness.py [--documents 100000] [--corpus builtin|builtin-zipf]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--corpus", default="builtin", choices=("builtin", "builtin-zipf"))
    parser.add_argument("--keep", default="1024,4096,16384")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args()
    from longsynth.generators.nextlong.bm25 import Bm25
    from longsynth.generators.nextlong.chunking import chunk_document
    from longsynth.generators.nextlong.retrieval import corpus_documents

    texts, owner = [], []
    for n, (_, text) in enumerate(corpus_documents(f"{args.corpus}:{args.documents}")):
        for chunk in chunk_document(text, 2048):
            texts.append(chunk.text)
            owner.append(n)
    owner = np.asarray(owner)
    batches = [texts[i : i + 5000] for i in range(0, len(texts), 5000)]
    rng = np.random.default_rng(0)
    queries = rng.choice(len(texts), size=args.queries, replace=False)
    with tempfile.TemporaryDirectory() as tmp:
        Bm25.write(iter(batches), Path(tmp) / "exact", postings_per_term=1 << 40)
        exact = Bm25.load(Path(tmp) / "exact")
        levels = {"exact": exact}
        for keep in map(int, args.keep.split(",")):
            start = time.perf_counter()
            Bm25.write(iter(batches), Path(tmp) / str(keep), postings_per_term=keep)
            print(f"keep {keep}: index written in {time.perf_counter() - start:.1f}s")
            levels[str(keep)] = Bm25.load(Path(tmp) / str(keep))

        tables: dict[int, dict[int, float]] = {}

        def exact_scores(query: int, found: np.ndarray) -> np.ndarray:
            """The exact index's BM25 score of each found chunk for the query (its 24 rarest terms)."""
            if query not in tables:  # (a search of every chunk, half a second at 100,000 documents: once)
                ids, scores = exact.search_many([texts[query]], len(texts))[0]
                tables[query] = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            return np.array([tables[query].get(int(c), 0.0) for c in found])

        encoder = None
        try:
            from longsynth.generators.nextlong.retrieval import load_encoder

            encoder = load_encoder("wordllama")
        except Exception:  # noqa: BLE001  (the cosine column needs the dense extra)
            pass
        found_by: dict[str, list[np.ndarray]] = {}
        print(f"{'index':>8} {'ms/search':>10} {'recall@k':>9} {'score ratio':>11} {'cosine':>7}")
        for name, index in levels.items():
            start = time.perf_counter()
            found = []
            for q in queries:
                ids, _ = index.search_many([texts[q]], args.k + 64)[0]
                found.append(ids[owner[ids] != owner[q]][: args.k])
            per_search = 1000 * (time.perf_counter() - start) / len(queries)
            found_by[name] = found
            recall, ratio = [], []
            for q, got, best in zip(queries, found, found_by["exact"], strict=True):
                recall.append(len(set(got.tolist()) & set(best.tolist())) / max(1, len(best)))
                ratio.append(exact_scores(q, got).sum() / max(1e-9, exact_scores(q, best).sum()))
            cosine = float("nan")
            if encoder is not None:
                meta = encoder([texts[q] for q in queries])
                cosine = float(
                    np.mean([encoder([texts[c] for c in got]) @ m for m, got in zip(meta, found, strict=True)])
                )
            print(f"{name:>8} {per_search:>10.2f} {np.mean(recall):>9.3f} {np.mean(ratio):>11.3f} {cosine:>7.3f}")
        if encoder is not None:
            others = rng.choice(len(texts), size=(len(queries), args.k))
            meta = encoder([texts[q] for q in queries])
            cosine = float(np.mean([encoder([texts[c] for c in row]) @ m for m, row in zip(meta, others, strict=True)]))
            print(f"{'random':>8} {'':>10} {'':>9} {'':>11} {cosine:>7.3f}")


if __name__ == "__main__":
    main()
