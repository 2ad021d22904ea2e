"""NExtLong at scale: index build time, build throughput (tokens written per second), peak memory.

Default: the built-in synthetic corpus with 100,000 documents, 32K samples; `--corpus` reads your
own files instead (a .jsonl or .parquet file or folder), e.g. the same documents written out.
Run: python bench/nextlong.py [--documents N | --corpus PATH] [--samples N] [--length 32k]
Uses a fresh cache folder, so the index is really built; a second build reuses it.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--length", default="32k")
    parser.add_argument("--corpus", default="", help="a corpus file or folder instead of builtin:<documents>")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        os.environ["LONGSYNTH_CACHE"] = cache
        from longsynth.pipeline import build, make_generator
        from longsynth.spec import load_spec
        from longsynth.tokenizers import get_tokenizer

        get_tokenizer("cl100k_base").count("warm up")
        spec = load_spec(
            None,
            generator="nextlong",
            tasks="nextlong",
            lengths=args.length,
            samples=args.samples,
            corpus=args.corpus or f"builtin:{args.documents}",
        )
        start = time.perf_counter()
        generator = make_generator(spec)
        index = generator.index
        index_seconds = time.perf_counter() - start
        start = time.perf_counter()
        build(spec, out, generator=generator)
        build_seconds = time.perf_counter() - start
        import polars as pl

        frame = pl.read_parquet(f"{out}/nextlong/*.parquet")
        tokens = int(frame["length"].sum())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tokenizer = get_tokenizer("cl100k_base")
        start = time.perf_counter()
        for text in frame["text"].to_list():
            tokenizer.encode(text)
        encode_seconds = time.perf_counter() - start
        print(
            f"documents={len(index.doc_ids)} chunks={len(index.chunk_texts)} index_build={index_seconds:.1f}s "
            f"samples={args.samples} length={args.length} build={build_seconds:.1f}s "
            f"throughput={tokens / build_seconds:,.0f} tokens/s peak_rss={peak:,.0f} MiB "
            f"ratio_to_one_encode={build_seconds / encode_seconds:.2f}"
        )


if __name__ == "__main__":
    main()
