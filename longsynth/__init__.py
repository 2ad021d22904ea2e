"""longsynth: synthetic long-context datasets, token-exact and provably answerable.

Public API:
    load_spec(path, **overrides) -> Spec
    build(spec, output) -> Path            write a Hub-ready dataset folder
    generate(spec) -> Iterator[dict]       stream validated rows
    regenerate(spec, row_id) -> dict       rebuild one row from its id
    to_hf_dataset(spec_or_dir)             a datasets.DatasetDict, one entry per task
    REGISTRY                               generator classes by name
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from .errors import LongsynthError  # noqa: E402
from .generators.base import REGISTRY, get_generator_class  # noqa: E402
from .spec import Spec, load_spec  # noqa: E402


def build(spec: Spec | str | Path, output: str | Path = "outputs/longsynth", overwrite: bool = False) -> Path:
    """Build a dataset folder (Parquet shards, card, manifest) and return its path."""
    from .pipeline import build as _build

    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return _build(spec, output, overwrite=overwrite)


def generate(spec: Spec | str | Path):
    """Yield validated rows as dicts, one cell at a time (nothing is held in memory)."""
    from .pipeline import generate as _generate

    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return _generate(spec)


def _task_rows(spec: dict[str, Any], task: str):
    """Rows of one task (a module-level generator, so `datasets` can pickle and fingerprint it)."""
    from .pipeline import generate as _generate
    from .spec import resolve

    raw = dict(spec)
    resolved = resolve({**raw, **raw.pop("options", {}), "tasks": [task]})
    yield from _generate(resolved)


def to_hf_dataset(spec_or_dir: Spec | str | Path):
    """A `datasets.DatasetDict` with one entry per task (config), for training pipelines.

    From a built folder, the Parquet shards are read. From a spec (or a YAML path), rows are
    generated on the fly with `Dataset.from_generator`, fingerprinted by the spec, so the
    datasets cache is reused for the same spec and never for another.
    """
    import datasets

    from .rows import schema_for

    if not isinstance(spec_or_dir, Spec) and Path(spec_or_dir).is_dir():
        folder = Path(spec_or_dir)
        from .inspect import read_manifest

        manifest = read_manifest(folder)
        return datasets.DatasetDict(
            {
                task: datasets.Dataset.from_parquet(sorted(str(p) for p in (folder / task).glob("*.parquet")))
                for task in manifest["spec"]["tasks"]
            }
        )
    spec = spec_or_dir if isinstance(spec_or_dir, Spec) else load_spec(spec_or_dir)
    split = get_generator_class(spec.generator).split
    features = _features(schema_for(split, bool(spec.options.get("input_ids"))))
    return datasets.DatasetDict(
        {
            task: datasets.Dataset.from_generator(
                _task_rows,
                features=features,
                gen_kwargs={"spec": spec.to_dict(), "task": task},
                fingerprint=f"longsynth-{spec.fingerprint()[:32]}-{task}",
                split=split,
            )
            for task in spec.tasks
        }
    )


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


def regenerate(spec: Spec, row_id: str) -> dict[str, Any]:
    """Regenerate the single row with this id; equal to the row a full build writes."""
    from .pipeline import cell_from_id, generate_row, make_generator

    return generate_row(make_generator(spec), cell_from_id(spec, row_id))


get_generator_class("needle")  # populate the registry with the built-in families

__all__ = ["REGISTRY", "LongsynthError", "Spec", "build", "generate", "load_spec", "regenerate", "to_hf_dataset"]
