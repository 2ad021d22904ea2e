"""NExtLong at scale: index build time, mining throughput (tokens written per second), peak memory.

Default: both built-in corpora (`builtin`: topical, a few hundred words; `builtin-zipf`: a 65,536-word
Zipf vocabulary) with 100,000 documents, 32K samples, each in a fresh process; `--corpus` reads your
own files instead (a .jsonl or .parquet file or folder). `--shards N` builds the index in N parts,
one process per core. Run: python bench/nextlong.py [--documents N] [--kind builtin|builtin-zipf|both]
[--corpus PATH] [--samples N] [--length 32k] [--shards N]
Each run uses a fresh cache folder, so the index is really built; peak RSS is the process's.
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
    parser.add_argument("--kind", default="both", choices=("builtin", "builtin-zipf", "both"))
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    if args.kind == "both" and not args.corpus:
        import subprocess
        import sys

        for kind in ("builtin", "builtin-zipf"):
            rest = [a for a in sys.argv[1:] if not a.startswith("--kind")]
            subprocess.run([sys.executable, __file__, *rest, "--kind", kind], check=True)
        return
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
            corpus=args.corpus or f"{args.kind}:{args.documents}",
            index_shards=args.shards,
        )
        start = time.perf_counter()
        generator = make_generator(spec)
        index = generator.index
        index_seconds = time.perf_counter() - start
        # One sample first, elsewhere, so the timed build measures mining, not this process's first imports
        # (the writers, the card's templates) or the cache's first entries.
        warm = load_spec(None, **{**spec.to_dict(), "samples": 1, "seed": spec.seed + 1})
        build(warm, tempfile.mkdtemp(), generator=make_generator(warm))
        start = time.perf_counter()
        build(spec, out, generator=generator)
        build_seconds = time.perf_counter() - start
        import polars as pl

        frame = pl.read_parquet(f"{out}/nextlong/*.parquet")
        tokens = int(frame["length"].sum())
        peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        peak /= 1024  # the largest of this process and the index-part processes
        tokenizer = get_tokenizer("cl100k_base")
        start = time.perf_counter()
        for text in frame["text"].to_list():
            tokenizer.encode(text)
        encode_seconds = time.perf_counter() - start
        print(
            f"corpus={args.corpus or args.kind} shards={args.shards} documents={len(index.doc_ids)} "
            f"chunks={len(index.chunk_texts)} index_build={index_seconds:.1f}s "
            f"samples={args.samples} length={args.length} build={build_seconds:.1f}s "
            f"throughput={tokens / build_seconds:,.0f} tokens/s peak_rss={peak:,.0f} MiB "
            f"ratio_to_one_encode={build_seconds / encode_seconds:.2f}"
        )


if __name__ == "__main__":
    main()
