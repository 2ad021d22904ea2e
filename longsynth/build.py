"""Plan, generate, validate, write: the build pipeline shared by every family.

spec -> cells (task, length, depth, index) -> per-attempt seed -> generator.sample
-> one encode (measurement) -> validators -> rows -> Parquet shards + card + manifest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LongsynthError, OutputError, SpecError, ValidationFailed
from .fitting import length_tolerance
from .generators.base import Cell, Generator, get_generator_class
from .rows import make_row
from .seeding import derive_seed, rng_for
from .spec import Spec
from .tokenizers import get_tokenizer, measure
from .validators import validate_row

MAX_REFITS = 3


def make_generator(spec: Spec) -> Generator:
    """The spec's generator with its tokenizer, built once per process."""
    tokenizer = get_tokenizer(spec.tokenizer)
    return get_generator_class(spec.generator)(spec, tokenizer)


def plan(spec: Spec) -> dict[str, list[Cell]]:
    """Cells per task (one config each), in a fixed order: length, depth, index."""
    depths: list[float | None] = list(spec.depths) if spec.depths else [None]
    return {
        task: [
            Cell(task, length, depth, index)
            for length in spec.lengths
            for depth in depths
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
    attempts: int = 0
    refits: int = 0
    dropped: int = 0


def generate_row(generator: Generator, cell: Cell, stats: RowStats | None = None) -> dict[str, Any]:
    """One valid row for a cell: retried from the next attempt seed on failure, never unvalidated."""
    spec = generator.spec
    failures: list[str] = []
    for attempt in range(spec.max_attempts):
        seed = derive_seed(spec.seed, spec.generator, cell.task, cell.target_length, cell.depth, cell.index, attempt)
        adjust = 0
        slack = length_tolerance(cell.target_length, spec.length_tolerance)
        for _ in range(MAX_REFITS):
            sample = generator.sample(cell, rng_for(seed), budget_adjust=adjust)
            measurement = measure(generator.tokenizer, sample.fitted.text)
            over = measurement.length - cell.target_length
            if over <= 0 and measurement.length >= cell.target_length - slack:
                break
            # The prediction missed (a tokenizer that merges across units): re-fit with the
            # budget moved by the miss. Bounded; the length validator has the last word.
            adjust += over if over > 0 else -(cell.target_length - measurement.length) // 2
            if stats:
                stats.refits += 1
        row = make_row(generator, cell, sample, measurement, seed, attempt)
        problems = validate_row(row, generator, generator.tokenizer, measurement)
        if stats:
            stats.attempts += 1
        if not problems:
            return row
        failures.append(f"attempt {attempt}: {'; '.join(problems[:3])}")
    raise ValidationFailed(f"sample {cell.id} failed validation {spec.max_attempts} times; last: {failures[-1]}")


def generate(spec: Spec) -> Iterator[dict[str, Any]]:
    """Stream valid rows for every cell of the spec (for training pipelines); dropped samples are skipped."""
    from .generators.nextlong import SampleDropped

    generator = make_generator(spec)
    for cells in plan(spec).values():
        for cell in cells:
            try:
                yield generate_row(generator, cell)
            except SampleDropped:
                continue


def shard_ranges(count: int, rows_per_shard: int) -> list[tuple[int, int]]:
    shards = max(1, math.ceil(count / rows_per_shard))
    return [(k * rows_per_shard, min(count, (k + 1) * rows_per_shard)) for k in range(shards)]


def build(
    spec: Spec,
    output: str | Path,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    generator: Generator | None = None,
) -> Path:
    """Build the dataset into `output`; already complete shards of the same spec are kept."""
    from .export.writer import finish_build, prepare_output, shard_path, write_shard
    from .generators.nextlong import SampleDropped

    out = Path(output)
    generator = generator or make_generator(spec)
    prepare_output(out, spec, overwrite)
    shard_stats: dict[str, list[dict[str, int]]] = {}
    for task, cells in plan(spec).items():
        ranges = shard_ranges(len(cells), spec.rows_per_shard)
        shard_stats[task] = []
        for k, (lo, hi) in enumerate(ranges):
            path = shard_path(out, task, generator.split, k, len(ranges))
            stats = RowStats()
            if path.exists():
                from .export.writer import read_shard_stats

                shard_stats[task].append(read_shard_stats(path))
                if progress:
                    progress(hi - lo)
                continue
            rows = []
            for cell in cells[lo:hi]:
                try:
                    rows.append(generate_row(generator, cell, stats))
                except SampleDropped:
                    stats.dropped += 1
                if progress:
                    progress(1)
            written = write_shard(
                path,
                rows,
                generator.split,
                spec.formats,
                first_index=lo,
                stats=stats,
                input_ids=bool(spec.options.get("input_ids")),
            )
            shard_stats[task].append(written)
    finish_build(out, spec, generator, shard_stats)
    return out


__all__ = ["LongsynthError", "OutputError", "build", "cell_from_id", "generate", "generate_row", "plan"]
