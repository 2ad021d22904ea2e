"""Peak memory of a cwe build against a needle build of the same size (goal: cwe at most needle's).

Both build 50 samples at 32K (depth 50) from the command line, as a user runs them, in fresh
processes that alternate (needle, cwe, needle, ...) so a busier minute of the machine falls on both;
prints each run's peak RSS, the medians and cwe's over needle's. One run moves by a megabyte or two
with the machine, so compare medians of several rounds.
Run: python bench/cwe_memory.py [--rounds 9] [--length 32k] [--samples 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

BUILDS = {"needle niah_single_1": ("needle", "niah_single_1"), "ruler cwe": ("ruler", "cwe")}


def peak_mib(generator: str, task: str, length: str, samples: int) -> float:
    """Peak RSS of one `longsynth build` in its own process."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "longsynth.cli", "build", "--generator", generator, "--task", task]
        command += ["--lengths", length, "--depths", "50", "--samples", str(samples), "-o", os.path.join(out, "ds")]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest so far
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"build failed: {' '.join(command)}")
        return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--length", default="32k")
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    peaks: dict[str, list[float]] = {name: [] for name in BUILDS}
    for _ in range(args.rounds):
        for name, (generator, task) in BUILDS.items():
            peaks[name].append(peak_mib(generator, task, args.length, args.samples))
    for name, values in peaks.items():
        print(f"{name}: " + " ".join(f"{v:.1f}" for v in values) + f" MiB, median {statistics.median(values):.1f}")
    needle, cwe = (statistics.median(peaks[name]) for name in BUILDS)
    print(f"cwe over needle, medians of {args.rounds}: {cwe / needle:.3f} (goal: at most 1.000)")


if __name__ == "__main__":
    main()
