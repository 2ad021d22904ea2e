"""What users run after a build, at full size: `validate`, `audit`, `score`, each timed as a fresh
command against the build's own time (the ratio printed is that step's seconds over the build's),
with each command's peak memory.

Default: RULER's 13 tasks at 64K and 128K, 8 samples a cell (848 rows), built once into a temporary
folder; the predictions scored are every row's gold answers (a third of them replaced by a refusal),
as a jsonl. Nothing is asked of a model (`longsynth run` is measured by the tests' loopback server).
Run: python bench/after_build.py [--suite ruler] [--lengths 64k,128k] [--samples 8] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The command, then its own peak memory on the last line of stderr (its children's, if larger).
_RUN = """
import resource, sys
from longsynth.cli import main
try:
    main()
finally:
    peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"peak {peak / 1024:.0f}", file=sys.stderr)
"""


def _timed(*args: str) -> tuple[float, float]:
    """Seconds and peak MiB of one fresh `longsynth` command."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    if done.returncode not in (0, 1) or not lines or not lines[-1].startswith("peak "):
        # (1: validate or audit found something, still timed)
        last = [line for line in lines if not line.startswith("peak ")][-1:] or done.stdout.strip().splitlines()[-1:]
        sys.exit(f"longsynth {args[0]} failed: {last[0] if last else done.returncode}")
    return seconds, float(lines[-1].split()[1])


def _predictions(folder: Path, out: Path) -> None:
    import polars as pl

    with out.open("w") as handle:
        for n, shard in enumerate(sorted(folder.glob("*/*.parquet"))):
            for k, row in enumerate(pl.read_parquet(shard, columns=["id", "answers"]).iter_rows(named=True)):
                reply = "I don't know." if (n + k) % 3 == 0 else ", ".join(row["answers"])
                handle.write(json.dumps({"id": row["id"], "prediction": reply}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", default="ruler")
    parser.add_argument("--lengths", default="64k,128k")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "build"
        build, build_peak = _timed(
            "build", "--suite", args.suite, "--lengths", args.lengths, "--samples", str(args.samples),
            "--seed", str(args.seed), "-o", str(out),
        )  # fmt: skip
        rows = sum(json.loads((out / "manifest.json").read_text())["counts"].values())
        print(
            f"build: {rows} rows ({args.suite}, {args.lengths}, {args.samples} a cell) in {build:.1f} s, "
            f"peak {build_peak:.0f} MiB"
        )
        _predictions(out, Path(scratch) / "predictions.jsonl")
        steps = {
            "validate": ("validate", "--quiet", str(out)),
            "audit": ("audit", str(out)),
            "score": ("score", str(out), str(Path(scratch) / "predictions.jsonl"), "-o", str(Path(scratch) / "s")),
        }
        for name, step in steps.items():
            seconds, peak = _timed(*step)
            print(
                f"{name}: {seconds:.1f} s, {seconds / build:.2f}x the build ({1000 * seconds / rows:.0f} ms a row), "
                f"peak {peak:.0f} MiB"
            )


if __name__ == "__main__":
    main()
