"""Peak memory of a niah_single_1 build at 16K: 100 vs 1,000 samples (should be flat).

Each build runs in its own process; prints peak RSS (MiB) of both and their ratio.
Run: python bench/needle_memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

CHILD = """
import resource, sys
from longsynth.pipeline import build
from longsynth.spec import load_spec
spec = load_spec(None, tasks="niah_single_1", lengths="16k", depths="0,50,100", samples=int(sys.argv[1]))
build(spec, sys.argv[2])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(samples_per_depth: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(samples_per_depth), out], capture_output=True, text=True, check=True
        )
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    small = peak_mib(34)  # 102 samples (3 depths)
    large = peak_mib(334)  # 1,002 samples
    print(f"peak RSS: ~100 samples {small:.0f} MiB, ~1,000 samples {large:.0f} MiB, ratio {large / small:.2f}")


if __name__ == "__main__":
    main()
