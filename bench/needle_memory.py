"""Peak memory of a niah_single_1 build at 128K: 50 vs 1,000 samples (limit 200 MiB, and flat).

Each build runs in its own process; prints peak RSS (MiB) of both and their ratio. Shards are
written one Parquet row group (about 2 MB of text) at a time, so memory does not grow with the
sample count. Run: python bench/needle_memory.py [--length 128k]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

CHILD = """
import resource, sys
from longsynth.pipeline import build
from longsynth.spec import load_spec
spec = load_spec(None, tasks="niah_single_1", lengths=sys.argv[3], depths="50", samples=int(sys.argv[1]))
build(spec, sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(samples: int, length: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(samples), out, length], capture_output=True, text=True, check=True
        )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", default="128k")
    args = parser.parse_args()
    small, large = peak_mib(50, args.length), peak_mib(1000, args.length)
    print(
        f"peak RSS at {args.length}: 50 samples {small:.0f} MiB, 1,000 samples {large:.0f} MiB, "
        f"ratio {large / small:.2f} (limit 200 MiB, flat)"
    )


if __name__ == "__main__":
    main()
