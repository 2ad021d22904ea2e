"""longsynth: synthetic long-context datasets, token-exact and provably answerable.

Public API:
    load_spec(path, **overrides) -> Spec
    build(spec, output) -> Path            write a Hub-ready dataset folder
    generate(spec) -> Iterator[dict]       stream validated rows
    regenerate(spec, row_id) -> dict       rebuild one row from its id
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
    from .build import build as _build

    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return _build(spec, output, overwrite=overwrite)


def generate(spec: Spec | str | Path):
    """Yield validated rows as dicts, one cell at a time (nothing is held in memory)."""
    from .build import generate as _generate

    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return _generate(spec)


def regenerate(spec: Spec, row_id: str) -> dict[str, Any]:
    """Regenerate the single row with this id; equal to the row a full build writes."""
    from .build import cell_from_id, generate_row, make_generator

    return generate_row(make_generator(spec), cell_from_id(spec, row_id))


get_generator_class("needle")  # populate the registry with the built-in families

__all__ = ["REGISTRY", "LongsynthError", "Spec", "build", "generate", "load_spec", "regenerate"]
