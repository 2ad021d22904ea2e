"""What the dense retriever's IVF index (faiss, beyond 50,000 chunks) loses against the exact search,
and what it saves, as the corpus grows.

For each size: the built-in corpus's dense index (wordllama) is built or loaded from the cache, and
`--queries` chunks drawn with a fixed seed are searched both ways, top `--k`, their own chunk
included. Prints the index's lists, the mean time per search each way (the query's embedding
included, as mining pays it), the share of the exact top k the IVF finds, the mean cosine
similarity of what each finds to its query chunk, and that of random chunks to it.
Run: python bench/nextlong_dense.py [--documents 10000,30000,100000] [--kind builtin|builtin-zipf]
(an index of 100,000 documents embeds 227,000 chunks: about 2.5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", default="30000,100000")
    parser.add_argument("--kind", default="builtin", choices=("builtin", "builtin-zipf"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args()
    from longsynth.generators.nextlong.retrieval import IndexSpec, build_index
    from longsynth.tokenizers import get_tokenizer

    tokenizer = get_tokenizer("cl100k_base")
    print(
        f"{'documents':>10} {'chunks':>9} {'lists':>6} {'build s':>8} {'ms/query ivf':>13} {'exact':>7} "
        f"{'recall@k':>9} {'cosine ivf':>11} {'exact':>7} {'random':>7}"
    )
    for size in map(int, args.documents.split(",")):
        start = time.perf_counter()
        index = build_index(IndexSpec(corpus=f"{args.kind}:{size}", retriever="dense"), tokenizer)
        seconds = time.perf_counter() - start
        dense = index.retriever
        rng = np.random.default_rng(0)
        picks = rng.choice(len(dense.vectors), size=min(args.queries, len(dense.vectors)), replace=False)
        queries = [index.chunk_texts[int(n)] for n in picks]
        ivf = dense.ivf
        found = {}
        for way in ("ivf", "exact"):
            dense.ivf = ivf if way == "ivf" else None
            if way == "ivf" and ivf is None:
                continue
            start = time.perf_counter()
            found[way] = dense.search_many(queries, args.k)
            found[f"{way} ms"] = (time.perf_counter() - start) / len(queries) * 1000
        dense.ivf = ivf
        exact = found["exact"]
        approx = found.get("ivf", exact)
        recall = np.mean(
            [len(set(a[0].tolist()) & set(b[0].tolist())) / len(b[0]) for a, b in zip(approx, exact, strict=True)]
        )
        own = dense.vectors[np.sort(picks)][np.argsort(np.argsort(picks))]  # each query chunk's vector
        randoms = dense.vectors[np.sort(rng.choice(len(dense.vectors), size=len(picks), replace=False))]
        print(
            f"{size:>10,} {len(dense.vectors):>9,} {ivf.nlist if ivf is not None else '-':>6} {seconds:>8.1f} "
            f"{found.get('ivf ms', float('nan')):>13.2f} {found['exact ms']:>7.2f} {recall:>9.3f} "
            f"{np.mean([s.mean() for _, s in approx]):>11.3f} {np.mean([s.mean() for _, s in exact]):>7.3f} "
            f"{float(np.mean(np.sum(own * randoms, axis=1))):>7.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
