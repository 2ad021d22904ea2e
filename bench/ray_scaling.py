"""NExtLong on Ray: index build time and mining throughput against the number of workers.

For each worker count W: a local Ray instance with W CPUs, a fresh cache, and a build of `--samples`
32K samples with `--backend ray --workers W` and the index in W parts (`index_shards=W`), so each
part is built by its own Ray task; workers read the index in place (`shared_cache`, one machine).
Prints the index build time, the mining time and throughput,
and both against one worker's. On one machine, W cannot usefully exceed its cores.
Run: python bench/ray_scaling.py [--workers 1,2] [--documents 100000] [--samples 100] [--kind builtin]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--length", default="32k")
    parser.add_argument("--kind", default="builtin", choices=("builtin", "builtin-zipf"))
    args = parser.parse_args()
    import polars as pl
    import ray

    from longsynth.pipeline import build, make_generator
    from longsynth.spec import load_spec

    first = None
    for workers in map(int, args.workers.split(",")):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            os.environ["LONGSYNTH_CACHE"] = cache
            spec = load_spec(
                None,
                generator="nextlong",
                tasks="nextlong",
                lengths=args.length,
                samples=args.samples,
                corpus=f"{args.kind}:{args.documents}",
                index_shards=workers,
                rows_per_shard=max(1, args.samples // (2 * workers)),
            )
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            try:
                generator = make_generator(spec)
                start = time.perf_counter()
                # the parts as Ray tasks, all submitted at once (workers share this machine's cache folder)
                generator.prepare(run_many=lambda fn, a: ray.get([ray.remote(num_cpus=1)(fn).remote(*x) for x in a]))
                index_seconds = time.perf_counter() - start
                start = time.perf_counter()
                build(spec, out, generator=generator, workers=workers, backend="ray", shared_cache=True)
                mine_seconds = time.perf_counter() - start
            finally:
                ray.shutdown()
            tokens = int(pl.read_parquet(f"{out}/nextlong/*.parquet")["length"].sum())
        throughput = tokens / mine_seconds
        first = first or (index_seconds, throughput)
        print(
            f"workers={workers} documents={args.documents} index_build={index_seconds:.1f}s "
            f"({first[0] / index_seconds:.2f}x one worker's speed) mining={mine_seconds:.1f}s "
            f"throughput={throughput:,.0f} tokens/s ({throughput / first[1]:.2f}x one worker's)",
            flush=True,
        )


if __name__ == "__main__":
    main()
