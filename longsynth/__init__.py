"""longsynth: synthetic long-context datasets, token-exact and provably answerable.

Public API:
    load_spec(path, **overrides) -> Spec
    build(spec, output) -> Path            write a Hub-ready dataset folder
    generate(spec) -> Iterator[dict]       stream validated rows
    regenerate(spec, row_id) -> dict       rebuild one row from its id
    to_hf_dataset(spec_or_dir)             a datasets.DatasetDict, one entry per task
    REGISTRY                               the families, built-in and installed (see `generators.registry`)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import pipeline
from .dataset import as_pattern, open_dataset
from .errors import LongsynthError
from .generators.registry import REGISTRY, get_generator_class
from .rows import schema_for
from .spec import Spec, load_spec, spec_from_dict
from .version import __version__, code_digest


def _as_spec(spec: Spec | str | Path) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec)


def build(spec: Spec | str | Path, output: str | Path = "outputs/longsynth", overwrite: bool = False) -> Path:
    """Build a dataset folder (Parquet shards, card, manifest) and return its path."""
    return pipeline.build(_as_spec(spec), output, overwrite=overwrite)


def generate(spec: Spec | str | Path) -> Iterator[dict[str, Any]]:
    """Yield validated rows as dicts, one cell at a time (nothing is held in memory)."""
    return pipeline.generate(_as_spec(spec))


def regenerate(spec: Spec, row_id: str) -> dict[str, Any]:
    """Regenerate the single row with this id; equal to the row a full build writes."""
    return pipeline.generate_row(pipeline.make_generator(spec), pipeline.cell_from_id(spec, row_id))


def _task_rows(spec: dict[str, Any], task: str) -> Iterator[dict[str, Any]]:
    """Rows of one task (a module-level generator, so `datasets` can pickle and fingerprint it)."""
    yield from pipeline.generate(spec_from_dict({**spec, "tasks": [task]}))


def to_hf_dataset(spec_or_dir: Spec | str | Path):
    """A `datasets.DatasetDict` with one entry per task (config), for training pipelines.

    From a built folder, the Parquet shards are read. From a spec (or a YAML path), rows are
    generated on the fly with `Dataset.from_generator`, fingerprinted by the spec and by this
    package's code, so the datasets cache is reused for the same spec and code, never for another.
    """
    import datasets  # heavy: imported only when asked for

    if not isinstance(spec_or_dir, Spec) and Path(spec_or_dir).is_dir():
        dataset = open_dataset(spec_or_dir)
        features = _spec_features(dataset.spec())  # the features a spec gives (Parquet says large_string)
        return datasets.DatasetDict(
            {
                task: datasets.Dataset.from_parquet(
                    [as_pattern(p) for p in dataset.checked_shards(task)], features=features
                )
                for task in dataset.tasks
            }
        )
    spec = _as_spec(spec_or_dir)
    split = get_generator_class(spec.generator).split
    features = _spec_features(spec)
    return datasets.DatasetDict(
        {
            task: datasets.Dataset.from_generator(
                _task_rows,
                features=features,
                gen_kwargs={"spec": spec.to_dict(), "task": task},
                fingerprint=f"longsynth-{spec.fingerprint()[:24]}-{code_digest()[:8]}-{task}",
                split=split,
            )
            for task in spec.tasks
        }
    )


def _spec_features(spec: Spec):
    family = get_generator_class(spec.generator)
    return _features(schema_for(family.split, family.token_columns(spec)))


def _features(schema: dict[str, Any]):
    """datasets Features matching a polars row schema."""
    import datasets
    import polars as pl

    def feature(dtype):
        if dtype == pl.String:
            return datasets.Value("string")
        if dtype == pl.Int64:
            return datasets.Value("int64")
        if dtype == pl.Int32:
            return datasets.Value("int32")
        if dtype == pl.Float64:
            return datasets.Value("float64")
        return datasets.List(feature(dtype.inner))

    return datasets.Features({name: feature(dtype) for name, dtype in schema.items()})


__all__ = [
    "REGISTRY",
    "LongsynthError",
    "Spec",
    "__version__",
    "build",
    "generate",
    "load_spec",
    "regenerate",
    "to_hf_dataset",
]
