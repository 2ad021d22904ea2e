"""Plan, generate, validate, write: the build pipeline shared by every family.

spec -> cells (task, length, depth, index) -> per-attempt seed -> generator.sample
-> one encode (measurement) -> validators -> rows -> Parquet shards + card + manifest.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import socket
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import cache_dir, check_cache, pack_folders, unpack_folders
from .cores import available_cores, process_pool
from .dataset import record_valid
from .encoding import Encoders
from .errors import BlankRunError, BudgetError, LongsynthError, OutputError, SampleDropped, SpecError, ValidationFailed
from .export.layout import shard_path
from .export.writer import building_into, finish_build, kept_shard, prepare_output, write_shard
from .fitting import length_tolerance
from .generators.base import Cell, Generator, Sample
from .generators.registry import get_generator_class
from .rows import make_row
from .seeding import derive_seed, rng_for
from .spec import Spec, spec_from_dict, task_depths
from .tokenizers import Measurement, Tokenizer, get_tokenizer, measure
from .validators import validate_row

MAX_REFITS = 3


def make_generator(spec: Spec) -> Generator:
    """The spec's generator with its tokenizer, built once per process."""
    check_cache()
    tokenizer = get_tokenizer(spec.tokenizer)
    return get_generator_class(spec.generator)(spec, tokenizer)


def plan(spec: Spec) -> dict[str, list[Cell]]:
    """Cells per task (one config each), in a fixed order: length, depth, index. A task that places
    its items itself has one cell per length and index, with no depth."""
    tasks = get_generator_class(spec.generator).tasks
    return {
        task: [
            Cell(task, length, depth, index)
            for length in spec.lengths
            for depth in task_depths(spec, tasks[task])
            for index in range(spec.samples)
        ]
        for task in spec.tasks
    }


def cell_from_id(spec: Spec, row_id: str) -> Cell:
    """Find the cell a row id names, so one sample can be regenerated on its own."""
    for cells in plan(spec).values():
        for cell in cells:
            if cell.id == row_id:
                return cell
    raise SpecError(f"no sample with id {row_id!r} in this spec")


@dataclass
class RowStats:
    """What building a group of rows took: every draw (attempt) made, the re-fits after a measured
    miss, the draws retried (`unfit`: the fitter found no fit for them; `invalid`: a validator
    refused them, or the tokenizer: `BlankRunError`) and the samples dropped (a training corpus ran
    dry for them, or held a blank run: see the nextlong generator)."""

    attempts: int = 0
    refits: int = 0
    dropped: int = 0
    unfit: int = 0
    invalid: int = 0

    def record(self) -> dict[str, int]:
        """The counts a shard's record keeps (and the card and manifest sum)."""
        return {
            "attempts": self.attempts,
            "refits": self.refits,
            "dropped": self.dropped,
            "unfit": self.unfit,
            "invalid": self.invalid,
        }


def attempt_seed(spec: Spec, cell: Cell, attempt: int = 0) -> int:
    return derive_seed(spec.seed, spec.generator, cell.task, cell.target_length, cell.depth, cell.index, attempt)


def row_reserve(generator: Generator, cell: Cell, sample: Sample) -> int:
    """Tokens a row keeps for its answer: the sample's own, else its task's; none for training rows."""
    if generator.split != "test":
        return 0
    return sample.reserve if sample.reserve is not None else generator.reserve_for(cell.task)


def generate_row(
    generator: Generator,
    cell: Cell,
    stats: RowStats | None = None,
    first: tuple[Sample, Measurement] | Exception | None = None,
) -> dict[str, Any]:
    """One valid row for a cell: retried from the next attempt seed on failure, never unvalidated.

    A draw fails when its sample cannot be fitted to the budget (a BudgetError from the generator: an
    unlucky draw of unit sizes, or of a demonstration), when its text holds more whitespace in a row
    than tiktoken can take (a BlankRunError: a corpus document, say, with 100,000 blank characters in a
    row), or when a validator refuses the row; either way the next attempt seed draws again. Only
    after `max_attempts` draws does the build stop, in one line naming the cell, the seeds and the
    last reason.

    `first` is the first attempt's sample and its measurement (or the error it raised) when they
    were made ahead (the pipelined build encodes one sample while the next is generated); the result
    is the same.
    """
    spec = generator.spec
    stats = stats if stats is not None else RowStats()
    failure: LongsynthError | None = None
    for attempt in range(spec.max_attempts):
        seed = attempt_seed(spec, cell, attempt)
        stats.attempts += 1
        try:
            row, metadata, measurement = _attempt(
                generator, cell, seed, attempt, stats, first if attempt == 0 else None
            )
        except BudgetError as exc:
            stats.unfit += 1
            failure = exc
            continue
        except BlankRunError as exc:  # no row could be measured (nor validated, nor read by tiktoken)
            stats.invalid += 1
            failure = exc
            continue
        problems = validate_row(row, generator, generator.tokenizer, measurement, metadata)
        if not problems:
            return row
        stats.invalid += 1
        failure = ValidationFailed(f"failed validation: {'; '.join(problems[:3])}")
    # The last draw's error class (BudgetError or ValidationFailed), naming the cell and its seeds.
    raise type(failure)(
        f"sample {cell.id} failed all {spec.max_attempts} draws (max_attempts; build seed {spec.seed}, "
        f"last draw's seed {seed}); last: {failure}"
    )


def _attempt(generator: Generator, cell: Cell, seed: int, attempt: int, stats: RowStats, first) -> tuple:
    """One draw: the sample, fitted and re-fitted until its measured length keeps the contract (at
    most MAX_REFITS times; the length validator has the last word), and its row."""
    if isinstance(first, Exception):  # the first draw, made ahead, failed: as if it failed here
        raise first
    adjust = 0
    slack = length_tolerance(cell.target_length, generator.spec.length_tolerance)
    if not generator.fills_target(cell.task):
        slack = cell.target_length  # the context is the items alone: the target is an upper bound
    for refit in range(MAX_REFITS + 1):
        if first is not None and refit == 0:
            sample, measurement = first
        else:
            sample = generator.sample(cell, rng_for(seed), budget_adjust=adjust)
            measurement = measure(generator.tokenizer, sample.fitted.text)
        budget = cell.target_length - row_reserve(generator, cell, sample)
        over = measurement.length - budget
        short = budget - slack - measurement.length
        if over <= 0 and short <= 0 or refit == MAX_REFITS:
            break
        # The prediction missed (merges where whole units meet, a tokenizer that merges across units):
        # the measured encode decides. The next fit aims lower (or higher) by what the prediction
        # missed by, and by at least one token more than the last, so it never repeats a fit that failed.
        miss = measurement.length - sample.fitted.predicted_length
        if over > 0:
            adjust = max(adjust + 1, miss)
        else:
            adjust = min(adjust - 1, miss, adjust - short)
        stats.refits += 1
    row, metadata = make_row(generator, cell, sample, measurement, seed, attempt)
    return row, metadata, measurement


def generation_threads(tokenizer: Tokenizer, processes: int = 1) -> int:
    """Threads for one process (see `generate_rows`): the cores each of `processes` may use, at
    most 4, if the tokenizer encodes outside the GIL; else 1. Only encodes run on the extra
    threads, so any generator can use them."""
    if not getattr(tokenizer, "encodes_outside_gil", False):
        return 1
    return max(1, min(4, available_cores() // max(1, processes)))


def generate_rows(
    generator: Generator, cells: list[Cell], stats: RowStats | None = None, threads: int | None = None
) -> Iterator[dict[str, Any] | None]:
    """Rows for `cells` in order (None for a dropped sample).

    With `threads` > 1 the build is a pipeline: this thread generates samples a few cells ahead
    and queues their texts for encoding on `threads` background threads (see `encoding`), then
    measures, validates and yields the rows in order. A sample's first attempt is made ahead;
    retries and re-fits happen in order as before, so every row is a pure function of its cell's
    seed and the bytes never depend on the thread count.
    """
    threads = generation_threads(generator.tokenizer) if threads is None else threads
    # Enough tokens to measure that a faster exact encoder pays for its loading (see `measure_ids`).
    expect = getattr(generator.tokenizer, "expect", None)
    if expect is not None:
        expect(sum(cell.target_length for cell in cells))
    # A sample allocates thousands of short-lived, acyclic objects (rows, items, metadata), and
    # each of CPython's default collections every 700 allocations walks the long-lived caches
    # too: collect cycles less often while rows are being made (7% of a holobench build).
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 20_000), *thresholds[1:])
    try:
        if threads <= 1 or len(cells) < 2:
            for cell in cells:
                yield _finish(generator, cell, stats, None)
        else:
            yield from _pipelined(generator, cells, stats, threads)
    finally:
        gc.set_threshold(*thresholds)


def _finish(generator: Generator, cell: Cell, stats: RowStats | None, first) -> dict[str, Any] | None:
    try:
        return generate_row(generator, cell, stats, first)
    except SampleDropped:
        if stats:
            stats.dropped += 1
        return None


AHEAD_TOKENS = 2_000_000  # 60 samples at 32K, 15 at 128K


def _run_ahead(encoders: Encoders, oldest, tokens: int, backlog: bool) -> bool:
    """Whether to make another sample before the oldest one's measurement is back, up to `AHEAD_TOKENS`
    of samples made ahead: while the quicktok helper loads on the other core (about 0.15 s; see
    `encoding`), and after it, while it works through the samples made meanwhile (`backlog`: the oldest
    is one of them), a millisecond or two each. A build thread that waited for each of those in turn
    sat idle for 50 ms of a 100-sample 32K fwe build (0.6 s); one that kept making samples ahead for
    good held more memory at 128K, where the helper is the slower side. Otherwise a build holds
    `window` samples ahead, so its memory does not depend on which side is faster."""
    if tokens >= AHEAD_TOKENS or not (encoders.loading or backlog and encoders.elsewhere):
        return False
    return not (isinstance(oldest, BaseException) or oldest[1].done.is_set())


def _pipelined(
    generator: Generator, cells: list[Cell], stats: RowStats | None, threads: int
) -> Iterator[dict[str, Any] | None]:
    spec = generator.spec
    window = 2 * threads  # samples made ahead: enough to keep every thread encoding when samples are cheap
    # Encoding threads need the GIL only to start and end an encode: hand it over promptly.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        with Encoders(generator.tokenizer, threads) as encoders:
            ahead: deque = deque()  # (cell, (sample, its encode job) or the error its sample raised)
            tokens = 0  # the target lengths of the samples in `ahead`
            loaded_at = None if encoders.loading else 0  # samples made before the helper was ready
            for n, cell in enumerate(cells):
                try:
                    sample = generator.sample(cell, rng_for(attempt_seed(spec, cell)), budget_adjust=0)
                    ahead.append((cell, (sample, encoders.submit(sample.fitted.text))))
                except Exception as exc:  # raised, retried or counted in cell order, as one thread does
                    ahead.append((cell, exc))
                tokens += cell.target_length
                if loaded_at is None and not encoders.loading:
                    loaded_at = n + 1
                last = n == len(cells) - 1
                # (the oldest sample in `ahead` is number n + 1 - len(ahead): a backlog one if made while loading)
                while ahead and (
                    last
                    or len(ahead) >= window
                    and not _run_ahead(
                        encoders, ahead[0][1], tokens, loaded_at is None or n + 1 - len(ahead) < loaded_at
                    )
                ):
                    done, made = ahead.popleft()
                    tokens -= done.target_length
                    if not isinstance(made, BaseException):
                        try:
                            made = (made[0], encoders.result(made[1]))
                        except BlankRunError as exc:  # its measurement refused it: a failed first draw
                            made = exc
                    yield _finish(generator, done, stats, made)  # (an error is raised, retried or counted in order)
    finally:
        sys.setswitchinterval(interval)


def generate(spec: Spec) -> Iterator[dict[str, Any]]:
    """Stream valid rows for every cell of the spec (for training pipelines); dropped samples are skipped."""
    generator = make_generator(spec)
    for cells in plan(spec).values():
        for row in generate_rows(generator, cells):
            if row is not None:
                yield row


def shard_ranges(count: int, rows_per_shard: int) -> list[tuple[int, int]]:
    shards = max(1, math.ceil(count / rows_per_shard))
    return [(k * rows_per_shard, min(count, (k + 1) * rows_per_shard)) for k in range(shards)]


BYTES_PER_TOKEN = 4  # estimate of a row's text bytes per token, for the shard byte cap


def rows_per_shard(spec: Spec) -> int:
    """Rows per shard: `rows_per_shard`, lowered so a shard's text stays under `max_shard_bytes`.

    The cap is an estimate from the spec (target length x 4 bytes), never from generated data, so
    the shard layout, and each shard, stays a pure function of the spec.
    """
    if not spec.max_shard_bytes:
        return spec.rows_per_shard
    row_bytes = max(spec.lengths) * BYTES_PER_TOKEN + 1024
    return max(1, min(spec.rows_per_shard, spec.max_shard_bytes // row_bytes))


GROUP_BYTES = 2 * 1024 * 1024  # text per Parquet row group: what a shard's writer holds at once


def rows_per_group(spec: Spec) -> int:
    """Rows per Parquet row group, from the spec alone (so the bytes are too): about 2 MB of text,
    between 1 and 64 rows (evaluation rows hold their text twice, as `input` and `prompt`)."""
    return max(1, min(64, GROUP_BYTES // (max(spec.lengths) * BYTES_PER_TOKEN * 2)))


@dataclass(frozen=True)
class ShardJob:
    """One shard: which config, which cells; everything a worker needs besides the spec."""

    task: str
    index: int
    count: int
    lo: int
    hi: int


def shard_jobs(spec: Spec) -> list[ShardJob]:
    jobs = []
    per_shard = rows_per_shard(spec)
    for task, cells in plan(spec).items():
        ranges = shard_ranges(len(cells), per_shard)
        jobs += [ShardJob(task, k, len(ranges), lo, hi) for k, (lo, hi) in enumerate(ranges)]
    return jobs


def run_shard(
    generator: Generator,
    out: Path,
    job: ShardJob,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> dict:
    """Generate and write one shard (a pure function of the spec and the job), and return its record
    (stats, and each file's size and sha256). A finished shard whose files still match their record
    is kept; any other is rebuilt."""
    spec = generator.spec
    path = shard_path(out, job.task, generator.split, job.index, job.count)
    record = kept_shard(path) if path.exists() else None
    if record is not None:
        if progress:
            progress(job.hi - job.lo)
        return record
    stats = RowStats()

    def rows() -> Iterator[dict[str, Any]]:  # consumed by the writer as they come
        for row in generate_rows(generator, plan(spec)[job.task][job.lo : job.hi], stats, threads):
            if progress:
                progress(1)
            if row is not None:
                yield row

    return write_shard(
        path,
        rows(),
        generator.split,
        spec.formats,
        first_index=job.lo,
        stats=stats,
        token_columns=generator.token_columns(spec),
        family=generator.shard_stats,
        group_rows=rows_per_group(spec),
    )


_WORKER_GENERATOR: Generator | None = None


def _worker_run(
    spec_dict: dict,
    out: str,
    job: ShardJob,
    threads: int | None = 1,
    shared: dict[str, dict[str, bytes]] | None = None,
    cache: str | None = None,
) -> dict:
    """Entry point in a worker process (local pool or Ray): one generator per process, reused. `shared`
    holds the cache folders the build made once (an index), for a worker whose disk lacks them;
    `cache` is the build's cache folder when every node shares it."""
    global _WORKER_GENERATOR
    if cache:
        os.environ["LONGSYNTH_CACHE"] = cache
    if shared:
        unpack_folders(shared)
    if _WORKER_GENERATOR is None or _WORKER_GENERATOR.spec.to_dict() != spec_dict:
        _WORKER_GENERATOR = make_generator(spec_from_dict(spec_dict))
    return run_shard(_WORKER_GENERATOR, Path(out), job, threads=threads)


def build(
    spec: Spec,
    output: str | Path,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    generator: Generator | None = None,
    workers: int = 1,
    backend: str = "local",
    ray_address: str | None = None,
    threads: int | None = None,
    shared_cache: bool = False,
) -> Path:
    """Build the dataset into `output`; already complete shards of the same spec are kept.

    Shards run in this process (`workers=1`), in a pool of local processes, or as Ray tasks
    (`backend="ray"`); each shard is a pure function of the spec, so the bytes are the same.
    `threads` per process defaults to 2 where a core is spare (see `generate_rows`), else 1.
    `shared_cache`: every Ray node sees this machine's cache folder at the same path (a shared
    filesystem), so a corpus index is written there once and read in place, not sent through Ray's
    object store to every worker.
    """
    out = Path(output)
    with _older_objects_frozen():
        if workers == 1 and backend == "local" and generator is None:
            # This process measures every sample: start the tokenizer's fast measuring now, so it loads
            # (on another core) while the generator is made.
            expect = getattr(get_tokenizer(spec.tokenizer), "expect", None)
            if expect is not None:
                expect(sum(cell.target_length for cells in plan(spec).values() for cell in cells))
        generator = generator or make_generator(spec)
        with building_into(out):
            return _build(
                spec, out, overwrite, progress, generator, workers, backend, ray_address, threads, shared_cache
            )


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Keep the objects alive when a build starts (modules, the tokenizer's tables, the caller's
    data) out of the cycle collector's way until it ends (`gc.freeze`): a full collection walks
    every one of them and finds nothing to free, and one came in the first milliseconds of a build
    (20 to 25 ms, a twentieth of a 100-sample 32K Chinese needle build). Objects made during the
    build are collected as usual. A process that froze objects itself (a server before it forks)
    is left as it is: unfreezing would undo its freeze."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _build(spec, out, overwrite, progress, generator, workers, backend, ray_address, threads, shared_cache) -> Path:
    prepare_output(out, spec, overwrite)
    jobs = shard_jobs(spec)
    if backend == "ray":
        with _ray_session(ray_address, workers) as ray:
            # shared resources (a corpus index) are built once, before any shard starts: their parts as
            # Ray tasks, each written where every node reads it (`shared_cache`) or sent back here
            generator.prepare(run_many=lambda fn, args: _ray_map(ray, fn, args, shared_cache))
            shared = None if shared_cache else generator.shared_folders()
            cache = str(cache_dir().resolve()) if shared_cache else None
            results = _run_ray(ray, spec, out, jobs, progress, threads or 1, shared, cache)
    elif backend == "local":
        generator.prepare()  # shared resources (e.g. a corpus index) are built once, before any worker starts
        # Local processes beyond the machine's cores only compete for them, each holding its own
        # tokenizer and generator: 16 on 2 cores built 32 small shards 5 times slower than 2, with
        # 1.3 GB more memory (1,024 would exhaust it). The bytes do not depend on the count.
        workers = min(workers, available_cores(), len(jobs))
        if workers > 1:
            per_worker = threads or generation_threads(generator.tokenizer, workers)
            results = _run_pool(spec, out, jobs, workers, progress, per_worker)
        else:
            results = [run_shard(generator, out, job, progress, threads) for job in jobs]
    else:
        raise SpecError(f"unknown backend {backend!r}; use local or ray")
    shard_stats: dict[str, list[dict]] = {task: [] for task in spec.tasks}
    shard_files: dict[str, dict] = {}
    for job, record in zip(jobs, results, strict=True):
        shard_stats[job.task].append(record["stats"])
        shard_files.update(record["files"])
    finish_build(out, spec, generator, shard_stats, shard_files)
    record_valid(out)  # every row was validated as it was made: publishing need not re-check
    return out


def _run_pool(spec: Spec, out: Path, jobs: list[ShardJob], workers: int, progress, threads: int) -> list[dict]:
    with process_pool(workers) as pool:
        futures = [pool.submit(_worker_run, spec.to_dict(), str(out), job, threads) for job in jobs]
        results = []
        for job, future in zip(jobs, futures, strict=True):
            results.append(future.result())
            if progress:
                progress(job.hi - job.lo)
    return results


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (not after Ray's long connection retries) when the cluster address does not answer."""
    if address == "auto":
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return
    except (OSError, ValueError):
        raise SpecError(
            f"cannot reach a Ray cluster at {address!r}; check --ray-address or RAY_ADDRESS (host:port)"
        ) from None


@contextlib.contextmanager
def _ray_session(address: str | None, workers: int):
    """Ray, started here for this build (a local instance with `workers` CPUs, or a connection to the
    cluster at `address`) and stopped after it; one already started by the caller is used as it is."""
    try:
        import ray  # optional extra, and slow to import
    except ImportError:
        raise SpecError("--backend ray needs the ray extra: pip install 'longsynth[ray]'") from None
    started_here = not ray.is_initialized()
    # Ray's own variable names a cluster as --ray-address does. Without either, a private local instance:
    # `ray.init()` with no address joins any Ray instance it finds running on this machine (another
    # user's or job's; a test's cluster in the next process refused our CPU count, and the build).
    address = address or os.environ.get("RAY_ADDRESS") or None
    address = None if address == "local" else address
    if started_here and address:
        _check_reachable(address)
    if started_here:
        # A local instance runs its tasks on this machine's cores: more would only compete for them
        # (see the local processes in `_build`).
        options = (
            {"address": address}
            if address
            else {"address": "local", "num_cpus": max(1, min(workers, available_cores()))}
        )
        ray.init(include_dashboard=False, log_to_driver=False, **options)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _remote_part(fn, args: tuple, cache: str | None) -> Any:
    """A Ray task: `fn(*args)` builds a cache folder. With a shared cache (`cache`, the driver's path)
    it is written there; else in this node's cache, and its files go back to the driver."""
    if cache:
        os.environ["LONGSYNTH_CACHE"] = cache
    folder = Path(fn(*args))
    if cache:
        return None
    return pack_folders({str(folder.relative_to(cache_dir())): folder})


def _ray_map(ray, fn, args: list[tuple], shared_cache: bool) -> None:
    """Run `fn(*a)` for every `a` as Ray tasks, one core each; each builds a cache folder, which ends up
    in this process's cache (written there directly when the cache is shared)."""
    remote = ray.remote(num_cpus=1)(_remote_part)
    cache = str(cache_dir().resolve()) if shared_cache else None
    try:
        results = ray.get([remote.remote(fn, a, cache) for a in args])
    except ray.exceptions.RayTaskError as exc:  # a bad corpus is its own one-line error, not Ray's traceback
        cause = getattr(exc, "cause", None)
        if isinstance(cause, LongsynthError):
            raise cause from None
        raise
    for packed in results:
        if packed:
            unpack_folders(packed)


def _run_ray(
    ray,
    spec: Spec,
    out: Path,
    jobs: list[ShardJob],
    progress,
    threads: int,
    shared_folders: dict[str, Path] | None = None,
    cache: str | None = None,
) -> list[dict]:
    remote = ray.remote(num_cpus=1)(_worker_run)
    # What the driver built once (a corpus index) goes to the object store once, for every node,
    # unless every node reads it in place from a shared cache folder (`cache`).
    packed = pack_folders(shared_folders) if shared_folders else None
    shared = ray.put(packed) if packed else None
    pending = [remote.remote(spec.to_dict(), str(out.resolve()), job, threads, shared, cache) for job in jobs]
    results = []
    for job, ref in zip(jobs, pending, strict=True):
        results.append(ray.get(ref))
        if progress:
            progress(job.hi - job.lo)
    return results


__all__ = ["LongsynthError", "OutputError", "build", "cell_from_id", "generate", "generate_row", "plan"]
