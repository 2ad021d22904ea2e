"""`longsynth run` against the loopback server (tests/eval/loopback.py, a separate process that
answers at once): rows per second at a given concurrency, and the time per row spent outside the
server (client, HTTP and saving), from a run at concurrency 1.

  python bench/client.py                 # 200 needle rows at 4K, concurrency 8 and 1
  python bench/client.py --rows 400 --length 8k --delay 0.05
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from longsynth.eval.run import RunSettings, run
from longsynth.pipeline import build
from longsynth.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--length", default="4k")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the server waits per answer")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "eval" / "loopback.py"), str(port), str(args.delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as folder:
            spec = load_spec(None, generator="needle", lengths=args.length, samples=args.rows, depths="50")
            data = build(spec, Path(folder) / "ds")
            results = {}
            warm = RunSettings(endpoint=endpoint, model="m", limit=5)
            run(data, Path(folder) / "warm-up", warm)  # imports, first connections: not measured
            for concurrency in (args.concurrency, 1):
                settings = RunSettings(endpoint=endpoint, model="m", concurrency=concurrency)
                start = time.perf_counter()
                counts = run(data, Path(folder) / f"pred-{concurrency}", settings)
                results[concurrency] = (time.perf_counter() - start, counts)
            seconds, counts = results[args.concurrency]
            print(
                f"concurrency {args.concurrency}: {counts['asked']} rows in {seconds:.2f} s = "
                f"{counts['asked'] / seconds:.1f} rows/s ({counts['errors']} errors)"
            )
            one, counts = results[1]
            per_row = one / counts["asked"] - args.delay
            print(
                f"concurrency 1: {counts['asked'] / one:.1f} rows/s; "
                f"{1000 * per_row:.2f} ms per row outside the server's wait"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
