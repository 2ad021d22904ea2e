"""RULER's full grid, built and validated as a user would: 13 tasks x 6 lengths (4K-128K) x 500 samples.

RULER draws 500 samples per task and length (39,000 in all). Our `ruler` suite puts the NIAH and QA
tasks on a 5-depth grid, so 100 samples per depth give their 500; vt, cwe and fwe place their items
themselves and are built with 500 samples per length. That is two `longsynth build` commands, each
followed by `longsynth validate`:

    longsynth build --suite ruler --task <the 10 depth tasks> --samples 100 -o A
    longsynth build --suite ruler --task vt,cwe,fwe --samples 500 -o B

`--fraction F` scales every sample count (0.1: 3,900 rows) for a machine or a session too small
for the whole grid; the printed rows say what was built. Prints, per build and in all: rows, tokens
(prompt + reserve, as the length contract counts them), wall time, tokens per second, peak memory,
the re-fits and the draws retried (could not be fitted / refused by a validator); then validate's
time and verdict. Run: python bench/suite.py [--fraction 0.1] [--lengths 4k,...] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPTH_TASKS = [
    "niah_single_1",
    "niah_single_2",
    "niah_single_3",
    "niah_multikey_1",
    "niah_multikey_2",
    "niah_multikey_3",
    "niah_multivalue",
    "niah_multiquery",
    "qa_1",
    "qa_2",
]
OWN_PLACEMENT_TASKS = ["vt", "cwe", "fwe"]
DEPTHS = 5  # the suite's depth grid: 0, 25, 50, 75, 100
RULER_SAMPLES = 500  # per task and length


def _run(command: list[str]) -> float:
    """Run a longsynth command to completion; its wall time in seconds (a failure stops the bench)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def _facts(out: Path) -> dict[str, int]:
    """Rows, tokens and draw counts from the build's manifest (its shard records)."""
    manifest = json.loads((out / "manifest.json").read_text())
    shards = [s for stats in manifest["shards"].values() for s in stats]
    facts = {key: sum(s.get(key, 0) for s in shards) for key in ("rows", "attempts", "refits", "unfit", "invalid")}
    facts["tokens"] = sum(sum(s["lengths"]) for s in shards)
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=1.0, help="share of RULER's 500 samples (default 1)")
    parser.add_argument("--lengths", default="4k,8k,16k,32k,64k,128k")
    parser.add_argument("--workers", type=int, default=1, help="build processes (default 1: the default build)")
    parser.add_argument("--keep", help="build into this folder and keep it (default: a temporary folder)")
    args = parser.parse_args()
    per_length = max(DEPTHS, round(RULER_SAMPLES * args.fraction))
    builds = {
        "niah + qa": (DEPTH_TASKS, per_length // DEPTHS),
        "vt, cwe, fwe": (OWN_PLACEMENT_TASKS, per_length),
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch)
        total = {"rows": 0, "tokens": 0, "attempts": 0, "refits": 0, "unfit": 0, "invalid": 0}
        wall = checking = 0.0
        for n, (name, (tasks, samples)) in enumerate(builds.items()):
            out = root / f"part{n}"
            built = _run(
                ["longsynth", "build", "--suite", "ruler", "--task", ",".join(tasks), "--lengths", args.lengths,
                 "--samples", str(samples), "--workers", str(args.workers), "-o", str(out), "--overwrite"]
            )  # fmt: skip
            checked = _run(["longsynth", "validate", str(out)])
            facts = _facts(out)
            wall, checking = wall + built, checking + checked
            for key in total:
                total[key] += facts[key]
            print(
                f"{name}: {facts['rows']:,} rows ({samples} per cell), {facts['tokens'] / 1e6:,.1f}M tokens, "
                f"build {built:.0f} s ({facts['tokens'] / built / 1e6:.2f}M tokens/s), validate {checked:.0f} s "
                f"(passed); re-fits {facts['refits']}, draws retried {facts['unfit'] + facts['invalid']} "
                f"({facts['unfit']} unfit, {facts['invalid']} refused)",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    share = total["rows"] / (RULER_SAMPLES * 13 * len(args.lengths.split(",")))
    print(
        f"RULER grid at {args.lengths} ({share:.0%} of 500 samples per task and length): {total['rows']:,} rows, "
        f"{total['tokens'] / 1e9:.2f}G tokens, build {wall:.0f} s ({total['tokens'] / wall / 1e6:.2f}M tokens/s), "
        f"validate {checking:.0f} s, peak memory {peak:.0f} MiB (largest process); re-fits {total['refits']}, "
        f"draws {total['attempts']:,}, retried {total['unfit'] + total['invalid']} "
        f"({total['unfit']} could not be fitted, {total['invalid']} refused by a validator)"
    )


if __name__ == "__main__":
    main()
