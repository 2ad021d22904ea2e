"""Whole-build time over the time of one encode of the built texts (goal: at most 1.0; holobench 1.2).

Defaults: 100 niah_single_1 samples at 128K. Other families:
  python bench/speed.py --generator longbio --task bio_standard --length 32k
RULER's and NeedleBench's tasks at 32K, one after the other (`--set` applies to the case before it):
  python bench/speed.py --length 32k --cases ruler:vt,ruler:cwe,ruler:fwe,ruler:qa_1,needlebench:ancestral_trace \
      --set needlebench:ancestral_trace:haystack=prose,num_needles=64
"""

from __future__ import annotations

import argparse
import tempfile
import time

import polars as pl

from longsynth.pipeline import build
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--length", default="128k")
    parser.add_argument("--generator", default="needle")
    parser.add_argument("--task", default="niah_single_1")
    parser.add_argument("--depths", default="50")
    parser.add_argument("--tokenizer", default="cl100k_base")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to run; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help="threads per build (0: the build's default)")
    parser.add_argument("--cases", default="", help="generator:task,... to measure one after the other")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="generator:task:key=value,...")
    parser.add_argument("--options", default="", help=argparse.SUPPRESS)  # key=value,... for one case
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cases:
        options = {case.rsplit(":", 1)[0]: case.rsplit(":", 1)[1] for case in args.sets}
        met = 0
        cases = args.cases.split(",")
        for case in cases:
            args.generator, args.task = case.split(":")
            args.options = options.get(case, "")
            met += _repeat(args) <= _goal(args.generator)
        print(f"{met} of {len(cases)} builds at or under their goal")
        return
    if not args.once:
        _repeat(args)
        return
    # Loading the vocabulary and tiktoken's first-call warm-up are not part of either side:
    # encode one long text and measure its offsets once before timing anything.
    tokenizer = get_tokenizer(args.tokenizer)
    warm = " ".join(f"Warm-up sentence number {n} for the tokenizer." for n in range(20000))
    tokenizer.char_ends(warm, tokenizer.encode(warm))
    spec = load_spec(
        None,
        generator=args.generator,
        tasks=args.task,
        lengths=args.length,
        depths=args.depths,
        samples=args.samples,
        tokenizer=args.tokenizer,
        **dict(pair.split("=", 1) for pair in args.options.split(",") if pair),
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        build(spec, out, threads=args.threads or None)
        build_seconds = time.perf_counter() - start
        frame = pl.read_parquet(f"{out}/{args.task}/*.parquet")
        inputs = frame["input" if "input" in frame.columns else "text"].to_list()
    start = time.perf_counter()
    for text in inputs:
        tokenizer.encode(text)
    encode_seconds = time.perf_counter() - start
    ratio = build_seconds / encode_seconds
    print(
        f"generator={args.generator} task={args.task} samples={len(inputs)} length={args.length} "
        f"threads={args.threads or 'default'} {args.options} "
        f"build={build_seconds:.2f}s encode={encode_seconds:.2f}s ratio={ratio:.2f} (goal {_goal(args.generator)})"
    )


def _goal(generator: str) -> float:
    """The most a build may take, in encodes of its output: holobench's samples run two SQL engines."""
    return 1.2 if generator == "holobench" else 1.0


def _repeat(args) -> float:
    """Run the measurement in fresh processes (one-off costs included each time); print the median."""
    import statistics
    import subprocess
    import sys

    lines = []
    for _ in range(args.repeat):
        command = [
            sys.executable,
            __file__,
            "--once",
            "--samples",
            str(args.samples),
            "--length",
            args.length,
            "--generator",
            args.generator,
            "--task",
            args.task,
            "--depths",
            args.depths,
            "--tokenizer",
            args.tokenizer,
            "--threads",
            str(args.threads),
            "--options",
            args.options,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:  # a case that cannot be built (a misspelt task): its own last line, then stop
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            sys.exit(f"{args.generator}:{args.task} failed: {last}")
        lines.append(done.stdout.strip())
        print(lines[-1])
    ratios = [float(line.split("ratio=")[1].split()[0]) for line in lines]
    median = statistics.median(ratios)
    print(
        f"{args.generator}:{args.task} median ratio over {len(ratios)} fresh runs: "
        f"{median:.2f} (goal {_goal(args.generator)})"
    )
    return median


if __name__ == "__main__":
    main()
