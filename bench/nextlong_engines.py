"""Our impact-pruned BM25 index against tantivy (a Rust search engine, block-max WAND top-k), on the
same chunks and the same queries, as the corpus grows.

For each size: the built-in corpus's chunks (2,048 characters), indexed by each engine (tantivy with
2 threads, its default tokenizer), then 300 meta-chunk queries, each the 24 rarest of its terms (what
our search reads), top 64. Prints index time and mean milliseconds per query. tantivy is not a
dependency of longsynth: `pip install tantivy` first.
Run: python bench/nextlong_engines.py [--documents 10000,100000] [--kind builtin|builtin-zipf]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", default="10000,100000")
    parser.add_argument("--kind", default="builtin", choices=("builtin", "builtin-zipf"))
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=64)
    args = parser.parse_args()
    try:
        import tantivy
    except ImportError:
        raise SystemExit("this comparison needs tantivy: pip install tantivy") from None
    from longsynth.generators.nextlong.bm25 import QUERY_TERMS, Bm25, tokens
    from longsynth.generators.nextlong.chunking import chunk_document
    from longsynth.generators.nextlong.retrieval import corpus_documents

    print(f"{'documents':>10} {'chunks':>9} {'engine':>8} {'index s':>8} {'ms/query':>9}")
    for size in map(int, args.documents.split(",")):
        texts = [c.text for _, text in corpus_documents(f"{args.kind}:{size}") for c in chunk_document(text, 2048)]
        picks = np.random.default_rng(0).choice(len(texts), size=args.queries, replace=False)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            Bm25.write(iter(texts[i : i + 2000] for i in range(0, len(texts), 2000)), Path(tmp) / "ours")
            ours = Bm25.load(Path(tmp) / "ours")
            ours_index = time.perf_counter() - start
            # each query as our search reads it: its 24 rarest terms
            queries = []
            for n in picks:
                terms = tokens([texts[n]])["term"].unique().to_list()
                frequency = ours.document_frequency(terms)
                queries.append([terms[i] for i in np.lexsort((terms, frequency))[:QUERY_TERMS]])
            start = time.perf_counter()
            for q in queries:
                ours.search_many([" ".join(q)], args.k)
            ours_ms = 1000 * (time.perf_counter() - start) / len(queries)
            print(f"{size:>10,} {len(texts):>9,} {'ours':>8} {ours_index:>8.1f} {ours_ms:>9.2f}")

            schema = tantivy.SchemaBuilder().add_text_field("body").add_unsigned_field("id", stored=True).build()
            (Path(tmp) / "tantivy").mkdir()
            start = time.perf_counter()
            index = tantivy.Index(schema, path=str(Path(tmp) / "tantivy"))
            writer = index.writer(heap_size=256 * 1024 * 1024, num_threads=2)
            for n, text in enumerate(texts):
                writer.add_document(tantivy.Document(body=text, id=n))
            writer.commit()
            writer.wait_merging_threads()
            index.reload()
            tantivy_index = time.perf_counter() - start
            searcher = index.searcher()
            parsed = [index.parse_query(" ".join(q), ["body"]) for q in queries]
            start = time.perf_counter()
            for query in parsed:
                searcher.search(query, args.k)
            tantivy_ms = 1000 * (time.perf_counter() - start) / len(queries)
            print(f"{size:>10,} {len(texts):>9,} {'tantivy':>8} {tantivy_index:>8.1f} {tantivy_ms:>9.2f}")


if __name__ == "__main__":
    main()
