"""Shards per second with 1 and 2 local workers, and the speed-up (byte-identical output checked).

Run: python bench/shards.py [--samples N] [--length L]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from longsynth.pipeline import build, shard_jobs
from longsynth.spec import load_spec


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*.parquet"))
    return hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in files)).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--length", default="32k")
    args = parser.parse_args()
    spec = load_spec(
        None,
        tasks="niah_single_2,niah_multikey_2",
        lengths=args.length,
        depths="0,25,50,75,100",
        samples=args.samples // 5,
        rows_per_shard=4,
    )
    shards = len(shard_jobs(spec))
    rates, digests = {}, {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            build(spec, out, workers=workers)
            seconds = time.perf_counter() - start
            rates[workers] = shards / seconds
            digests[workers] = _digest(Path(out))
    same = "identical" if digests[1] == digests[2] else "DIFFERENT"
    print(
        f"shards={shards} length={args.length} 1 worker {rates[1]:.2f} shards/s, 2 workers {rates[2]:.2f} shards/s, "
        f"speed-up {rates[2] / rates[1]:.2f}x, output {same}"
    )


if __name__ == "__main__":
    main()
