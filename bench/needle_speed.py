"""Whole-build time of 100 niah_single_1 samples at 128K over one encode of their inputs.

Goal 1.2, limit 1.5 (issue 2). Prints the ratio; run: python bench/needle_speed.py [--samples N] [--length L]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import polars as pl

from longsynth.build import build
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--length", default="128k")
    parser.add_argument("--task", default="niah_single_1")
    parser.add_argument("--tokenizer", default="cl100k_base")
    args = parser.parse_args()
    # Loading the vocabulary and tiktoken's first-call warm-up are not part of either side:
    # encode one long text and measure its offsets once before timing anything.
    tokenizer = get_tokenizer(args.tokenizer)
    warm = " ".join(f"Warm-up sentence number {n} for the tokenizer." for n in range(20000))
    tokenizer.char_ends(warm, tokenizer.encode(warm))
    spec = load_spec(
        None, tasks=args.task, lengths=args.length, depths="50", samples=args.samples, tokenizer=args.tokenizer
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        build(spec, out)
        build_seconds = time.perf_counter() - start
        inputs = pl.read_parquet(f"{out}/{args.task}/*.parquet")["input"].to_list()
    start = time.perf_counter()
    for text in inputs:
        tokenizer.encode(text)
    encode_seconds = time.perf_counter() - start
    print(
        f"samples={len(inputs)} length={args.length} build={build_seconds:.2f}s encode={encode_seconds:.2f}s "
        f"ratio={build_seconds / encode_seconds:.2f} (goal 1.2, limit 1.5)"
    )


if __name__ == "__main__":
    main()
