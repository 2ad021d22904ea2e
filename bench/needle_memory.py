"""Peak memory of a niah_single_1 build at 128K: 50 vs 1,000 samples (limit 200 MiB, and flat).

Each build runs in its own process; prints peak RSS (MiB) of both and their ratio. Shards are
written one Parquet row group (about 2 MB of text) at a time, so memory does not grow with the
sample count. A build of 2 million tokens or more measures its samples in a quicktok helper process
(`longsynth/quick_helper.py`); its peak is printed beside the build's.
Run: python bench/needle_memory.py [--length 128k]
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
from longsynth.tokenizers import get_tokenizer
helper, helper_peak = getattr(get_tokenizer(spec.tokenizer), "_helper", None), 0
if helper is not None:  # its own peak (VmHWM); a child's ru_maxrss counts the pages it shared before exec
    with open(f"/proc/{helper._process.pid}/status") as status:
        helper_peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(helper_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_mib(samples: int, length: str) -> tuple[float, float]:
    """The build process's peak RSS and its quicktok helper's (0 when it started none), in MiB."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(samples), out, length], capture_output=True, text=True, check=True
        )
    helper, build = (int(n) / 1024 for n in done.stdout.strip().splitlines()[-1].split())
    return build, helper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", default="128k")
    args = parser.parse_args()
    (small, small_helper), (large, large_helper) = peak_mib(50, args.length), peak_mib(1000, args.length)
    print(
        f"peak RSS at {args.length}: 50 samples {small:.0f} MiB, 1,000 samples {large:.0f} MiB, "
        f"ratio {large / small:.2f} (limit 200 MiB, flat); quicktok helper {small_helper:.0f} and "
        f"{large_helper:.0f} MiB"
    )


if __name__ == "__main__":
    main()
