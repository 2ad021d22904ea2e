"""NExtLong at scale: index build time, mining throughput (tokens written per second), peak memory.

Default: both built-in corpora (`builtin`: topical, a few hundred words; `builtin-zipf`: a 65,536-word
Zipf vocabulary) with 100,000 documents, 32K samples. Each corpus gets a fresh cache folder and two
fresh processes, as a user runs them: the first builds the index (timed; `--shards N` builds it in
N parts, one process per core), the next load it and mine (one warm-up sample, then the timed
build; `--repeat` processes, 3 by default, the median printed). Between them the disk's writes
are flushed (`sync`, not timed), so mining is not measured against the kernel still writing the
index out. Peak RSS is the largest of both processes and the
part builders. `--corpus PATH` reads your own files (a .jsonl or .parquet file or folder).
With several sizes (`--documents 10000,100000,1000000`) every index is built first, then the mining
rounds go through the sizes in turn, and each line says its throughput against the smallest size's.
Run: python bench/nextlong.py [--documents N,...] [--kind builtin|builtin-zipf|both] [--corpus PATH]
     [--samples N] [--length 32k] [--shards N] [--repeat N] [--retriever bm25|dense]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _spec(args):
    from longsynth.spec import load_spec

    return load_spec(
        None,
        generator="nextlong",
        tasks="nextlong",
        lengths=args.length,
        samples=args.samples,
        corpus=args.corpus or f"{args.kind}:{args.documents}",
        index_shards=args.shards,
        retriever=args.retriever,
    )


def _peak_mib() -> float:
    """The largest resident memory of this process and of its finished children (part builders)."""
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    return max(resource.getrusage(w).ru_maxrss for w in who) / 1024


def _index_step(args) -> dict:
    from longsynth.pipeline import make_generator
    from longsynth.tokenizers import get_tokenizer

    get_tokenizer("cl100k_base").count("warm up")
    start = time.perf_counter()
    index = make_generator(_spec(args)).index
    seconds = time.perf_counter() - start
    return {"documents": len(index.doc_ids), "chunks": len(index.chunk_texts), "index_s": seconds, "peak": _peak_mib()}


def _mine_step(args) -> dict:
    import polars as pl

    from longsynth.pipeline import build, make_generator
    from longsynth.spec import load_spec
    from longsynth.tokenizers import get_tokenizer

    spec = _spec(args)
    generator = make_generator(spec)
    load_start = time.perf_counter()
    generator.index  # noqa: B018
    load_seconds = time.perf_counter() - load_start
    # One sample first, elsewhere: the timed build measures mining, not first imports or cache entries.
    warm = load_spec(None, **{**spec.to_dict(), "samples": 1, "seed": spec.seed + 1})
    with tempfile.TemporaryDirectory() as scratch:  # (each process's output goes when it is read)
        build(warm, f"{scratch}/warm", generator=make_generator(warm))
        out = f"{scratch}/out"
        start = time.perf_counter()
        build(spec, out, generator=generator)
        seconds = time.perf_counter() - start
        frame = pl.read_parquet(f"{out}/nextlong/*.parquet")
    tokenizer = get_tokenizer("cl100k_base")
    encode_start = time.perf_counter()
    for text in frame["text"].to_list():
        tokenizer.encode(text)
    encode_seconds = time.perf_counter() - encode_start
    return {
        "load_s": load_seconds,
        "mine_s": seconds,
        "tokens": int(frame["length"].sum()),
        "rows": len(frame),  # samples written (a dropped one writes no tokens, so the throughput says so too)
        "ratio": seconds / encode_seconds,
        "peak": _peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", default="100000", help="corpus sizes, comma-separated")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--length", default="32k")
    parser.add_argument("--corpus", default="", help="a corpus file or folder instead of a built-in corpus")
    parser.add_argument("--kind", default="both", choices=("builtin", "builtin-zipf", "both"))
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--retriever", default="bm25", choices=("bm25", "dense"), help="dense: wordllama's vectors")
    parser.add_argument("--repeat", type=int, default=3, help="mining rounds; the median is printed")
    parser.add_argument("--step", choices=("index", "mine"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        args.documents = int(args.documents)
        result = _index_step(args) if args.step == "index" else _mine_step(args)
        print(json.dumps(result))
        return
    kinds = ["builtin", "builtin-zipf"] if args.kind == "both" and not args.corpus else [args.kind]
    sizes = [int(n) for n in args.documents.split(",")]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as caches:

            def step(name: str, size: int, kind=kind, caches=caches) -> dict:
                command = [sys.executable, __file__, "--kind", kind, "--documents", str(size), "--step", name]
                command += ["--samples", str(args.samples), "--length", args.length, "--shards", str(args.shards)]
                command += ["--retriever", args.retriever]
                command += ["--corpus", args.corpus] if args.corpus else []
                env = {**os.environ, "LONGSYNTH_CACHE": os.path.join(caches, str(size))}
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                return json.loads(done.stdout.strip().splitlines()[-1])

            indexes = {size: step("index", size) for size in sizes}
            os.sync()
            # Mining rounds go through the sizes in turn, so a slower or busier minute of the machine
            # falls on every size alike; the ratio to the smallest size is the flatness.
            runs: dict[int, list[dict]] = {size: [] for size in sizes}
            for _ in range(args.repeat):
                for size in sizes:
                    runs[size].append(step("mine", size))
            first = None
            for size in sizes:
                index = indexes[size]
                mine = sorted(runs[size], key=lambda run: run["mine_s"])[len(runs[size]) // 2]
                throughput = mine["tokens"] / mine["mine_s"]
                spread = sorted(run["tokens"] / run["mine_s"] for run in runs[size])  # one run moves by a tenth
                first = first or throughput
                print(
                    f"corpus={args.corpus or kind} retriever={args.retriever} shards={args.shards} "
                    f"documents={index['documents']} "
                    f"chunks={index['chunks']} index_build={index['index_s']:.1f}s load={mine['load_s']:.1f}s "
                    f"samples={mine.get('rows', '?')}/{args.samples} length={args.length} mining={mine['mine_s']:.2f}s "
                    f"throughput={throughput:,.0f} tokens/s (runs {spread[0]:,.0f} to {spread[-1]:,.0f}; "
                    f"{throughput / first:.2f} of the smallest) "
                    f"peak_rss={max(index['peak'], mine['peak']):,.0f} MiB (index {index['peak']:,.0f}, "
                    f"mining {mine['peak']:,.0f}) ratio_to_one_encode={mine['ratio']:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
