"""NExtLong's BM25 index as a corpus's distinct words grow: build time and peak memory, then load time
and memory, per distinct term.

A web corpus holds words no other document has (names, numbers, codes, typos): its vocabulary grows
with it, and the index holds every distinct term while it is built and searched. Each corpus here
is a .jsonl file this script writes: `--documents` documents of 300 words, `--own` of them made up
for that document alone (hex codes), the rest from 2,000 shared words. Each size is indexed in a
fresh process with a fresh cache, then loaded in another (as a mining process does), and each line
prints both, with the bytes each distinct term costs over the same build of a corpus with no
words of its own.
Run: python bench/nextlong_vocabulary.py [--documents 10000,30000,100000] [--own 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time


def _write_corpus(path: str, documents: int, own: int) -> None:
    rng = random.Random(documents * 1000 + own)
    shared = [f"word{n}" for n in range(2000)]
    with open(path, "w", encoding="utf-8") as out:
        for n in range(documents):
            words = [rng.choice(shared) for _ in range(300 - own)]
            words += [f"x{rng.getrandbits(60):015x}" for _ in range(own)]
            rng.shuffle(words)
            out.write(json.dumps({"id": str(n), "text": " ".join(words) + "."}) + "\n")


def _step(corpus: str) -> dict:
    from longsynth.generators.nextlong.retrieval import IndexSpec, build_index
    from longsynth.tokenizers import get_tokenizer

    tokenizer = get_tokenizer("cl100k_base")
    tokenizer.count("warm up")
    start = time.perf_counter()
    index = build_index(IndexSpec(corpus=corpus), tokenizer)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "built": index.built,
        "terms": len(index.retriever.frequency),
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", default="10000,30000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--own", type=int, default=50, help="words of each document's own (at most 300)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_step(args.step)))
        return
    with tempfile.TemporaryDirectory() as scratch:

        def run(corpus: str, cache: str) -> dict:
            command = [sys.executable, __file__, "--step", corpus]
            env = {**os.environ, "LONGSYNTH_CACHE": cache}
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            return json.loads(done.stdout.strip().splitlines()[-1])

        for documents in [int(n) for n in args.documents.split(",")]:
            results = {}
            for own in (0, args.own):
                corpus = os.path.join(scratch, f"corpus-{documents}-{own}.jsonl")
                _write_corpus(corpus, documents, own)
                cache = os.path.join(scratch, f"cache-{documents}-{own}")
                results[own] = (run(corpus, cache), run(corpus, cache))  # built, then loaded
                os.remove(corpus)
            (base_build, base_load), (build, load) = results[0], results[args.own]
            extra = max(1, build["terms"] - base_build["terms"])

            def per_term(run: dict, base: dict, extra: int = extra) -> str:
                return f"{(run['peak'] - base['peak']) * 2**20 / extra:.0f} bytes a term over {base['peak']:,.0f}"

            print(
                f"documents={documents:,} own_words={args.own} terms={build['terms']:,} "
                f"build={build['seconds']:.1f}s build_peak={build['peak']:,.0f} MiB ({per_term(build, base_build)}) "
                f"load={load['seconds']:.2f}s load_peak={load['peak']:,.0f} MiB ({per_term(load, base_load)})",
                flush=True,
            )


if __name__ == "__main__":
    main()
